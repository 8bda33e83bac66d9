// Machine type: the image's hw_machine_type, else [libvirt] hw_machine_type for the guest
// arch, else Nova's built-in default; checked against the host's capabilities (§7.1).
import { VirtError } from '../../errors.js';
import type { Domain } from '../domain/types.js';
import { guestArch, imageProp, type BuildContext, type Configurator } from './context.js';

const BUILTIN_DEFAULTS: Record<string, string> = {
  x86_64: 'pc',
  i686: 'pc',
  aarch64: 'virt',
  armv7l: 'virt',
  ppc64le: 'pseries',
  s390x: 's390-ccw-virtio',
};

/** Parses `arch=type,arch=type` (Nova's format); entries without a value are skipped. */
export function parseMachineTypeList(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries.flatMap((e) => e.split(','))) {
    const i = entry.indexOf('=');
    if (i < 0) continue;
    const arch = entry.slice(0, i).trim();
    const type = entry.slice(i + 1).trim();
    if (arch && type && !(arch in out)) out[arch] = type;
  }
  return out;
}

export function chooseMachineType(ctx: BuildContext): string {
  const arch = guestArch(ctx);
  const wanted = imageProp(ctx, 'hw_machine_type') ?? ctx.policy.machineTypes[arch] ?? BUILTIN_DEFAULTS[arch];
  if (!wanted) {
    throw new VirtError('invalid-machine-type', `no machine type is known for architecture ${arch}`, {
      fix: `set [libvirt] hw_machine_type = ${arch}=<type> or the image property hw_machine_type`,
    });
  }
  const known = ctx.host.machineTypes;
  if (Object.keys(known).length > 0 && !(wanted in known)) {
    throw new VirtError(
      'invalid-machine-type',
      `'${wanted}' is not a valid/supported machine type on this host for ${arch}`,
      {
        fix: `use one of the supported machine types: ${Object.keys(known).sort().join(', ')}`,
      },
    );
  }
  return wanted;
}

/** The canonical name behind an alias (pc → pc-i440fx-7.2), for firmware and bus decisions. */
export function canonicalMachine(ctx: BuildContext, machine: string): string {
  return ctx.host.machineTypes[machine] ?? machine;
}

/** i440fx machines have an IDE controller; q35 and the rest do not. */
export function machineHasIde(canonical: string): boolean {
  return (
    canonical === 'pc' ||
    canonical.startsWith('pc-i440fx') ||
    /^pc-\d/.test(canonical) ||
    canonical === 'isapc'
  );
}

export function isQ35(canonical: string): boolean {
  return canonical === 'q35' || canonical.startsWith('pc-q35');
}

export const machineConfigurator: Configurator = {
  name: 'machine',
  configure(ctx: BuildContext, dom: Domain): void {
    dom.os.machine = chooseMachineType(ctx);
  },
};
