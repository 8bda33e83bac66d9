// The config drive: a read-only cdrom (ISO 9660) on a bus the machine type has — SATA on q35,
// IDE on i440fx, virtio-scsi elsewhere — or, for VFAT, a read-only disk on the root disk's bus
// (Nova attaches the two formats the same way). The file itself is built by the compute side.
import type { DiskDevice, Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';
import { isQ35, machineHasIde } from '../../../rules/machine.js';
import { guestRootDiskBus } from './disks.js';
import { canonicalMachine } from './machine.js';

type Bus = DiskDevice['target']['bus'];
const PREFIX: Record<Bus, string> = { virtio: 'vd', scsi: 'sd', sata: 'sd', ide: 'hd', usb: 'sd' };

/** The bus a cdrom goes on for this machine type. */
export function cdromBus(canonical: string): Bus {
  if (isQ35(canonical)) return 'sata';
  if (machineHasIde(canonical)) return 'ide';
  return 'scsi';
}

/** The next free target name on a bus (sda, sdb … share one namespace across sata and scsi). */
function nextTarget(dom: Domain, bus: Bus): string {
  const prefix = PREFIX[bus];
  const used = new Set(dom.devices.disks.map((d) => d.target.dev));
  for (let i = 0; i < 26; i++) {
    const dev = `${prefix}${String.fromCharCode(97 + i)}`;
    if (!used.has(dev)) return dev;
  }
  throw new Error(`no free ${bus} target name for the config drive`);
}

export const configDriveConfigurator: Configurator = {
  name: 'config drive',
  configure(ctx: BuildContext, dom: Domain): void {
    const drive = ctx.spec.configDrive;
    if (!drive) return;
    const iso = drive.format === 'iso9660';
    const bus = iso ? cdromBus(canonicalMachine(ctx, dom.os.machine)) : guestRootDiskBus(ctx, dom.os.machine);
    if (bus === 'scsi' && !dom.devices.controllers.some((c) => c.type === 'scsi')) {
      dom.devices.controllers.push({ type: 'scsi', index: 0, model: 'virtio-scsi' });
    }
    dom.devices.disks.push({
      type: 'file',
      file: drive.path,
      device: iso ? 'cdrom' : 'disk',
      driver: { name: 'qemu', type: 'raw' },
      target: { dev: nextTarget(dom, bus), bus },
      readonly: true,
    });
  },
};
