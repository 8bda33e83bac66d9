// What every configurator gets: the instance request, the operator's policy (typed options
// from [libvirt]) and the host's facts. Configurators decide; the domain model only renders.
import type { Logger } from '../../../util/log.js';
import type { InstanceSpec } from '../../driver.js';
import type { Domain } from '../domain/types.js';
import type { FirmwareDescriptor } from '../firmware-descriptors.js';

export type CpuMode = 'host-model' | 'host-passthrough' | 'custom' | 'none';

/** The operator's choices ([libvirt] options), already validated by the driver's init(). */
export interface GuestPolicy {
  virtType: 'kvm' | 'qemu';
  /** Unset → host-model (Nova's default for kvm/qemu). */
  cpuMode?: CpuMode;
  /** Custom-mode models in libvirt's spelling, oldest first. */
  cpuModels: string[];
  /** [libvirt] cpu_model_extra_flags: `flag`, `+flag` (require) or `-flag` (disable). */
  cpuExtraFlags: string[];
  /** [libvirt] hw_machine_type as arch → machine type. */
  machineTypes: Record<string, string>;
  /** Where per-instance UEFI variable stores live. */
  nvramDir: string;
  /** [vnc]: a VNC display on a UNIX socket ('unix') or on an address; unset = no display. */
  graphics?: { listen: 'unix' | string };
}

/** What the host offers, gathered once by the driver (capabilities, domcaps, /dev, descriptors). */
export interface HostFacts {
  arch: string;
  emulator: string;
  /** Machine types for arch + virt type; alias → canonical name (canonical maps to itself). */
  machineTypes: Record<string, string>;
  hasVhostNet: boolean;
  /** The host CPU's features (host-model / host-passthrough expose these). */
  hostCpuFeatures: string[];
  firmware: FirmwareDescriptor[];
  /** A CPU model's features, expanded by baseline-hypervisor-CPU (cached); undefined = unsupported. */
  cpuModelFeatures(model: string): Promise<string[] | undefined>;
  /** AMD SEV: domain capabilities' <sev> for arch + machine type (cached); absent = no SEV here. */
  sevCapabilities?(arch: string, machine: string): Promise<SevDomainCaps | undefined>;
}

export interface SevDomainCaps {
  supported: boolean;
  cbitpos?: number;
  reducedPhysBits?: number;
}

export interface BuildContext {
  spec: InstanceSpec;
  policy: GuestPolicy;
  host: HostFacts;
  domainName: string;
  /** ISO time stamped into the metadata (injected so golden output is stable). */
  createdAt: string;
  log: Logger;
}

export interface Configurator {
  /** The concern it owns (cpu, machine, firmware …), for logs and errors. */
  readonly name: string;
  configure(ctx: BuildContext, dom: Domain): void | Promise<void>;
}

/** An image property (hw_*, os_*, trait:*), or undefined. */
export function imageProp(ctx: BuildContext, key: string): string | undefined {
  const v = ctx.spec.image.properties[key];
  return v === undefined || v === '' ? undefined : v;
}

/** The guest's architecture: image hw_architecture, else the host's. */
export function guestArch(ctx: BuildContext): string {
  return imageProp(ctx, 'hw_architecture') ?? ctx.host.arch;
}
