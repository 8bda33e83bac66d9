// The typed libvirt domain model: exactly what Kestrel renders, no policy. Configurators
// (../configure/) fill it in; render.ts turns it into XML and parse.ts reads it back.

export const KESTREL_XMLNS = 'https://kestrel.dev/xmlns/instance/1';

/** Kestrel's tag in <metadata>: lets reconciliation find Kestrel's domains. */
export interface KestrelMetadata {
  uuid: string;
  displayName: string;
  projectId: string;
  flavor: { id: string; name: string; vcpus: number; memoryMb: number; rootGb: number };
  imageId: string;
  createdAt: string;
  /** True when the guest CPU exposes vmx/svm (nested guests; suspend/migration are refused). */
  nestedVirt: boolean;
}

export interface CpuFeature {
  policy: 'require' | 'disable' | 'force' | 'optional' | 'forbid';
  name: string;
}

export interface DomainCpu {
  mode?: 'host-model' | 'host-passthrough' | 'custom';
  match?: 'exact' | 'minimum' | 'strict';
  model?: string;
  topology?: { sockets: number; dies?: number; cores: number; threads: number };
  features: CpuFeature[];
  /** Guest NUMA cells (<cpu><numa>): vCPU ids as a cpuset string, memory in KiB. */
  numa?: { id: number; cpus: string; memoryKib: number }[];
}

/** <cputune>: pinned vCPUs and where the emulator threads run (configure/numa.ts). */
export interface CpuTune {
  vcpupins: { vcpu: number; cpuset: string }[];
  emulatorpin?: string;
}

/** <numatune>: the host NUMA nodes guest memory comes from, per guest cell. */
export interface NumaTune {
  memory: { mode: 'strict' | 'preferred' | 'interleave'; nodeset: string };
  memnodes: { cellid: number; mode: 'strict' | 'preferred' | 'interleave'; nodeset: string }[];
}

export interface DomainOs {
  arch: string;
  machine: string;
  /** 'efi' for UEFI; the loader and NVRAM are given explicitly (chosen from QEMU's descriptors). */
  firmware?: 'efi';
  firmwareFeatures?: { name: string; enabled: boolean }[];
  loader?: { path: string; readonly: boolean; type: 'pflash' | 'rom'; secure?: boolean };
  nvram?: { path: string; template?: string };
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  bootDevices: ('hd' | 'cdrom' | 'network')[];
  /** <smbios mode='sysinfo'/>: the guest's DMI tables come from Domain.sysinfo. */
  smbios?: 'sysinfo';
}

/** <sysinfo type='smbios'><system>: what the guest reads from DMI (cloud-init detects the cloud by it). */
export interface SmbiosSystem {
  manufacturer: string;
  product: string;
  version?: string;
  serial: string;
  uuid: string;
  family: string;
}

export type DiskDevice = {
  device: 'disk' | 'cdrom';
  driver: {
    name: 'qemu';
    type: 'qcow2' | 'raw';
    cache?: string;
    io?: string;
    discard?: string;
    iommu?: boolean;
  };
  target: { dev: string; bus: 'virtio' | 'scsi' | 'sata' | 'ide' | 'usb' };
  readonly?: boolean;
  bootOrder?: number;
} & (
  | { type: 'file'; file: string }
  | { type: 'block'; dev: string }
  | {
      type: 'network';
      protocol: 'rbd';
      name: string;
      hosts: { name: string; port: number }[];
      auth?: { username: string; secretType: 'ceph'; secretUuid: string };
    }
);

export interface Controller {
  type: 'scsi' | 'virtio-serial' | 'usb' | 'pci' | 'sata' | 'ide';
  index: number;
  model?: string;
  /** <driver iommu='on'/> (virtio devices of SEV guests). */
  iommu?: boolean;
}

export interface NetInterface {
  /** 'network': a libvirt network by name; 'bridge': a host bridge, the tap named by targetDev. */
  type: 'network' | 'bridge';
  network?: string;
  bridge?: string;
  /** The tap's name on the host (bridge interfaces: derived from the port id). */
  targetDev?: string;
  model: 'virtio' | 'e1000';
  driver?: 'vhost' | 'qemu';
  mac?: string;
  iommu?: boolean;
}

export interface SerialDevice {
  type: 'file' | 'pty';
  /** type 'file': the file written; type 'pty': the /dev/pts node libvirt picked (live XML only). */
  path?: string;
  /** A copy of everything the guest writes, kept by QEMU whoever is connected (the console log). */
  log?: { file: string; append: boolean };
  port: number;
}

/** A remote display. Only VNC: on a UNIX socket libvirt names, or on an address with a port libvirt picks. */
export interface Graphics {
  type: 'vnc';
  listen: { type: 'socket'; socket?: string } | { type: 'address'; address: string; port?: number };
}

export interface Video {
  model: 'vga' | 'virtio' | 'bochs' | 'cirrus' | 'qxl' | 'none';
}

export interface Channel {
  type: 'unix';
  path?: string;
  targetType: 'virtio';
  targetName: string;
}

export interface Memballoon {
  model: 'virtio' | 'none';
  statsPeriod?: number;
  iommu?: boolean;
}

export interface Rng {
  model: 'virtio';
  backend: string;
  rate?: { bytes: number; period: number };
  iommu?: boolean;
}

export interface Domain {
  type: 'kvm' | 'qemu';
  name: string;
  uuid: string;
  title?: string;
  metadata?: KestrelMetadata;
  memoryKib: number;
  vcpus: number;
  os: DomainOs;
  sysinfo?: SmbiosSystem;
  features: { acpi: boolean; apic: boolean; smm?: boolean };
  cpu?: DomainCpu;
  /**
   * <memoryBacking>: huge pages (configure/numa.ts: size in KiB, for the guest cells in
   * nodeset, or all of them) and <locked/> (AMD SEV, configure/sev.ts).
   */
  memoryBacking?: { locked?: boolean; hugepages?: { sizeKib: number; nodeset?: string }[] };
  cputune?: CpuTune;
  numatune?: NumaTune;
  launchSecurity?: { type: 'sev'; policy: string; cbitpos?: number; reducedPhysBits?: number };
  clock?: { offset: 'utc' | 'localtime' };
  onPoweroff: 'destroy' | 'restart' | 'preserve';
  onReboot: 'destroy' | 'restart' | 'preserve';
  onCrash: 'destroy' | 'restart' | 'preserve';
  devices: {
    emulator?: string;
    disks: DiskDevice[];
    controllers: Controller[];
    interfaces: NetInterface[];
    serials: SerialDevice[];
    channels: Channel[];
    graphics: Graphics[];
    videos: Video[];
    memballoon?: Memballoon;
    rngs: Rng[];
  };
}

/** An empty domain the configurators fill in. */
export function emptyDomain(name: string, uuid: string, type: 'kvm' | 'qemu'): Domain {
  return {
    type,
    name,
    uuid,
    memoryKib: 0,
    vcpus: 1,
    os: { arch: 'x86_64', machine: 'pc', bootDevices: [] },
    features: { acpi: false, apic: false },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    devices: {
      disks: [],
      controllers: [],
      interfaces: [],
      serials: [],
      channels: [],
      graphics: [],
      videos: [],
      rngs: [],
    },
  };
}
