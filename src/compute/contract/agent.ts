// The compute-agent contract: every host-side operation control asks of a compute host.
// Control holds a ComputeAgent per host (control/agent-directory.ts) and never knows where it
// runs: in this process (compute/local-agent.ts), behind the JSON loopback (loopback.ts), or
// later on another machine behind a broker (a transport under remote.ts). Arguments and
// results are the plain data of types.ts. Long operations resolve once accepted and report
// their steps through the instance action, then send an OperationReport; short ones answer.
// Errors are KestrelErrors (src/errors); one that crosses a transport keeps its code, message
// and fix. A host nobody answers for rejects with code host-unreachable.
import type { Duplex } from 'node:stream';
import type { HostNetworkChange, HostNetworkState, NetworkSyncReport } from '../../network/contract.js';
import type {
  Accepted,
  AgentOperation,
  BackupRequest,
  BuildRequest,
  Completed,
  ConsoleEndpoint,
  ConsoleOutput,
  ConsoleOutputRequest,
  DeleteRequest,
  Diagnostics,
  DiagnosticsRequest,
  HostReport,
  HostReportRequest,
  PowerRequest,
  RebuildRequest,
  RestoreRequest,
  SerialConsoleRequest,
  SetPasswordRequest,
  ShelveOffloadRequest,
  ShelveRequest,
  SnapshotRequest,
  SoftDeleteRequest,
  UnshelveRequest,
  VncEndpointRequest,
  StreamOperation,
} from './types.js';

export interface ComputeAgent {
  /** The host this agent runs (the resource provider's and the service's name). */
  readonly host: string;

  // --- long operations (casts) ---------------------------------------------------------
  /** Builds and starts the instance; ends ACTIVE, or ERROR with a fault. */
  build(r: BuildRequest): Promise<Accepted>;
  /** Destroys the guest and its disk; ends with the instance deleted and its allocations freed. */
  delete(r: DeleteRequest): Promise<Accepted>;
  /** A power action; ends with task_state cleared (and vm_state changed on success). */
  power(r: PowerRequest): Promise<Accepted>;
  /** Snapshots the root disk into the queued image; ends with the image active or killed. */
  snapshot(r: SnapshotRequest): Promise<Accepted>;
  rebuild(r: RebuildRequest): Promise<Accepted>;
  shelve(r: ShelveRequest): Promise<Accepted>;
  shelveOffload(r: ShelveOffloadRequest): Promise<Accepted>;
  unshelve(r: UnshelveRequest): Promise<Accepted>;
  backup(r: BackupRequest): Promise<Accepted>;
  softDelete(r: SoftDeleteRequest): Promise<Accepted>;
  restore(r: RestoreRequest): Promise<Accepted>;

  // --- short operations (calls) ---------------------------------------------------------
  /** guest-set-user-password through the guest agent. */
  setPassword(r: SetPasswordRequest): Promise<Completed>;
  diagnostics(r: DiagnosticsRequest): Promise<Diagnostics>;
  /** The serial console log, at most maxBytes from its end (null: the agent's own limit). */
  consoleOutput(r: ConsoleOutputRequest): Promise<ConsoleOutput>;
  /** Where the console proxy reaches the running guest's VNC display. */
  vncEndpoint(r: VncEndpointRequest): Promise<ConsoleEndpoint>;
  /** Reads the host, publishes the report into the database and answers it. */
  hostReport(r: HostReportRequest): Promise<HostReport>;
  /** One change of the host's network data plane: a network, one port's chains, or NAT. */
  networkApply(r: HostNetworkChange): Promise<Completed>;
  /** The whole desired network state: missing parts made, orphans removed (start-up). */
  networkSync(r: HostNetworkState): Promise<NetworkSyncReport>;

  // --- streams ---------------------------------------------------------------------------
  /**
   * The one operation whose answer is not JSON: the running guest's serial console as bytes
   * both ways (read: the guest's output; write: typed into it; destroy() detaches). The
   * request is plain data; a transport carries the bytes as a stream of its own
   * (AgentTransport.openStream).
   */
  openSerialConsole(r: SerialConsoleRequest): Promise<Duplex>;
}

/** Checks at compile time that the operation lists of types.ts name exactly these methods. */
type Methods = Exclude<keyof ComputeAgent, 'host'>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const contractIsComplete: Same<Methods, AgentOperation | StreamOperation> = true;
