// AMD SEV memory encryption: when the flavor (hw:mem_encryption) or image
// (hw_mem_encryption) asks for it, the guest gets <launchSecurity type='sev'> with policy
// 0x0033 and the host's cbitpos / reducedPhysBits, locked memory, and iommu='on' on every
// virtio device (virtio 1.0 devices must use the platform IOMMU to reach encrypted memory).
// It runs last: it checks what machine, firmware, disks, agent and nic chose by the rule book the
// API uses (src/rules/sev.ts), then what only this host knows (SEV-capable firmware, <sev> in
// the domain capabilities), and refuses (never silently drops encryption) when either fails.
import type { InstanceSpec } from '../../driver.js';
import { VirtError } from '../../errors.js';
import type { Domain } from '../domain/types.js';
import type { FirmwareDescriptor } from '../firmware-descriptors.js';
import {
  checkSevRequest,
  memEncryptionOn,
  memEncryptionRequested,
  type GuestRequest,
} from '../../../rules/sev.js';
import type { BuildContext, Configurator } from './context.js';
import { canonicalMachine, machineTypeChoice } from './machine.js';

/** NODBG 0x1 | NOKS 0x2 | DOMAIN 0x10 | SEV 0x20: no debugging, no key sharing. */
export const SEV_POLICY = '0x0033';

/** The rule book's view of this guest's request. */
function request(ctx: BuildContext): GuestRequest {
  return { flavor: ctx.spec.flavor, image: ctx.spec.image };
}

/** Whether the guest asks for encrypted memory; the flavor and image must agree when both set it. */
export function wantsMemEncryption(ctx: BuildContext): boolean {
  return memEncryptionRequested(request(ctx));
}

function sevFirmware(ctx: BuildContext, dom: Domain, machine: string): FirmwareDescriptor | undefined {
  const secure = dom.os.loader?.secure === true;
  const chosen = ctx.host.firmware.find((d) => d.executable === dom.os.loader?.path);
  if (chosen?.features.includes('amd-sev')) return chosen;
  // The firmware configurator's pick cannot launch an encrypted guest: take an SEV-capable build.
  return ctx.host.firmware.find(
    (d) =>
      d.interfaceTypes.includes('uefi') &&
      d.device === 'flash' &&
      d.features.includes('amd-sev') &&
      d.features.includes('secure-boot') === secure &&
      d.targets.some((t) => t.architecture === dom.os.arch && t.machines.some((m) => matches(m, machine))),
  );
}

function matches(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(value);
}

/** Marks every virtio device of the domain iommu='on' (designer.set_driver_iommu_for_sev). */
export function setVirtioIommu(dom: Domain): void {
  const d = dom.devices;
  for (const disk of d.disks) if (disk.target.bus === 'virtio') disk.driver.iommu = true;
  for (const c of d.controllers) {
    if ((c.type === 'scsi' && c.model === 'virtio-scsi') || c.type === 'virtio-serial') c.iommu = true;
  }
  for (const n of d.interfaces) if (n.model === 'virtio') n.iommu = true;
  if (d.memballoon?.model === 'virtio') d.memballoon.iommu = true;
  for (const r of d.rngs) if (r.model === 'virtio') r.iommu = true;
}

export const sevConfigurator: Configurator = {
  name: 'sev',
  async configure(ctx: BuildContext, dom: Domain): Promise<void> {
    const machine = canonicalMachine(ctx, dom.os.machine);
    // The request rules the API checked already, on what was built (the machine's canonical name).
    const choice = machineTypeChoice(ctx);
    if (!checkSevRequest(request(ctx), { ...choice, machine }, { directKernelBoot: Boolean(dom.os.kernel) }))
      return;
    if (!dom.os.loader) {
      throw new VirtError('firmware-not-found', 'an SEV guest needs UEFI firmware, and none was chosen', {
        fix: 'install OVMF (Debian: ovmf) and set the image property hw_firmware_type=uefi',
      });
    }
    const fw = sevFirmware(ctx, dom, machine);
    if (!fw) {
      throw new VirtError(
        'firmware-not-found',
        `no SEV-capable UEFI firmware (feature amd-sev) for ${dom.os.arch} ${machine}`,
        {
          fix: 'install an OVMF build with SEV support (Debian: ovmf; descriptor 60-edk2-x86_64.json lists amd-sev)',
        },
      );
    }
    if (fw.executable !== dom.os.loader.path) {
      dom.os.loader = { ...dom.os.loader, path: fw.executable };
      if (dom.os.nvram) dom.os.nvram = { ...dom.os.nvram, template: fw.nvramTemplate };
    }
    const caps = await ctx.host.sevCapabilities?.(dom.os.arch, machine);
    if (!caps?.supported) {
      throw new VirtError(
        'unsupported-config',
        `Guest config could not be built without domain capabilities including <sev> feature (${dom.os.arch} ${machine}): this host cannot run SEV guests`,
        {
          fix: 'schedule SEV guests only to SEV hosts (MEM_ENCRYPTION_CONTEXT inventory); check `kestrel doctor` on this host',
        },
      );
    }
    dom.launchSecurity = {
      type: 'sev',
      policy: SEV_POLICY,
      cbitpos: caps.cbitpos,
      reducedPhysBits: caps.reducedPhysBits,
    };
    // SEV pins guest memory: it must be locked, and never swapped or ballooned away.
    dom.memoryBacking = { ...dom.memoryBacking, locked: true };
    setVirtioIommu(dom);
  },
};

/** Whether an instance request runs with encrypted memory (flavor or image; no errors here). */
export function specWantsMemEncryption(spec: InstanceSpec): boolean {
  return memEncryptionOn(spec.flavor.extraSpecs, spec.image.properties);
}

/** The drivers' refusal (the API refuses first, with a 409): Nova's OperationNotSupportedForSEV. */
export function sevOperationConflict(uuid: string, operation: 'suspend' | 'live migration'): VirtError {
  return new VirtError(
    'invalid-state',
    `Operation '${operation === 'suspend' ? 'suspend' : 'live-migration'}' is not supported for an SEV-enabled instance (${uuid}): ` +
      "its memory is encrypted with a key held by this host's AMD secure processor",
    {
      fix:
        operation === 'suspend'
          ? 'stop the instance instead'
          : 'stop the instance and cold-migrate it instead',
    },
  );
}
