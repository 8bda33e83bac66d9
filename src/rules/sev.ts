// What an AMD SEV (encrypted memory) guest needs from its request: the flavor and image agree
// on hw:mem_encryption, the model is amd-sev, UEFI firmware and no direct kernel boot, a q35
// machine, a boot disk on virtio, sata or virtio-scsi, no PCI passthrough. The API runs these
// rules on create, rebuild and resize (a refusal is its 400); the driver's SEV configurator runs
// the same rules again on what it builds (a refusal is the instance's 400 fault). What only the
// host knows (SEV-capable firmware, <sev> in the domain capabilities) the driver checks itself.
import { KestrelError } from '../errors/index.js';
import { isOsloTrue, strictOsloBool } from './boolean.js';
import { isQ35, type MachineTypeChoice } from './machine.js';

export interface GuestRequest {
  flavor: { name: string; extraSpecs: Readonly<Record<string, string>> };
  image: { id: string; name?: string | null; properties: Readonly<Record<string, string>> };
}

/** An image property, with '' read as unset (Glance keeps empty strings). */
export function imageProperty(req: GuestRequest, key: string): string | undefined {
  const v = req.image.properties[key];
  return v === undefined || v === '' ? undefined : v;
}

const imageLabel = (req: GuestRequest) =>
  req.image.name ? `${req.image.name} (${req.image.id})` : req.image.id;

const refuse = (message: string, fix: string) => new KestrelError('unsupported-config', message, { fix });

/**
 * Whether the request asks for encrypted memory (flavor hw:mem_encryption or image
 * hw_mem_encryption, oslo booleans); refused when the two are set and differ (Nova's
 * FlavorImageConflict) or one is not a boolean.
 */
export function memEncryptionRequested(req: GuestRequest): boolean {
  const f = req.flavor.extraSpecs['hw:mem_encryption'];
  const i = imageProperty(req, 'hw_mem_encryption');
  const fOn = strictOsloBool(f, `flavor ${req.flavor.name} extra spec hw:mem_encryption`);
  const iOn = strictOsloBool(i, `image ${imageLabel(req)} property hw_mem_encryption`);
  if (fOn !== undefined && iOn !== undefined && fOn !== iOn) {
    throw refuse(
      `Flavor ${req.flavor.name} has hw:mem_encryption extra spec explicitly set to ${f}, conflicting with image ` +
        `${imageLabel(req)} which has hw_mem_encryption property explicitly set to ${i}.`,
      'set both to the same value, or unset one of them.',
    );
  }
  return fOn === true || iOn === true;
}

/** Whether an existing guest runs with encrypted memory (lenient: a bad word reads as off). */
export function memEncryptionOn(
  flavorExtraSpecs: Readonly<Record<string, string>>,
  imageProperties: Readonly<Record<string, string>>,
): boolean {
  return (
    isOsloTrue(flavorExtraSpecs['hw:mem_encryption']) || isOsloTrue(imageProperties['hw_mem_encryption'])
  );
}

/** "flavor m1.sev and image cirros (id)": who asked for encryption, for messages. */
function requesters(req: GuestRequest): string {
  return [
    req.flavor.extraSpecs['hw:mem_encryption'] !== undefined ? `flavor ${req.flavor.name}` : '',
    imageProperty(req, 'hw_mem_encryption') !== undefined ? `image ${imageLabel(req)}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
}

/** Only AMD SEV: hw:mem_encryption_model / hw_mem_encryption_model is amd-sev or unset. */
export function sevModelRule(req: GuestRequest): void {
  const model =
    req.flavor.extraSpecs['hw:mem_encryption_model'] ?? imageProperty(req, 'hw_mem_encryption_model');
  if (model !== undefined && model !== 'amd-sev') {
    throw refuse(
      `Memory encryption model ${model} is not supported (requested by ${requesters(req)}): Kestrel runs AMD SEV guests only.`,
      'set hw:mem_encryption_model / hw_mem_encryption_model to amd-sev, or unset it.',
    );
  }
}

/** UEFI (OVMF) firmware from the disk: hw_firmware_type=uefi, and no direct kernel boot. */
export function sevFirmwareRule(req: GuestRequest, o: { directKernelBoot?: boolean } = {}): void {
  const fw = imageProperty(req, 'hw_firmware_type');
  if (fw !== 'uefi') {
    throw refuse(
      `Memory encryption requested by ${requesters(req)} but image ${imageLabel(req)} doesn't have 'hw_firmware_type' property ` +
        `set to 'uefi' (it is ${fw === undefined ? 'unset, meaning bios' : `'${fw}'`}); SEV guests boot only with OVMF.`,
      `openstack image set --property hw_firmware_type=uefi ${req.image.id}`,
    );
  }
  if (o.directKernelBoot) {
    throw refuse(
      `Memory encryption requested by ${requesters(req)} but image ${imageLabel(req)} boots a kernel directly ` +
        '(kernel_id); an SEV guest boots only through its UEFI firmware.',
      `boot from an image whose disk has a boot loader (unset kernel_id / ramdisk_id on ${req.image.id})`,
    );
  }
}

