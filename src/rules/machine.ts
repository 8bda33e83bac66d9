// Machine types: which one a guest gets (the image's hw_machine_type, else [libvirt]
// hw_machine_type for its architecture, else Nova's built-in default) and what a machine type
// implies (q35 or not, an IDE controller or not). The API uses it to refuse early; the driver to
// build the domain.

/** Nova's built-in machine types per architecture (when neither image nor config names one). */
export const BUILTIN_MACHINE_TYPES: Readonly<Record<string, string>> = {
  x86_64: 'pc',
  i686: 'pc',
  aarch64: 'virt',
  armv7l: 'virt',
  ppc64le: 'pseries',
  s390x: 's390-ccw-virtio',
};

export interface MachineTypeChoice {
  /** The machine type (an alias such as q35 or a versioned name), undefined when none is known. */
  machine?: string;
  /** Where it came from, for messages ("image property hw_machine_type=q35"). */
  source: string;
}

/** The machine type a guest gets: the image's, else [libvirt] hw_machine_type, else built in. */
export function resolveMachineType(o: {
  /** The image property hw_machine_type. */
  image?: string;
  arch: string;
  /** [libvirt] hw_machine_type as arch → machine type. */
  configured?: Readonly<Record<string, string>>;
}): MachineTypeChoice {
  if (o.image) return { machine: o.image, source: `image property hw_machine_type=${o.image}` };
  const configured = o.configured?.[o.arch];
  if (configured) return { machine: configured, source: `[libvirt] hw_machine_type ${o.arch}=${configured}` };
  const builtin = BUILTIN_MACHINE_TYPES[o.arch];
  return builtin
    ? {
        machine: builtin,
        source: `the default machine type for ${o.arch} (${builtin}; neither the image nor [libvirt] hw_machine_type set one)`,
      }
    : { source: `no machine type for ${o.arch}` };
}

/** Whether a machine type (alias or canonical name) is a q35 one. */
export function isQ35(machine: string): boolean {
  return machine === 'q35' || machine.startsWith('pc-q35');
}

/** i440fx machines have an IDE controller; q35 and the rest do not. */
export function machineHasIde(machine: string): boolean {
  return machine === 'pc' || machine.startsWith('pc-i440fx') || /^pc-\d/.test(machine) || machine === 'isapc';
}
