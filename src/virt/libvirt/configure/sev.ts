// AMD SEV memory encryption (nova-facts §6.5): when the flavor (hw:mem_encryption) or image
// (hw_mem_encryption) asks for it, the guest gets <launchSecurity type='sev'> with policy
// 0x0033 and the host's cbitpos / reducedPhysBits, locked memory, and iommu='on' on every
// virtio device (virtio 1.0 devices must use the platform IOMMU to reach encrypted memory).
// It runs last: it checks what machine, firmware, disks, agent and nic chose, and refuses
// (never silently drops encryption) when the host or the request cannot give an SEV guest.
import type { InstanceSpec } from '../../driver.js';
import { VirtError } from '../../errors.js';
import type { Domain } from '../domain/types.js';
import type { FirmwareDescriptor } from '../firmware-descriptors.js';
import { flexibleBool, imageProp, type BuildContext, type Configurator } from './context.js';
import { canonicalMachine, isQ35 } from './machine.js';

/** NODBG 0x1 | NOKS 0x2 | DOMAIN 0x10 | SEV 0x20: no debugging, no key sharing. */
export const SEV_POLICY = '0x0033';

/** Whether the guest asks for encrypted memory; the flavor and image must agree when both set it. */
export function wantsMemEncryption(ctx: BuildContext): boolean {
  let flavor: boolean | undefined;
  let image: boolean | undefined;
  try {
    flavor = flexibleBool(ctx.spec.flavor.extraSpecs['hw:mem_encryption'], 'hw:mem_encryption');
    image = flexibleBool(imageProp(ctx, 'hw_mem_encryption'), 'hw_mem_encryption');
  } catch (e) {
    throw new VirtError('unsupported-config', (e as Error).message, {
      fix: 'set hw:mem_encryption / hw_mem_encryption to true or false',
    });
  }
  if (flavor !== undefined && image !== undefined && flavor !== image) {
    throw new VirtError(
      'unsupported-config',
      `flavor ${ctx.spec.flavor.name} sets hw:mem_encryption=${String(flavor)} but image ${ctx.spec.image.id} sets hw_mem_encryption=${String(image)}`,
      { fix: 'set both to the same value, or unset one of them' },
    );
  }
  return flavor === true || image === true;
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
    if (!wantsMemEncryption(ctx)) return;
    const pci = ctx.spec.flavor.extraSpecs['pci_passthrough:alias'];
    if (pci !== undefined) {
      throw new VirtError(
        'unsupported-config',
        `an SEV guest cannot have PCI passthrough (pci_passthrough:alias=${pci})`,
        {
          fix: 'use a flavor without pci_passthrough:alias, or without hw:mem_encryption',
        },
      );
    }
    const machine = canonicalMachine(ctx, dom.os.machine);
    if (!isQ35(machine)) {
      throw new VirtError(
        'invalid-machine-type',
        `an SEV guest needs the q35 machine type, not ${dom.os.machine}`,
        {
          fix: 'set the image property hw_machine_type=q35, or [libvirt] hw_machine_type = x86_64=q35',
        },
      );
    }
    if (!dom.os.loader || dom.os.kernel) {
      throw new VirtError(
        'unsupported-config',
        dom.os.kernel
          ? 'an SEV guest cannot use direct kernel boot here'
          : 'an SEV guest needs UEFI firmware',
        { fix: 'set the image property hw_firmware_type=uefi and boot from the disk' },
      );
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
    const root = dom.devices.disks[0];
    if (root && root.target.bus !== 'virtio' && root.target.bus !== 'sata' && root.target.bus !== 'scsi') {
      throw new VirtError('unsupported-config', `an SEV guest's boot disk cannot be on ${root.target.bus}`, {
        fix: 'set the image property hw_disk_bus=virtio (or sata, or scsi with hw_scsi_model=virtio-scsi)',
      });
    }
    const scsi = dom.devices.controllers.find((c) => c.type === 'scsi');
    if (root?.target.bus === 'scsi' && scsi?.model !== 'virtio-scsi') {
      throw new VirtError(
        'unsupported-config',
        "an SEV guest's SCSI boot disk needs the virtio-scsi controller",
        {
          fix: 'set the image property hw_scsi_model=virtio-scsi',
        },
      );
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
  const on = (v: string | undefined) =>
    v !== undefined && ['1', 't', 'true', 'on', 'y', 'yes'].includes(v.trim().toLowerCase());
  return on(spec.flavor.extraSpecs['hw:mem_encryption']) || on(spec.image.properties['hw_mem_encryption']);
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
