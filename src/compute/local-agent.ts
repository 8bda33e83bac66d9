// The in-process compute agent: the contract (contract/agent.ts) served by this process's
// ComputeManager and its lifecycle operations. Casts start the work and answer at once; the
// work records its steps in the instance action and, when it ends, sends an OperationReport
// to the report sink. The host report is read from the driver and published into the
// database (placement inventories and traits, and the compute_host_reports row).
import type { Duplex } from 'node:stream';
import { KestrelError } from '../errors/index.js';
import type {
  HostNetworkCalls,
  HostNetworkChange,
  HostNetworkState,
  NetworkSyncReport,
} from '../network/contract.js';
import type { Repositories } from '../db/index.js';
import type { HypervisorDriver } from '../virt/driver.js';
import type { CpuSetOptions } from '../virt/numa/host.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { ComputeManager } from './manager.js';
import { LifecycleOperations } from './actions-lifecycle.js';
import { publishHost, type AllocationRatios } from './resources.js';
import type { ComputeAgent } from './contract/agent.js';
import type { OperationReportSink } from './contract/transport.js';
import type {
  Accepted,
  BackupRequest,
  BuildRequest,
  CastOperation,
  Completed,
  ConsoleEndpoint,
  ConsoleOutput,
  ConsoleOutputRequest,
  DeleteRequest,
  Diagnostics,
  DiagnosticsRequest,
  HostReport,
  InstanceTask,
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
} from './contract/types.js';

/** The console output an agent answers when the caller names no limit (1 MiB). */
const CONSOLE_MAX_BYTES = 1024 * 1024;

export interface LocalAgentOptions {
  manager: ComputeManager;
  repos: Repositories;
  driver: HypervisorDriver;
  ratios: AllocationRatios;
  /** [compute] cpu_dedicated_set / cpu_shared_set and [DEFAULT] reserved_huge_pages. */
  cpuSets?: CpuSetOptions;
  /**
   * The instance disk storage's size when it is not the instances_path filesystem (images_type
   * lvm: the volume group; rbd: the Ceph cluster, as Nova reports), for DISK_GB.
   */
  diskCapacity?: () => Promise<{ totalBytes: number }>;
  /** Where reports of finished long operations go (control's agent directory, or a transport). */
  reports: OperationReportSink;
  /** This host's network data plane; unset when networking is off ([network] enabled). */
  network?: HostNetworkCalls;
  logger?: Logger;
}

export class LocalAgent implements ComputeAgent {
  readonly host: string;
  private readonly lifecycle: LifecycleOperations;
  private readonly log: Logger;
  private readonly work = new Set<Promise<void>>();
  private reports: OperationReportSink;

  constructor(private readonly o: LocalAgentOptions) {
    this.host = o.manager.host;
    this.lifecycle = new LifecycleOperations(o.manager);
    this.log = (o.logger ?? silentLogger).child({ component: 'compute-agent' });
    this.reports = o.reports;
  }

  /** Sends the reports of operations that end from now on to sink (a transport change). */
  reportTo(sink: OperationReportSink): void {
    this.reports = sink;
  }

