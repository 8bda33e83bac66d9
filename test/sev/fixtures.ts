// Shared SEV test inputs: the recorded Milan SEV host (domain capabilities through the real
// per-(arch, machine) cache) on top of the virt tests' recorded host, and SEV instance requests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGURATORS } from '../../src/virt/libvirt/configure/index.js';
import { SevHostCapabilities } from '../../src/host/sev.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import { baseSpec, fixtureHost } from '../virt/fixtures.js';

export const SEV_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'sev');
/** The driver's own configurator list (sev runs last there). */
export const SEV_CONFIGURATORS = CONFIGURATORS;

/** The recorded Milan host: domain capabilities per machine type through the real cache. */
export function sevHost(file = 'domcaps-epyc-milan') {
  const caps = new SevHostCapabilities(async (_arch, machine) =>
    readFileSync(join(SEV_FIXTURES, `${file}-${machine.includes('q35') ? 'q35' : 'pc'}.xml`), 'utf8'),
  );
  return fixtureHost({ sevCapabilities: (arch, machine) => caps.forMachine(arch, machine) });
}

export function sevSpec(
  props: Record<string, string>,
  extraSpecs: Record<string, string> = {},
  over: Partial<InstanceSpec> = {},
): InstanceSpec {
  const s = baseSpec({ network: { kind: 'libvirt-network', name: 'default' }, ...over });
  return {
    ...s,
    flavor: { ...s.flavor, memoryMb: 512, extraSpecs },
    image: { ...s.image, properties: props },
  };
}
