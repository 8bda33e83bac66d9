// The hypervisor boundary. Everything above (compute manager, API, scheduler) talks to a
// hypervisor only through this interface; two implementations pass one conformance suite:
// `fake` (in memory, milliseconds) and `libvirt` (real guests through Kestrel's RPC client).
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { NumaPlacement } from './numa/fit.js';
import type { HostCell } from './numa/host.js';
import type { DiskSource } from '../disks/source.js';

/** Nova's power states (nova/compute/power_state.py), as stored and shown in the API. */
export const PowerState = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerState = (typeof PowerState)[keyof typeof PowerState];

/** A flavor's ephemeral or swap disk, attached after the root disk (vdb, vdc). */
export interface LocalDisk {
  role: 'ephemeral' | 'swap';
  source: DiskSource;
}

export interface FlavorSpec {
  id: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  extraSpecs: Record<string, string>;
}

export interface ImageSpec {
  id: string;
  name: string;
  diskFormat: string;
  /** Glance image properties: hw_*, trait:*, os_command_line … */
  properties: Record<string, string>;
}

/** Everything the driver needs to build and start one guest. Policy is already decided above. */
export interface InstanceSpec {
  uuid: string;
  /** Display name (metadata only; the domain name is derived from the uuid). */
  displayName: string;
  projectId: string;
  flavor: FlavorSpec;
  image: ImageSpec;
  rootDisk: DiskSource;
  /** Direct kernel boot (the image's kernel_id / ramdisk_id, resolved to local files). */
  kernelPath?: string;
  initrdPath?: string;
  /**
   * The config drive (a local file: ISO 9660 or VFAT labelled config-2), attached read-only as
   * a cdrom (iso9660) or a disk (vfat); absent = no config drive.
   */
  configDrive?: { path: string; format: 'iso9660' | 'vfat' };
  /** Serial console log file; the driver creates its directory. */
  consoleLogPath: string;
  /** The flavor's ephemeral and swap disks, in that order. */
  localDisks?: LocalDisk[];
  /** Host NUMA cells, pinned CPUs and page sizes the scheduler chose (guests that asked for NUMA). */
  numaPlacement?: NumaPlacement;
  /** 'none' (the default here) or a libvirt network name. */
  network: { kind: 'none' } | { kind: 'libvirt-network'; name: string };
  /** Kestrel's own networking: one tap per port on its network's bridge, in port order. */
  nics?: NicAttachment[];
}

export interface NicAttachment {
  bridge: string;
  tap: string;
  mac: string;
}

export interface InstanceInfo {
  uuid: string;
  state: PowerState;
  cpuTimeNs: bigint;
  memoryKb: number;
  maxMemoryKb: number;
  vcpus: number;
}

/** Where a guest's VNC server listens, as seen from its host (plain JSON). */
export type DisplayEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface HostStatus {
  hostname: string;
  hypervisorType: string; // "QEMU"
  hypervisorVersion: number; // libvirt encoding: major*1e6 + minor*1e3 + micro
  virtType: 'kvm' | 'qemu';
  vcpus: number;
  memoryMb: number;
  localDiskGb: number;
  cpuInfo: { arch: string; model: string; vendor: string; features: string[] };
  /** Placement traits this host offers (CPU feature traits, HW_CPU_X86_AMD_SEV …). */
  traits: string[];
  memEncryptionSlots: number;
  /** The host's NUMA cells (memory, page pools, CPUs with thread siblings), when known. */
  numaCells?: HostCell[];
}

export type LifecycleKind =
  | 'started'
  | 'stopped'
  | 'paused'
  | 'resumed'
  | 'suspended'
  | 'crashed'
  | 'shutdown'
  | 'defined'
  | 'undefined';

export interface LifecycleEvent {
  uuid: string;
  kind: LifecycleKind;
  /** The power state the guest is in after this event. */
  state: PowerState;
  /** Driver-specific detail ("destroyed", "guest request" …). */
  detail: string;
  at: number;
}

export interface AgentEvent {
  uuid: string;
  connected: boolean;
}

/** Events: 'lifecycle' (LifecycleEvent), 'agent' (AgentEvent), 'reconnected' (no payload). */
export interface DriverEvents extends EventEmitter {
  on(event: 'lifecycle', listener: (e: LifecycleEvent) => void): this;
  on(event: 'agent', listener: (e: AgentEvent) => void): this;
  on(event: 'reconnected', listener: () => void): this;
}

export interface HypervisorDriver {
  readonly name: 'fake' | 'libvirt';
  readonly events: DriverEvents;

  /** Start-up checks (versions, CPU models, virt_type); throws with the fix when the host can't serve. */
  init(): Promise<void>;
  close(): Promise<void>;
  hostStatus(): Promise<HostStatus>;

  /** Builds the guest definition, defines and starts it; resolves once the guest is running. */
  spawn(spec: InstanceSpec): Promise<void>;
  /** Stops the guest (forcefully) and removes its definition, NVRAM and console log. Disks stay. */
  destroy(uuid: string): Promise<void>;
  /** Clean shutdown, then a forced one after timeoutSeconds. */
  powerOff(uuid: string, timeoutSeconds: number): Promise<void>;
  powerOn(uuid: string): Promise<void>;
  reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void>;
  pause(uuid: string): Promise<void>;
  unpause(uuid: string): Promise<void>;
  /** Managed save. */
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  /**
   * Copies the root disk, flattened, to targetPath in the given format. `copy`, when given, does
   * the copy instead of the driver (a disk backend that knows its storage better, e.g. RBD); the
   * driver still pauses a running guest around it.
   */
  snapshot(
    uuid: string,
    targetPath: string,
    format: 'qcow2' | 'raw',
    copy?: (targetPath: string, format: 'qcow2' | 'raw') => Promise<void>,
  ): Promise<void>;
  consoleOutput(uuid: string, maxBytes?: number): Promise<string>;
  /** Where the running guest's VNC display listens; a conflict when it has none or is not running. */
  vncEndpoint(uuid: string): Promise<DisplayEndpoint>;
  /**
   * The running guest's serial console, both ways, as bytes: the guest's output is read from
   * the Duplex, what is written goes to the guest. It ends when the guest stops or another
   * client takes the console; destroying it detaches. The console log keeps being written.
   */
  openSerialConsole(uuid: string): Promise<Duplex>;
  info(uuid: string): Promise<InstanceInfo>;
  /** uuids of every guest this driver manages (Kestrel-tagged domains). */
  list(): Promise<string[]>;
  /** Sends a raw command to the guest agent (JSON text in, JSON text out). */
  agentCommand(uuid: string, command: string, timeoutSeconds: number): Promise<string>;

  /**
   * (Added by the compute-driver issue; optional so other implementations stay valid.)
   * The power state of every managed guest, read fresh from the hypervisor, for the periodic
   * sync that catches missed lifecycle events (Nova's _sync_power_states).
   */
  syncPowerStates?(): Promise<Map<string, PowerState>>;
  /** Throws a conflict when the guest cannot be live-migrated (nested virt exposed, …). */
  checkCanLiveMigrate?(uuid: string): Promise<void>;
}
