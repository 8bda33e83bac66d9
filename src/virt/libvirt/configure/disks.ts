// The root disk, from the DiskSource the disk backend created: file, block or RBD. Bus from
// hw_disk_bus by the rule book (src/rules/disk-bus.ts): virtio (default), scsi (with
// hw_scsi_model=virtio-scsi), sata, ide (i440fx only).
import type { DiskSource } from '../../../disks/source.js';
import { rootDiskBus, scsiModel } from '../../../rules/disk-bus.js';
import type { DiskDevice, Domain } from '../domain/types.js';
import { imageProp, type BuildContext, type Configurator } from './context.js';
import { canonicalMachine } from './machine.js';

type Bus = DiskDevice['target']['bus'];
const PREFIX: Record<Bus, string> = { virtio: 'vd', scsi: 'sd', sata: 'sd', ide: 'hd', usb: 'sd' };

function source(src: DiskSource): Pick<DiskDevice, 'type' | 'driver'> & Record<string, unknown> {
  switch (src.kind) {
    case 'file':
      return { type: 'file', file: src.path, driver: { name: 'qemu', type: src.format } };
    case 'block':
      return {
        type: 'block',
        dev: src.path,
        driver: { name: 'qemu', type: 'raw', cache: 'none', io: 'native' },
      };
    case 'rbd':
      return {
        type: 'network',
        protocol: 'rbd',
        name: `${src.pool}/${src.image}`,
        hosts: src.monitors.map((m) => ({ name: m.host, port: m.port })),
        auth: src.secretUuid
          ? { username: src.user, secretType: 'ceph', secretUuid: src.secretUuid }
          : undefined,
        driver: { name: 'qemu', type: 'raw', cache: 'writeback', discard: 'unmap' },
      };
  }
}

/** The root disk's bus by the rule book, for this guest's (canonical) machine type. */
export function guestRootDiskBus(ctx: BuildContext, machine: string): Bus {
  return rootDiskBus(imageProp(ctx, 'hw_disk_bus'), canonicalMachine(ctx, machine));
}

export const diskConfigurator: Configurator = {
  name: 'disks',
  configure(ctx: BuildContext, dom: Domain): void {
    const bus = guestRootDiskBus(ctx, dom.os.machine);
    if (bus === 'scsi') {
      dom.devices.controllers.push({
        type: 'scsi',
        index: 0,
        model: scsiModel(imageProp(ctx, 'hw_scsi_model')),
      });
    }
    const disk = {
      ...source(ctx.spec.rootDisk),
      device: 'disk',
      target: { dev: `${PREFIX[bus]}a`, bus },
    } as DiskDevice;
    dom.devices.disks.push(disk);
    // The flavor's ephemeral (vdb) and swap (vdc) disks, on the root disk's bus (Nova's layout).
    (ctx.spec.localDisks ?? []).forEach((local, i) => {
      dom.devices.disks.push({
        ...source(local.source),
        device: 'disk',
        target: { dev: `${PREFIX[bus]}${String.fromCharCode('b'.charCodeAt(0) + i)}`, bus },
      } as DiskDevice);
    });
  },
};
