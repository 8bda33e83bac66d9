// AMD SEV (memory encryption) at the API: the request surface (flavor hw:mem_encryption,
// image hw_mem_encryption), every constraint an SEV guest has checked here as its own 400,
// and the operations an SEV guest refuses (409). Nova checks the machine type from config only
// on the compute host, where a miss becomes an unexplained "No valid host" (nova-facts §11);
// Kestrel checks it here, with the same default the driver will use.
import { KestrelError, badRequest, conflict } from '../errors/index.js';

const TRUE = new Set(['1', 't', 'true', 'on', 'y', 'yes']);
const FALSE = new Set(['0', 'f', 'false', 'off', 'n', 'no']);

/** The built-in machine types the driver falls back to (nova-facts §7.1). */
const BUILTIN_MACHINE_TYPES: Record<string, string> = {
  x86_64: 'pc',
  i686: 'pc',
  aarch64: 'virt',
  armv7l: 'virt',
  ppc64le: 'pseries',
  s390x: 's390-ccw-virtio',
};

export interface SevFlavor {
  name: string;
  extraSpecs: Record<string, string>;
}

export interface SevImage {
  id: string;
  name?: string | null;
  properties: Record<string, string>;
}

export interface SevHostDefaults {
  /** [libvirt] hw_machine_type, arch → machine type. */
  machineTypes?: Record<string, string>;
  /** The compute hosts' architecture, when the image does not name one (default x86_64). */
  hostArch?: string;
}

function parseBool(value: string, what: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw badRequest(
    `${what}=${value} is not a boolean. Fix: use true or false (yes/no, on/off, 1/0 also work).`,
  );
}

const imageLabel = (i: SevImage) => (i.name ? `${i.name} (${i.id})` : i.id);

/**
 * Whether the request asks for encrypted memory; the flavor and the image must agree when both
 * set it. Throws a 400 naming both when they differ (Nova's FlavorImageConflict).
 */
export function memEncryptionRequested(flavor: SevFlavor, image: SevImage): boolean {
  const f = flavor.extraSpecs['hw:mem_encryption'];
  const i = image.properties['hw_mem_encryption'];
  const fOn =
    f === undefined ? undefined : parseBool(f, `flavor ${flavor.name} extra spec hw:mem_encryption`);
  const iOn =
    i === undefined ? undefined : parseBool(i, `image ${imageLabel(image)} property hw_mem_encryption`);
  if (fOn !== undefined && iOn !== undefined && fOn !== iOn) {
    throw badRequest(
      `Flavor ${flavor.name} has hw:mem_encryption extra spec explicitly set to ${f}, conflicting with image ` +
        `${imageLabel(image)} which has hw_mem_encryption property explicitly set to ${i}. ` +
        'Fix: set both to the same value, or unset one of them.',
    );
  }
  return fOn === true || iOn === true;
}

/** The machine type the driver will use: the image's, else [libvirt] hw_machine_type, else built in. */
export function effectiveMachineType(
  image: SevImage,
  defaults: SevHostDefaults,
): { machine?: string; source: string } {
  const own = image.properties['hw_machine_type'];
  if (own) return { machine: own, source: `image property hw_machine_type=${own}` };
  const arch = image.properties['hw_architecture'] ?? defaults.hostArch ?? 'x86_64';
  const configured = defaults.machineTypes?.[arch];
  if (configured) return { machine: configured, source: `[libvirt] hw_machine_type ${arch}=${configured}` };
  const builtin = BUILTIN_MACHINE_TYPES[arch];
  return builtin
    ? {
        machine: builtin,
        source: `the default machine type for ${arch} (${builtin}; neither the image nor [libvirt] hw_machine_type set one)`,
      }
    : { source: `no machine type for ${arch}` };
}

/**
 * The whole SEV request check (create, rebuild, resize): returns whether memory encryption is
 * on; throws one 400 per violated constraint, naming the property and the value that works.
 */
