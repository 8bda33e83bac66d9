// The libvirt driver's constructor options: plain typed values, so wiring [libvirt] and
// [workarounds] from loadConfig() is a direct mapping (see the report / README of virt).
import type { Logger } from '../../util/log.js';
import type { LibvirtClient } from '../../libvirt/index.js';
import type { CpuMode } from './configure/index.js';
import type { CephSecretOptions } from './ceph-secret.js';

export interface LibvirtDriverOptions {
  /** An open client (shared with other users), or a URI to connect to (default qemu:///system). */
  client?: LibvirtClient;
  uri?: string;
  /** [libvirt] virt_type after the doctor's decision: kvm or qemu. */
  virtType: 'kvm' | 'qemu';
  /** The doctor's functional KVM probe (undefined = not run); kvm is refused when it failed. */
  kvmProbe?: { ok: boolean; detail: string };
  /** [libvirt] cpu_mode (unset = host-model). */
  cpuMode?: CpuMode;
  /** [libvirt] cpu_models, oldest first (any case; libvirt's spelling is used). */
  cpuModels?: string[];
  /** [libvirt] cpu_model_extra_flags (`flag`, `+flag`, `-flag`). */
  cpuModelExtraFlags?: string[];
  /** [libvirt] hw_machine_type as arch → type. */
  machineTypes?: Record<string, string>;
  /** [libvirt] num_memory_encrypted_guests (unset = libvirt's maxGuests); SEV slots. */
  numMemoryEncryptedGuests?: number | null;
  /** [workarounds] skip_cpu_compare_at_startup. */
  skipCpuCompareAtStartup?: boolean;
  /** [workarounds] allow_nested_suspend (Kestrel): let nested-virt guests suspend / live-migrate. */
  allowNestedSuspend?: boolean;
  /** Seconds a soft reboot waits for the guest to shut down before a hard reboot (Nova: 120). */
  softRebootTimeoutSeconds?: number;
  /** [vnc] enabled and server_listen ('unix' or an address): each new guest gets a VNC display. */
  vnc?: { enabled: boolean; listen: string };
  /** Domain name prefix (default "instance-"); the name is prefix + uuid. */
  namePrefix?: string;
  /** Per-instance UEFI variable stores (default /var/lib/libvirt/qemu/nvram). */
  nvramDir?: string;
  /** QEMU's per-domain logs, read for start failures (default /var/log/libvirt/qemu). */
  qemuLogDir?: string;
  /** Where instance disks live, for the host's local disk size (default /var/lib/kestrel/instances). */
  instancesPath?: string;
  firmwareDirs?: string[];
  vhostNetPath?: string;
  /** Minimum versions (Nova master: libvirt 8.0.0, QEMU 6.2.0), as major*1e6+minor*1e3+micro. */
  minLibvirtVersion?: number;
  minQemuVersion?: number;
  clock?: () => Date;
  log?: Logger;
  /**
   * `[libvirt] rbd_secret_uuid` with rbd_user: the ceph secret the driver defines (once, before
   * the first guest with an RBD disk starts) when libvirt does not have it (ceph-secret.ts).
   */
  rbdSecret?: CephSecretOptions;
}

export const DEFAULTS = {
  uri: 'qemu:///system',
  softRebootTimeoutSeconds: 120,
  nvramDir: '/var/lib/libvirt/qemu/nvram',
  qemuLogDir: '/var/log/libvirt/qemu',
  instancesPath: '/var/lib/kestrel/instances',
  vhostNetPath: '/dev/vhost-net',
  minLibvirtVersion: 8_000_000,
  minQemuVersion: 6_002_000,
} as const;
