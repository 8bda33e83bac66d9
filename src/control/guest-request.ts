// The guest-requirement rules (src/rules/) at the API, on create and rebuild: what the driver
// would refuse at build time is a 400 now, with the same message and fix. SEV first (its
// messages name the SEV reason), then the root disk's bus for the machine type the guest gets.
import { rootDiskBus, scsiModel } from '../rules/disk-bus.js';
import {
  effectiveMachineType,
  validateMemoryEncryption,
  type SevFlavor,
  type SevHostDefaults,
  type SevImage,
} from './sev.js';

/** Checks the request against the rule book; returns whether memory encryption is on. */
export function validateGuestRequest(
  flavor: SevFlavor,
  image: SevImage,
  defaults: SevHostDefaults = {},
): boolean {
  const sev = validateMemoryEncryption(flavor, image, defaults);
  const machine = effectiveMachineType(image, defaults).machine;
  const prop = (k: string) => image.properties[k] || undefined;
  if (machine !== undefined && rootDiskBus(prop('hw_disk_bus'), machine) === 'scsi')
    scsiModel(prop('hw_scsi_model'));
  return sev;
}
