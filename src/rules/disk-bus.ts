// The root disk's bus (image property hw_disk_bus): which buses a root disk may use, and which
// the machine type has.
import { KestrelError } from '../errors/index.js';
import { machineHasIde } from './machine.js';

export const ROOT_DISK_BUSES = ['virtio', 'scsi', 'sata', 'ide'] as const;
export type RootDiskBus = (typeof ROOT_DISK_BUSES)[number];

/** The root disk's bus from hw_disk_bus (default virtio); refused when the machine has no such bus. */
export function rootDiskBus(hwDiskBus: string | undefined, machine: string): RootDiskBus {
  const bus = hwDiskBus ?? 'virtio';
  if (!(ROOT_DISK_BUSES as readonly string[]).includes(bus)) {
    throw new KestrelError('unsupported-config', `hw_disk_bus=${bus} is not supported for the root disk`, {
      fix: 'use hw_disk_bus=virtio (default), scsi, sata or ide',
    });
  }
  if (bus === 'ide' && !machineHasIde(machine)) {
    throw new KestrelError(
      'unsupported-config',
      `hw_disk_bus=ide needs a machine type with an IDE controller; ${machine} (q35) has none`,
      { fix: 'use hw_disk_bus=sata (the q35 equivalent) or virtio, or hw_machine_type=pc' },
    );
  }
  return bus as RootDiskBus;
}

/** hw_scsi_model for a SCSI root disk: only virtio-scsi (or unset: the hypervisor's default). */
export function scsiModel(hwScsiModel: string | undefined): 'virtio-scsi' | undefined {
  if (hwScsiModel === undefined || hwScsiModel === 'virtio-scsi') return hwScsiModel;
  throw new KestrelError('unsupported-config', `hw_scsi_model=${hwScsiModel} is not supported`, {
    fix: 'use hw_scsi_model=virtio-scsi or leave it unset',
  });
}
