// The configurator list: one per concern, run in this order over an empty Domain.
// EXTENSION POINT: later concerns (SEV memory encryption: configure/sev.ts) add themselves to
// CONFIGURATORS here, after firmware and disks (SEV checks the machine type, UEFI loader and
// boot-disk bus they chose) and before rendering; usb stays last (it looks at every device).
// Nothing else needs to change.
import { KestrelError } from '../../../errors/index.js';
import { VirtError } from '../../errors.js';
import { emptyDomain, type Domain } from '../domain/types.js';
import { agentConfigurator } from './agent.js';
import { bootConfigurator } from './boot.js';
import { configDriveConfigurator } from './config-drive.js';
import { consoleConfigurator } from './console.js';
import type { BuildContext, Configurator } from './context.js';
import { cpuConfigurator } from './cpu.js';
import { diskConfigurator } from './disks.js';
import { firmwareConfigurator } from './firmware.js';
import { graphicsConfigurator } from './graphics.js';
import { identityConfigurator } from './identity.js';
import { machineConfigurator } from './machine.js';
import { nicConfigurator } from './nic.js';
import { numaConfigurator } from './numa.js';
import { sevConfigurator } from './sev.js';
import { usbConfigurator } from './usb.js';

export const CONFIGURATORS: readonly Configurator[] = [
  identityConfigurator,
  machineConfigurator,
  consoleConfigurator,
  firmwareConfigurator,
  bootConfigurator,
  cpuConfigurator,
  numaConfigurator,
  diskConfigurator,
  configDriveConfigurator,
  agentConfigurator,
  nicConfigurator,
  graphicsConfigurator,
  sevConfigurator,
  usbConfigurator, // last: it looks at every device the others added
];

/** Runs every configurator; an error names the concern that refused. */
export async function buildDomain(
  ctx: BuildContext,
  configurators: readonly Configurator[] = CONFIGURATORS,
): Promise<Domain> {
  const dom = emptyDomain(ctx.domainName, ctx.spec.uuid, ctx.policy.virtType);
  for (const c of configurators) {
    try {
      await c.configure(ctx, dom);
    } catch (e) {
      if (e instanceof KestrelError) throw e; // a rule's or the host's refusal, with its fix
      throw new VirtError(
        'unsupported-config',
        `building the guest's ${c.name} configuration failed: ${(e as Error).message}`,
        {
          fix: 'check the flavor extra specs and image properties',
          cause: e,
        },
      );
    }
  }
  return dom;
}

export type { BuildContext, Configurator, GuestPolicy, HostFacts, CpuMode } from './context.js';
