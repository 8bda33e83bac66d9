// The serial console: a pty whose output QEMU also copies into the console log file (`<log>`),
// so `console log show` reads the log whether or not anyone is attached, and the console proxy
// attaches through libvirt's console stream (virDomainOpenConsole works on pty chardevs).
// Also ACPI + APIC so guests can power themselves off and the ACPI shutdown works, a memory
// balloon with stats, and a virtio RNG fed from /dev/urandom.
import type { Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';

export const consoleConfigurator: Configurator = {
  name: 'console',
  configure(ctx: BuildContext, dom: Domain): void {
    // append off: QEMU starts the log afresh when the guest (re)starts, as the file chardev did.
    dom.devices.serials.push({ type: 'pty', log: { file: ctx.spec.consoleLogPath, append: false }, port: 0 });
    dom.features.acpi = true;
    dom.features.apic = true;
    dom.devices.memballoon = { model: 'virtio', statsPeriod: 10 };
    dom.devices.rngs.push({ model: 'virtio', backend: '/dev/urandom' });
  },
};

/** The console log file of a (parsed) definition: the pty's `<log>`, or an older file chardev. */
export function consoleLogFile(dom: Domain): string | undefined {
  for (const s of dom.devices.serials) {
    if (s.log?.file) return s.log.file;
    if (s.type === 'file' && s.path) return s.path;
  }
  return undefined;
}