/**
 * The q35 machine type (SEV needs virtio devices behind PCIe). `machine` is the resolved choice
 * (resolveMachineType), its name canonical when the host's aliases are known.
 */
export function sevMachineRule(req: GuestRequest, machine: MachineTypeChoice): void {
  if (machine.machine !== undefined && !isQ35(machine.machine)) {
    throw new KestrelError(
      'invalid-machine-type',
      `Memory encryption requested by ${requesters(req)} needs the q35 machine type, but ${machine.source} ` +
        '(SEV needs virtio devices behind PCIe).',
      {
        fix: `openstack image set --property hw_machine_type=q35 ${req.image.id}, or the operator sets [libvirt] hw_machine_type = x86_64=q35`,
      },
    );
  }
}

/** The boot disk on virtio (default), sata, or scsi with the virtio-scsi controller. */
export function sevDiskBusRule(req: GuestRequest): void {
  const bus = imageProperty(req, 'hw_disk_bus') ?? 'virtio';
  if (bus === 'scsi') {
    const model = imageProperty(req, 'hw_scsi_model');
    if (model !== 'virtio-scsi') {
      throw refuse(
        `Memory encryption requested by ${requesters(req)} needs a SCSI boot disk on virtio-scsi, but image ${imageLabel(req)} has ` +
          `hw_disk_bus=scsi with hw_scsi_model=${model ?? '(unset)'}.`,
        `openstack image set --property hw_scsi_model=virtio-scsi ${req.image.id}`,
      );
    }
  } else if (bus !== 'virtio' && bus !== 'sata') {
    throw refuse(
      `Memory encryption requested by ${requesters(req)} needs the boot disk on virtio, sata, or scsi with virtio-scsi, ` +
        `but image ${imageLabel(req)} has hw_disk_bus=${bus}${bus === 'ide' ? ' (q35 has no IDE)' : ''}.`,
      `openstack image set --property hw_disk_bus=virtio ${req.image.id}`,
    );
  }
}

/** No PCI passthrough: a passed-through device cannot reach the guest's encrypted memory. */
export function sevPciRule(req: GuestRequest): void {
  const pci = req.flavor.extraSpecs['pci_passthrough:alias'];
  if (pci !== undefined) {
    throw refuse(
      `Memory encryption requested by ${requesters(req)} cannot be combined with PCI passthrough: flavor ${req.flavor.name} has ` +
        `pci_passthrough:alias=${pci}, and an SEV guest's encrypted memory cannot be reached by a passed-through device.`,
      'use a flavor without pci_passthrough:alias (unset it), or one without hw:mem_encryption.',
    );
  }
}

/**
 * Every request rule of an SEV guest, in one order for both sides: returns whether memory
 * encryption is requested; throws the first violated rule's refusal (a 400).
 */
export function checkSevRequest(
  req: GuestRequest,
  machine: MachineTypeChoice,
  o: { directKernelBoot?: boolean } = {},
): boolean {
  if (!memEncryptionRequested(req)) return false;
  sevModelRule(req);
  sevFirmwareRule(req, o);
  sevMachineRule(req, machine);
  sevDiskBusRule(req);
  sevPciRule(req);
  return true;
}
