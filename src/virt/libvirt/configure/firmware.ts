// Firmware: BIOS (SeaBIOS, libvirt's default) or UEFI (OVMF chosen from QEMU's firmware
// descriptors). Secure Boot stays off unless the image/flavor requires it: the enrolled-keys
// build refuses unsigned loaders (OVMF stops with "Security Violation"). Each instance gets its
// own NVRAM file (removed with the instance), so stale variables never carry over.
import { join } from 'node:path';
import { VirtError } from '../../errors.js';
import type { Domain } from '../domain/types.js';
import { selectUefiFirmware } from '../firmware-descriptors.js';
import { imageProp, type BuildContext, type Configurator } from './context.js';
import { canonicalMachine } from './machine.js';

export function nvramPathFor(nvramDir: string, domainName: string): string {
  return join(nvramDir, `${domainName}_VARS.fd`);
}

export function wantsSecureBoot(ctx: BuildContext): boolean {
  const img = imageProp(ctx, 'os_secure_boot');
  const flv = ctx.spec.flavor.extraSpecs['os:secure_boot'];
  return img === 'required' || flv === 'required';
}

export const firmwareConfigurator: Configurator = {
  name: 'firmware',
  configure(ctx: BuildContext, dom: Domain): void {
    const type = imageProp(ctx, 'hw_firmware_type') ?? 'bios';
    if (type === 'bios') {
      if (wantsSecureBoot(ctx)) {
        throw new VirtError('unsupported-config', 'Secure Boot was required but the image boots with BIOS', {
          fix: 'set the image property hw_firmware_type=uefi (and hw_machine_type=q35)',
        });
      }
      return;
    }
    if (type !== 'uefi') {
      throw new VirtError('unsupported-config', `hw_firmware_type=${type} is not supported`, {
        fix: 'use hw_firmware_type=bios or uefi',
      });
    }
    const secure = wantsSecureBoot(ctx);
    const machine = canonicalMachine(ctx, dom.os.machine);
    const fw = selectUefiFirmware(ctx.host.firmware, dom.os.arch, machine, secure);
    if (!fw) {
      throw new VirtError(
        'firmware-not-found',
        `no UEFI firmware ${secure ? 'with' : 'without'} Secure Boot for ${dom.os.arch} machine ${machine}`,
        {
          fix:
            'install OVMF (apt-get install ovmf) and check /usr/share/qemu/firmware/*.json' +
            (secure ? '; Secure Boot also needs machine type q35' : ''),
        },
      );
    }
    dom.os.loader = { path: fw.executable, readonly: true, type: 'pflash', secure: secure || undefined };
    if (!secure) delete dom.os.loader.secure;
    dom.os.nvram = { path: nvramPathFor(ctx.policy.nvramDir, ctx.domainName), template: fw.nvramTemplate };
    // Secure Boot builds need SMM to protect their variable store.
    if (secure || fw.features.includes('requires-smm')) dom.features.smm = true;
  },
};
