// AMD SEV (memory encryption) at the API: the request surface (flavor hw:mem_encryption,
// image hw_mem_encryption), every rule of src/rules/sev.ts checked here as its own 400 (the
// driver runs the same rules), and the operations an SEV guest refuses (409). Nova checks the machine type from config only
// on the compute host, where a miss becomes an unexplained "No valid host";
// Kestrel checks it here, with the same default the driver will use.
import { KestrelError, conflict } from '../errors/index.js';
import { resolveMachineType, type MachineTypeChoice } from '../rules/machine.js';
import * as rules from '../rules/sev.js';

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

/** Whether the request asks for encrypted memory (a 400 when flavor and image disagree). */
export function memEncryptionRequested(flavor: SevFlavor, image: SevImage): boolean {
  return rules.memEncryptionRequested({ flavor, image });
}

/** The machine type the driver will use: the image's, else [libvirt] hw_machine_type, else built in. */
export function effectiveMachineType(image: SevImage, defaults: SevHostDefaults): MachineTypeChoice {
  return resolveMachineType({
    image: image.properties['hw_machine_type'] || undefined,
    arch: image.properties['hw_architecture'] || defaults.hostArch || 'x86_64',
    configured: defaults.machineTypes,
  });
}

/**
 * The whole SEV request check (create, rebuild, resize), by the rule book the driver uses too:
 * returns whether memory encryption is on; throws one 400 per violated rule, naming the
 * property and the value that works.
 */
export function validateMemoryEncryption(
  flavor: SevFlavor,
  image: SevImage,
  defaults: SevHostDefaults = {},
): boolean {
  return rules.checkSevRequest({ flavor, image }, effectiveMachineType(image, defaults), {
    directKernelBoot: Boolean(image.properties['kernel_id']),
  });
}

/** Whether an existing instance runs with encrypted memory (its flavor snapshot and image). */
export function isSevInstance(
  flavorExtraSpecs: Record<string, string>,
  imageProperties: Record<string, string>,
): boolean {
  return rules.memEncryptionOn(flavorExtraSpecs, imageProperties);
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
