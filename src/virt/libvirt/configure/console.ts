// Serial console to a log file (console output reads its tail), ACPI + APIC so guests can
// power themselves off and the ACPI shutdown works, a memory balloon with stats, and a
// virtio RNG fed from /dev/urandom.
import type { Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';

export const consoleConfigurator: Configurator = {
  name: 'console',
  configure(ctx: BuildContext, dom: Domain): void {
    dom.devices.serials.push({ type: 'file', path: ctx.spec.consoleLogPath, port: 0 });
    dom.features.acpi = true;
    dom.features.apic = true;
    dom.devices.memballoon = { model: 'virtio', statsPeriod: 10 };
    dom.devices.rngs.push({ model: 'virtio', backend: '/dev/urandom' });
  },
};
