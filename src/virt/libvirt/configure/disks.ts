// The root disk, from the DiskSource the disk backend created: file, block or RBD. Bus from
// hw_disk_bus: virtio (default), scsi (with hw_scsi_model=virtio-scsi), sata, ide (i440fx only).
import type { DiskSource } from '../../driver.js';
import { VirtError } from '../../errors.js';
import type { DiskDevice, Domain } from '../domain/types.js';
import { imageProp, type BuildContext, type Configurator } from './context.js';
import { canonicalMachine, machineHasIde } from './machine.js';

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

export function rootDiskBus(ctx: BuildContext, machine: string): Bus {
  const bus = (imageProp(ctx, 'hw_disk_bus') ?? 'virtio') as Bus;
  if (!['virtio', 'scsi', 'sata', 'ide'].includes(bus)) {
    throw new VirtError('unsupported-config', `hw_disk_bus=${bus} is not supported for the root disk`, {
      fix: 'use hw_disk_bus=virtio (default), scsi, sata or ide',
    });
  }
  if (bus === 'ide' && !machineHasIde(canonicalMachine(ctx, machine))) {
    throw new VirtError(
      'unsupported-config',
      `hw_disk_bus=ide needs a machine type with an IDE controller; ${machine} (q35) has none`,
      { fix: 'use hw_disk_bus=sata (the q35 equivalent) or virtio, or hw_machine_type=pc' },
    );
  }
  return bus;
}

export const diskConfigurator: Configurator = {
  name: 'disks',
  configure(ctx: BuildContext, dom: Domain): void {
    const bus = rootDiskBus(ctx, dom.os.machine);
    if (bus === 'scsi') {
      const model = imageProp(ctx, 'hw_scsi_model');
      if (model !== undefined && model !== 'virtio-scsi') {
        throw new VirtError('unsupported-config', `hw_scsi_model=${model} is not supported`, {
          fix: 'use hw_scsi_model=virtio-scsi or leave it unset',
        });
      }
      dom.devices.controllers.push({
        type: 'scsi',
        index: 0,
        model: model === 'virtio-scsi' ? 'virtio-scsi' : undefined,
      });
    }
    const disk = {
      ...source(ctx.spec.rootDisk),
      device: 'disk',
      target: { dev: `${PREFIX[bus]}a`, bus },
    } as DiskDevice;
    dom.devices.disks.push(disk);
  },
};