  /** Waits until every operation started here has ended and been reported (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.work.size) await Promise.allSettled([...this.work]);
  }

  private cast(operation: CastOperation, r: InstanceTask, run: () => Promise<boolean>): Promise<Accepted> {
    const done = run()
      .catch((err: unknown) => {
        this.log.error({ instance: r.instanceUuid, operation, err }, 'compute operation failed');
        return false;
      })
      .then((ok) => {
        try {
          this.reports({
            host: this.host,
            operation,
            instanceUuid: r.instanceUuid,
            actionId: r.actionId,
            ok,
          });
        } catch (err) {
          this.log.warn({ instance: r.instanceUuid, operation, err }, 'could not send an operation report');
        }
      });
    this.work.add(done);
    void done.finally(() => this.work.delete(done));
    return Promise.resolve({ accepted: true });
  }

  build(r: BuildRequest) {
    return this.cast('build', r, () => this.o.manager.build(r.instanceUuid, r.actionId));
  }
  delete(r: DeleteRequest) {
    return this.cast('delete', r, () => this.o.manager.delete(r.instanceUuid, r.actionId));
  }
  power(r: PowerRequest) {
    return this.cast('power', r, () => this.o.manager.act(r.instanceUuid, r.action, r.actionId));
  }
  snapshot(r: SnapshotRequest) {
    return this.cast('snapshot', r, () => this.o.manager.snapshot(r.instanceUuid, r.imageId, r.actionId));
  }
  rebuild(r: RebuildRequest) {
    return this.cast('rebuild', r, () =>
      this.lifecycle.rebuild(
        r.instanceUuid,
        r.actionId,
        r.imageId,
        r.previousVmState,
        r.preserveEphemeral === true,
      ),
    );
  }
  shelve(r: ShelveRequest) {
    return this.cast('shelve', r, () =>
      this.lifecycle.shelve(r.instanceUuid, r.actionId, r.imageId, r.previousVmState, r.offloadNow),
    );
  }
  shelveOffload(r: ShelveOffloadRequest) {
    return this.cast('shelveOffload', r, () => this.lifecycle.offload(r.instanceUuid, r.actionId));
  }
  unshelve(r: UnshelveRequest) {
    return this.cast('unshelve', r, () =>
      this.lifecycle.unshelve(r.instanceUuid, r.actionId, r.shelvedImageId ?? undefined),
    );
  }
  backup(r: BackupRequest) {
    return this.cast('backup', r, () =>
      this.lifecycle.backup(r.instanceUuid, r.actionId, r.imageId, r.backupType, r.rotation),
    );
  }
  softDelete(r: SoftDeleteRequest) {
    return this.cast('softDelete', r, () =>
      this.lifecycle.softDelete(r.instanceUuid, r.actionId, r.previousVmState),
    );
  }
  restore(r: RestoreRequest) {
    return this.cast('restore', r, () => this.lifecycle.restore(r.instanceUuid, r.actionId));
  }

  async setPassword(r: SetPasswordRequest): Promise<Completed> {
    await this.lifecycle.setPassword(r.instanceUuid, r.user, r.password);
    return { completed: true };
  }

  async diagnostics(r: DiagnosticsRequest): Promise<Diagnostics> {
    const info = await this.lifecycle.diagnostics(r.instanceUuid);
    return {
      powerState: info.state,
      cpuTimeNs: Number(info.cpuTimeNs),
      memoryKb: info.memoryKb,
      maxMemoryKb: info.maxMemoryKb,
      vcpus: info.vcpus,
    };
  }

  async consoleOutput(r: ConsoleOutputRequest): Promise<ConsoleOutput> {
    return { output: await this.o.driver.consoleOutput(r.instanceUuid, r.maxBytes ?? CONSOLE_MAX_BYTES) };
  }

  async vncEndpoint(r: VncEndpointRequest): Promise<ConsoleEndpoint> {
    const e = await this.o.manager.vncEndpoint(r.instanceUuid);
    return e.kind === 'unix' ? { kind: 'unix', path: e.path } : { kind: 'tcp', host: e.host, port: e.port };
  }

  openSerialConsole(r: SerialConsoleRequest): Promise<Duplex> {
    return this.o.manager.openSerialConsole(r.instanceUuid);
  }

  async hostReport(): Promise<HostReport> {
    const status = await this.o.driver.hostStatus();
    if (this.o.diskCapacity) {
      try {
        status.localDiskGb = Math.floor((await this.o.diskCapacity()).totalBytes / 1024 ** 3);
      } catch (err) {
        this.log.warn(
          { err },
          'cannot read the disk backend capacity; DISK_GB keeps the instances_path size',
        );
      }
    }
    await publishHost(this.o.repos, status, this.o.ratios, this.host, this.o.cpuSets);
    const report: HostReport = {
      host: this.host,
      hypervisorType: status.hypervisorType,
      hypervisorVersion: status.hypervisorVersion,
      virtType: status.virtType,
      vcpus: status.vcpus,
      memoryMb: status.memoryMb,
      localDiskGb: status.localDiskGb,
      cpuInfo: {
        arch: status.cpuInfo.arch,
        model: status.cpuInfo.model,
        vendor: status.cpuInfo.vendor,
        features: [...status.cpuInfo.features],
      },
      traits: [...status.traits],
      memEncryptionSlots: status.memEncryptionSlots,
      reportedAt: new Date().toISOString(),
    };
    await this.o.repos.hostReports.publish(this.host, report, report.reportedAt);
    return report;
  }

  async networkApply(r: HostNetworkChange): Promise<Completed> {
    await this.hostNetwork().networkApply(r);
    return { completed: true };
  }

  networkSync(r: HostNetworkState): Promise<NetworkSyncReport> {
    return this.hostNetwork().networkSync(r);
  }

  private hostNetwork(): HostNetworkCalls {
    if (!this.o.network)
      throw new KestrelError('conflict', `Networking is off on host ${this.host}.`, {
        fix: 'set [network] enabled = true and restart kestrel serve.',
      });
    return this.o.network;
  }
}
