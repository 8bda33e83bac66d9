// The data of the compute-agent contract: every request and reply is plain JSON (strings,
// numbers, booleans, null, arrays and plain objects), so the same calls can travel in-process,
// through the JSON loopback, or over a broker to an agent on another machine. Nothing here is
// a class, a closure, a bigint or a virt-layer type; codec.ts refuses anything else.

/** A power action on the host (the API's os-start, os-stop, reboot, pause … map to these). */
export type PowerAction =
  'start' | 'stop' | 'reboot-soft' | 'reboot-hard' | 'pause' | 'unpause' | 'suspend' | 'resume';

/** The instance a long operation works on and the instance action it reports its steps to. */
export type InstanceTask = {
  instanceUuid: string;
  /** The instance action (control recorded it) whose events the agent times. */
  actionId: string;
};

export type BuildRequest = InstanceTask;
export type DeleteRequest = InstanceTask;
export type PowerRequest = InstanceTask & { action: PowerAction };
/** Snapshot of the root disk into the queued image imageId (createImage). */
export type SnapshotRequest = InstanceTask & { imageId: string };
/** Recreate the root disk from imageId; a server that was stopped ends stopped again. */
/** Recreate the root disk from imageId; preserveEphemeral keeps the ephemeral disk (disk.local) as it is. */
export type RebuildRequest = InstanceTask & {
  imageId: string;
  previousVmState: string;
  preserveEphemeral?: boolean;
};
/** Power off and snapshot into imageId (SHELVED); offload at once when offloadNow. */
export type ShelveRequest = InstanceTask & { imageId: string; previousVmState: string; offloadNow: boolean };
export type ShelveOffloadRequest = InstanceTask;
/** Power a SHELVED guest on, or boot an offloaded one (scheduled here) from its shelved image. */
export type UnshelveRequest = InstanceTask & { shelvedImageId: string | null };
/** Snapshot into imageId, then delete this server's older backups of backupType beyond rotation. */
export type BackupRequest = InstanceTask & { imageId: string; backupType: string; rotation: number };
/** Deferred delete: power off, keep guest, disk and allocations (SOFT_DELETED). */
export type SoftDeleteRequest = InstanceTask & { previousVmState: string };
export type RestoreRequest = InstanceTask;

/** The answer to a long operation: the agent has taken it; progress goes to the instance action. */
export type Accepted = { accepted: true };

export type SetPasswordRequest = { instanceUuid: string; user: string; password: string };
export type DiagnosticsRequest = { instanceUuid: string };
export type ConsoleOutputRequest = { instanceUuid: string; maxBytes: number | null };

/** A short operation that has nothing to answer but that it is done. */
export type Completed = { completed: true };

/** The guest's counters as the hypervisor reports them (a number of ns, not a bigint). */
export type Diagnostics = {
  /** Nova's power state (1 running, 3 paused, 4 shutdown …). */
  powerState: number;
  cpuTimeNs: number;
  memoryKb: number;
  maxMemoryKb: number;
  vcpus: number;
};

export type ConsoleOutput = { output: string };

export type VncEndpointRequest = { instanceUuid: string };
/**
 * Where the running guest's VNC display is, as the console proxy reaches it: a UNIX socket on
 * the host, or an address (the host's [vnc] server_proxyclient_address) and port.
 */
export type ConsoleEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export type SerialConsoleRequest = { instanceUuid: string };

/**
 * What a host offers, as its agent publishes it into the database (placement inventories and
 * traits, and the hypervisor facts os-hypervisors shows). The API reads it from there.
 */
export type HostReport = {
  host: string;
  hypervisorType: string;
  /** libvirt's encoding: major*1e6 + minor*1e3 + micro. */
  hypervisorVersion: number;
  virtType: 'kvm' | 'qemu';
  vcpus: number;
  memoryMb: number;
  localDiskGb: number;
  cpuInfo: { arch: string; model: string; vendor: string; features: string[] };
  traits: string[];
  /** AMD SEV guest slots (MEM_ENCRYPTION_CONTEXT). */
  memEncryptionSlots: number;
  /** ISO time of the report. */
  reportedAt: string;
};

/** Reports that the agent publishes into the database on request. */
export type HostReportRequest = Record<string, never>;

/**
 * Sent by the agent when a long operation ends (after it recorded the outcome in the instance
 * action): control's follow-up work (the shelved image's clean-up, offload timers) waits on it.
 */
export type OperationReport = {
  host: string;
  operation: CastOperation;
  instanceUuid: string;
  actionId: string;
  ok: boolean;
};

/** Long operations: answered once accepted (Nova's casts). */
export const CAST_OPERATIONS = [
  'build',
  'delete',
  'power',
  'snapshot',
  'rebuild',
  'shelve',
  'shelveOffload',
  'unshelve',
  'backup',
  'softDelete',
  'restore',
] as const;
/** Short operations: answered with their result (Nova's calls). */
export const CALL_OPERATIONS = [
  'setPassword',
  'diagnostics',
  'consoleOutput',
  'vncEndpoint',
  'hostReport',
  'networkApply',
  'networkSync',
] as const;
/** Streams: the request is plain data, the answer a byte stream both ways (not JSON). */
export const STREAM_OPERATIONS = ['openSerialConsole'] as const;

export type CastOperation = (typeof CAST_OPERATIONS)[number];
export type CallOperation = (typeof CALL_OPERATIONS)[number];
export type StreamOperation = (typeof STREAM_OPERATIONS)[number];
/** The operations whose requests and replies are all JSON. */
export type AgentOperation = CastOperation | CallOperation;
