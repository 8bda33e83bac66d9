// Machine type: the rule book's choice (the image's hw_machine_type, else [libvirt]
// hw_machine_type for the guest arch, else Nova's built-in default), checked against the host's
// capabilities (§7.1).
import { resolveMachineType, type MachineTypeChoice } from '../../../rules/machine.js';
import { VirtError } from '../../errors.js';
import type { Domain } from '../domain/types.js';
import { guestArch, imageProp, type BuildContext, type Configurator } from './context.js';

/** The rule book's choice (image, else [libvirt] hw_machine_type, else built in) for this guest. */
export function machineTypeChoice(ctx: BuildContext): MachineTypeChoice {
  return resolveMachineType({
    image: imageProp(ctx, 'hw_machine_type'),
    arch: guestArch(ctx),
    configured: ctx.policy.machineTypes,
  });
}

export function chooseMachineType(ctx: BuildContext): string {
  const arch = guestArch(ctx);
  const wanted = machineTypeChoice(ctx).machine;
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

export const machineConfigurator: Configurator = {
  name: 'machine',
  configure(ctx: BuildContext, dom: Domain): void {
    dom.os.machine = chooseMachineType(ctx);
  },
};
