// Shared inputs for the domain-building tests: a recorded host (this machine's capabilities,
// QEMU's firmware descriptors and baseline-expanded CPU models) and a plain instance request.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/util/log.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import type { BuildContext, GuestPolicy, HostFacts } from '../../src/virt/libvirt/configure/index.js';
import { parseFirmwareDescriptor } from '../../src/virt/libvirt/firmware-descriptors.js';
import { readdirSync } from 'node:fs';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/domains');

interface RecordedHost {
  arch: string;
  emulator: string;
  hostCpuModel: string;
  hostCpuFeatures: string[];
  machineTypes: Record<string, string>;
  cpuModelFeatures: Record<string, string[]>;
}

export const recordedHost = JSON.parse(
  readFileSync(join(FIXTURES, 'host-facts.json'), 'utf8'),
) as RecordedHost;

export function fixtureHost(over: Partial<HostFacts> = {}): HostFacts {
  const fwDir = join(FIXTURES, 'firmware');
  const firmware = readdirSync(fwDir)
    .sort()
    .map((f) => parseFirmwareDescriptor(f, readFileSync(join(fwDir, f), 'utf8'))!)
    .map((d) => d);
  return {
    arch: recordedHost.arch,
    emulator: recordedHost.emulator,
    machineTypes: recordedHost.machineTypes,
    hasVhostNet: false,
    hostCpuFeatures: recordedHost.hostCpuFeatures,
    firmware,
    cpuModelFeatures: (model) => Promise.resolve(recordedHost.cpuModelFeatures[model]),
    ...over,
  };
}

export function basePolicy(over: Partial<GuestPolicy> = {}): GuestPolicy {
  return {
    virtType: 'qemu',
    cpuModels: [],
    cpuExtraFlags: [],
    machineTypes: {},
    nvramDir: '/var/lib/libvirt/qemu/nvram',
    ...over,
  };
}

export const UUID = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

export function baseSpec(over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    uuid: UUID,
    displayName: 'web <1> & "db"',
    projectId: 'c0ffee00c0ffee00c0ffee00c0ffee00',
    flavor: { id: '42', name: 'm1.tiny', vcpus: 1, memoryMb: 64, rootGb: 1, extraSpecs: {} },
    image: {
      id: '0e7a1b2c-0000-4000-8000-000000000001',
      name: 'cirros',
      diskFormat: 'qcow2',
      properties: {},
    },
    rootDisk: { kind: 'file', path: `/var/lib/kestrel/instances/${UUID}/disk`, format: 'qcow2' },
    consoleLogPath: `/var/lib/kestrel/instances/${UUID}/console.log`,
    network: { kind: 'none' },
    ...over,
  };
}

export function context(
  spec: InstanceSpec = baseSpec(),
  policy: GuestPolicy = basePolicy(),
  host: HostFacts = fixtureHost(),
): BuildContext {
  return {
    spec,
    policy,
    host,
    domainName: `instance-${spec.uuid}`,
    createdAt: '2026-01-02T03:04:05.000Z',
    log: silentLogger,
  };
}

export function withImageProps(
  props: Record<string, string>,
  over: Partial<InstanceSpec> = {},
): InstanceSpec {
  const s = baseSpec(over);
  return { ...s, image: { ...s.image, properties: props } };
}

export function withExtraSpecs(extra: Record<string, string>, vcpus = 1): InstanceSpec {
  const s = baseSpec();
  return { ...s, flavor: { ...s.flavor, vcpus, extraSpecs: extra } };
}