export function validateMemoryEncryption(
  flavor: SevFlavor,
  image: SevImage,
  defaults: SevHostDefaults = {},
): boolean {
  if (!memEncryptionRequested(flavor, image)) return false;
  const img = imageLabel(image);
  const requesters = [
    flavor.extraSpecs['hw:mem_encryption'] !== undefined ? `flavor ${flavor.name}` : '',
    image.properties['hw_mem_encryption'] !== undefined ? `image ${img}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const model = flavor.extraSpecs['hw:mem_encryption_model'] ?? image.properties['hw_mem_encryption_model'];
  if (model !== undefined && model !== 'amd-sev') {
    throw badRequest(
      `Memory encryption model ${model} is not supported (requested by ${requesters}): Kestrel runs AMD SEV guests only. ` +
        'Fix: set hw:mem_encryption_model / hw_mem_encryption_model to amd-sev, or unset it.',
    );
  }
  const fw = image.properties['hw_firmware_type'];
  if (fw !== 'uefi') {
    throw badRequest(
      `Memory encryption requested by ${requesters} but image ${img} doesn't have 'hw_firmware_type' property ` +
        `set to 'uefi' (it is ${fw === undefined ? 'unset, meaning bios' : `'${fw}'`}); SEV guests boot only with OVMF. ` +
        `Fix: openstack image set --property hw_firmware_type=uefi ${image.id}`,
    );
  }
  const mt = effectiveMachineType(image, defaults);
  if (mt.machine !== undefined && !mt.machine.includes('q35')) {
    throw badRequest(
      `Memory encryption requested by ${requesters} needs the q35 machine type, but ${mt.source} ` +
        '(SEV needs virtio devices behind PCIe). ' +
        `Fix: openstack image set --property hw_machine_type=q35 ${image.id}, or the operator sets [libvirt] hw_machine_type = x86_64=q35`,
    );
  }
  const bus = image.properties['hw_disk_bus'] ?? 'virtio';
  if (bus === 'scsi') {
    const scsiModel = image.properties['hw_scsi_model'];
    if (scsiModel !== 'virtio-scsi') {
      throw badRequest(
        `Memory encryption requested by ${requesters} needs a SCSI boot disk on virtio-scsi, but image ${img} has ` +
          `hw_disk_bus=scsi with hw_scsi_model=${scsiModel ?? '(unset)'}. Fix: openstack image set --property hw_scsi_model=virtio-scsi ${image.id}`,
      );
    }
  } else if (bus !== 'virtio' && bus !== 'sata') {
    throw badRequest(
      `Memory encryption requested by ${requesters} needs the boot disk on virtio, sata, or scsi with virtio-scsi, ` +
        `but image ${img} has hw_disk_bus=${bus}${bus === 'ide' ? ' (q35 has no IDE)' : ''}. ` +
        `Fix: openstack image set --property hw_disk_bus=virtio ${image.id}`,
    );
  }
  const pci = flavor.extraSpecs['pci_passthrough:alias'];
  if (pci !== undefined) {
    throw badRequest(
      `Memory encryption requested by ${requesters} cannot be combined with PCI passthrough: flavor ${flavor.name} has ` +
        `pci_passthrough:alias=${pci}, and an SEV guest's encrypted memory cannot be reached by a passed-through device. ` +
        'Fix: use a flavor without pci_passthrough:alias (unset it), or one without hw:mem_encryption.',
    );
  }
  return true;
}

/** Whether an existing instance runs with encrypted memory (its flavor snapshot and image). */
export function isSevInstance(
  flavorExtraSpecs: Record<string, string>,
  imageProperties: Record<string, string>,
): boolean {
  const on = (v: string | undefined) => v !== undefined && TRUE.has(v.trim().toLowerCase());
  return on(flavorExtraSpecs['hw:mem_encryption']) || on(imageProperties['hw_mem_encryption']);
}

/**
 * Server actions an SEV guest cannot do (Nova's reject_sev_instances): its memory is encrypted
 * with a key that lives in this host's secure processor, so it can neither be saved to disk
 * (suspend) nor copied live to another host. Cold migration, shelve and snapshot stay allowed.
 */
export const SEV_REFUSED_ACTIONS: Readonly<Record<string, string>> = {
  suspend: 'suspend',
  'os-migrateLive': 'live-migration',
};

/** The 409 for an action an SEV instance refuses, or undefined when the action is allowed. */
export function sevActionRefusal(
  action: string,
  instanceUuid: string,
  flavorExtraSpecs: Record<string, string>,
  imageProperties: Record<string, string>,
): KestrelError | undefined {
  const op = SEV_REFUSED_ACTIONS[action];
  if (op === undefined || !isSevInstance(flavorExtraSpecs, imageProperties)) return undefined;
  const fix =
    op === 'suspend'
      ? 'Fix: stop the instance (os-stop) instead; it keeps its disk and boots again on start.'
      : 'Fix: stop the instance and cold-migrate it (migrate) instead.';
  return conflict(
    `Operation '${op}' is not supported for an SEV-enabled instance (${instanceUuid}): its memory is encrypted ` +
      `with a key held by this host's AMD secure processor, so it cannot be saved or moved while running. ${fix}`,
  );
}

/** For the action path: throws the 409 when an SEV instance asks for a refused action. */
export async function refuseSevAction(
  action: string,
  inst: { uuid: string; imageId: string; flavor: { extraSpecs: Record<string, string> } },
  imageProperties: (imageId: string) => Promise<Record<string, string> | undefined>,
): Promise<void> {
  if (SEV_REFUSED_ACTIONS[action] === undefined) return;
  const props = (await imageProperties(inst.imageId).catch(() => undefined)) ?? {};
  const refusal = sevActionRefusal(action, inst.uuid, inst.flavor.extraSpecs, props);
  if (refusal) throw refusal;
}
