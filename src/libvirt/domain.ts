// The domain half of the typed façade. Every method takes a DomainRef (name + 16-byte UUID);
// libvirtd resolves domains by UUID. Flag values are libvirt's (libvirt-api.xml, cross-checked by
// a test) and exported so callers never write numbers.
import { procedures as P } from './procedures.js';
import { DomainRef, uuidToBytes, type SnapshotRef } from './handles.js';
import { migrateParams, type MigrateParams, type TypedParam, typedParamsToRecord } from './typed-params.js';
import type { LibvirtClient } from './client.js';
import { duplexStream, type DuplexStream } from './stream.js';

/** virDomainState */
export const DomainState = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;
export const DOMAIN_STATE_NAMES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;
export type DomainStateName = (typeof DOMAIN_STATE_NAMES)[number];

/** virConnectListAllDomainsFlags */
export const ListDomainsFlags = {
  ACTIVE: 1,
  INACTIVE: 2,
  PERSISTENT: 4,
  TRANSIENT: 8,
  RUNNING: 16,
  PAUSED: 32,
  SHUTOFF: 64,
  OTHER: 128,
  MANAGEDSAVE: 256,
  NO_MANAGEDSAVE: 512,
  AUTOSTART: 1024,
  NO_AUTOSTART: 2048,
  HAS_SNAPSHOT: 4096,
  NO_SNAPSHOT: 8192,
} as const;

export const DefineFlags = { VALIDATE: 1 } as const;
export const CreateFlags = {
  PAUSED: 1,
  AUTODESTROY: 2,
  BYPASS_CACHE: 4,
  FORCE_BOOT: 8,
  VALIDATE: 16,
  RESET_NVRAM: 32,
} as const;
export const DestroyFlags = { DEFAULT: 0, GRACEFUL: 1, REMOVE_LOGS: 2 } as const;
/** virDomainConsoleFlags */
export const ConsoleFlags = { FORCE: 1, SAFE: 2 } as const;
export const ShutdownFlags = {
  DEFAULT: 0,
  ACPI_POWER_BTN: 1,
  GUEST_AGENT: 2,
  INITCTL: 4,
  SIGNAL: 8,
  PARAVIRT: 16,
} as const;
export const RebootFlags = ShutdownFlags;
export const UndefineFlags = {
  MANAGED_SAVE: 1,
  SNAPSHOTS_METADATA: 2,
  NVRAM: 4,
  KEEP_NVRAM: 8,
  CHECKPOINTS_METADATA: 16,
  TPM: 32,
  KEEP_TPM: 64,
} as const;
export const XmlFlags = { SECURE: 1, INACTIVE: 2, UPDATE_CPU: 4, MIGRATABLE: 8 } as const;
export const ModificationImpact = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;
export const MetadataType = { DESCRIPTION: 0, TITLE: 1, ELEMENT: 2 } as const;
export const SnapshotCreateFlags = {
  REDEFINE: 1,
  CURRENT: 2,
  NO_METADATA: 4,
  HALT: 8,
  DISK_ONLY: 16,
  REUSE_EXT: 32,
  QUIESCE: 64,
  ATOMIC: 128,
  LIVE: 256,
  VALIDATE: 512,
} as const;
export const BlockCopyFlags = { SHALLOW: 1, REUSE_EXT: 2, TRANSIENT_JOB: 4, SYNCHRONOUS_WRITES: 8 } as const;
export const BlockJobAbortFlags = { ASYNC: 1, PIVOT: 2 } as const;
export const MigrateFlags = {
  LIVE: 1,
  PEER2PEER: 2,
  TUNNELLED: 4,
  PERSIST_DEST: 8,
  UNDEFINE_SOURCE: 16,
  PAUSED: 32,
  NON_SHARED_DISK: 64,
  NON_SHARED_INC: 128,
  CHANGE_PROTECTION: 256,
  UNSAFE: 512,
  OFFLINE: 1024,
  COMPRESSED: 2048,
  ABORT_ON_ERROR: 4096,
  AUTO_CONVERGE: 8192,
  RDMA_PIN_ALL: 16384,
  POSTCOPY: 32768,
  TLS: 65536,
  PARALLEL: 131072,
  NON_SHARED_SYNCHRONOUS_WRITES: 262144,
  POSTCOPY_RESUME: 524288,
  ZEROCOPY: 1048576,
} as const;
/** Agent command timeouts (seconds, or these). */
export const AgentTimeout = { BLOCK: -2, DEFAULT: -1, NOWAIT: 0, SHUTDOWN: 60 } as const;

export interface DomainStateInfo {
  state: number;
  stateName: DomainStateName | `unknown-${number}`;
  /** virDomain<State>Reason */
  reason: number;
}

export interface DomainInfo {
  state: number;
  stateName: DomainStateName | `unknown-${number}`;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  /** CPU time in nanoseconds (can pass 2^53). */
  cpuTimeNs: bigint;
}

export interface BlockJobInfo {
  type: number;
  bandwidth: bigint;
  cur: bigint;
  end: bigint;
}

export interface MigrateOptions {
  params?: MigrateParams;
  extraParams?: TypedParam[];
  flags?: number;
  cookieIn?: Buffer;
  timeoutMs?: number;
}

function stateName(s: number): DomainStateName | `unknown-${number}` {
  return DOMAIN_STATE_NAMES[s] ?? `unknown-${s}`;
}

export class DomainApi {
  constructor(private readonly client: LibvirtClient) {}

  /** Defines (or updates) a persistent domain; flags: DefineFlags. */
  async defineXml(xml: string, flags = 0): Promise<DomainRef> {
    return (await this.client.call(P.domainDefineXmlFlags, { xml, flags })).dom;
  }

  /** Creates and starts a transient domain. */
  async createXml(xml: string, flags = 0): Promise<DomainRef> {
    return (await this.client.call(P.domainCreateXml, { xmlDesc: xml, flags })).dom;
  }

  /** Starts a defined domain; returns the handle with its new id. Flags: CreateFlags. */
  async create(dom: DomainRef, flags = 0): Promise<DomainRef> {
    return (await this.client.call(P.domainCreateWithFlags, { dom, flags })).dom;
  }

  async lookupByName(name: string): Promise<DomainRef> {
    return (await this.client.call(P.domainLookupByName, { name })).dom;
  }

  async lookupByUuid(uuid: string | Uint8Array): Promise<DomainRef> {
    const bytes = typeof uuid === 'string' ? uuidToBytes(uuid) : Buffer.from(uuid);
    return (await this.client.call(P.domainLookupByUuid, { uuid: bytes })).dom;
  }

  /** All domains matching ListDomainsFlags (0 = all). */
  async listAll(flags = 0): Promise<DomainRef[]> {
    return (await this.client.call(P.connectListAllDomains, { needResults: 1, flags })).domains;
  }

  async getState(dom: DomainRef): Promise<DomainStateInfo> {
    const r = await this.client.call(P.domainGetState, { dom, flags: 0 });
    return { state: r.state, stateName: stateName(r.state), reason: r.reason };
  }

  async getInfo(dom: DomainRef): Promise<DomainInfo> {
    const r = await this.client.call(P.domainGetInfo, { dom });
    return {
      state: r.state,
      stateName: stateName(r.state),
      maxMemKiB: Number(r.maxMem),
      memoryKiB: Number(r.memory),
      vcpus: r.nrVirtCpu,
      cpuTimeNs: r.cpuTime,
    };
  }

  /** The domain XML; flags: XmlFlags. */
  /**
   * The guest's console (devName null = the first console/serial) as a stream both ways. FORCE
   * takes the console from another client (it is closed); SAFE refuses unless the driver can
   * tell when the console is taken away.
   */
  openConsole(dom: DomainRef, devName: string | null = null, flags = 0): Promise<DuplexStream> {
    return duplexStream(this.client, P.domainOpenConsole, { dom, devName, flags });
  }

  async getXmlDesc(dom: DomainRef, flags = 0): Promise<string> {
    return (await this.client.call(P.domainGetXmlDesc, { dom, flags })).xml;
  }

  /** Graceful shutdown request; flags: ShutdownFlags. Returns before the guest is down. */
  async shutdown(dom: DomainRef, flags = 0): Promise<void> {
    await this.client.call(P.domainShutdownFlags, { dom, flags });
  }

  async reboot(dom: DomainRef, flags = 0): Promise<void> {
    await this.client.call(P.domainReboot, { dom, flags });
  }

  /** Hard stop; flags: DestroyFlags (GRACEFUL = SIGTERM only). */
  async destroy(dom: DomainRef, flags = 0): Promise<void> {
    await this.client.call(P.domainDestroyFlags, { dom, flags });
  }

  async suspend(dom: DomainRef): Promise<void> {
    await this.client.call(P.domainSuspend, { dom });
  }

  async resume(dom: DomainRef): Promise<void> {
    await this.client.call(P.domainResume, { dom });
  }

  async managedSave(dom: DomainRef, flags = 0, timeoutMs?: number): Promise<void> {
    await this.client.call(P.domainManagedSave, { dom, flags }, { timeoutMs });
  }

  async hasManagedSaveImage(dom: DomainRef): Promise<boolean> {
    return (await this.client.call(P.domainHasManagedSaveImage, { dom, flags: 0 })).result !== 0;
  }

  async managedSaveRemove(dom: DomainRef): Promise<void> {
    await this.client.call(P.domainManagedSaveRemove, { dom, flags: 0 });
  }

  /** Removes the definition; flags: UndefineFlags (the test driver rejects NVRAM and TPM). */
  async undefine(dom: DomainRef, flags = 0): Promise<void> {
    await this.client.call(P.domainUndefineFlags, { dom, flags });
  }

  /** Reads <description>, <title> or a namespaced <metadata> element (uri required for ELEMENT). */
  async getMetadata(dom: DomainRef, type: number, uri: string | null = null, flags = 0): Promise<string> {
    return (await this.client.call(P.domainGetMetadata, { dom, type, uri, flags })).metadata;
  }

  /** Sets (or with null, removes) metadata; ELEMENT needs key (the XML prefix) and uri. */
  async setMetadata(
    dom: DomainRef,
    type: number,
    metadata: string | null,
    opts: { key?: string; uri?: string; flags?: number } = {},
  ): Promise<void> {
    await this.client.call(P.domainSetMetadata, {
      dom,
      type,
      metadata,
      key: opts.key ?? null,
      uri: opts.uri ?? null,
      flags: opts.flags ?? 0,
    });
  }

  async snapshotCreateXml(dom: DomainRef, xml: string, flags = 0): Promise<SnapshotRef> {
    return (await this.client.call(P.domainSnapshotCreateXml, { dom, xmlDesc: xml, flags })).snap;
  }

  async snapshotLookupByName(dom: DomainRef, name: string): Promise<SnapshotRef> {
    return (await this.client.call(P.domainSnapshotLookupByName, { dom, name, flags: 0 })).snap;
  }

  async snapshotDelete(snap: SnapshotRef, flags = 0): Promise<void> {
    await this.client.call(P.domainSnapshotDelete, { snap, flags });
  }

  /** Starts a block copy of disk `path` (target dev or source path) to the disk in destXml. */
  async blockCopy(
    dom: DomainRef,
    path: string,
    destXml: string,
    params: TypedParam[] = [],
    flags = 0,
  ): Promise<void> {
    await this.client.call(P.domainBlockCopy, { dom, path, destxml: destXml, params, flags });
  }

  async blockJobAbort(dom: DomainRef, path: string, flags = 0): Promise<void> {
    await this.client.call(P.domainBlockJobAbort, { dom, path, flags });
  }

  /** The block job on `path`, or null when there is none. */
  async getBlockJobInfo(dom: DomainRef, path: string): Promise<BlockJobInfo | null> {
    const r = await this.client.call(P.domainGetBlockJobInfo, { dom, path, flags: 0 });
    if (r.found === 0) return null;
    return { type: r.type, bandwidth: r.bandwidth, cur: r.cur, end: r.end };
  }

  async getJobStats(
    dom: DomainRef,
    flags = 0,
  ): Promise<{ type: number; stats: ReturnType<typeof typedParamsToRecord> }> {
    const r = await this.client.call(P.domainGetJobStats, { dom, flags });
    return { type: r.type, stats: typedParamsToRecord(r.params) };
  }

  async abortJob(dom: DomainRef): Promise<void> {
    await this.client.call(P.domainAbortJob, { dom });
  }

  // --- migrate v3 "params" family (A13). Managed peer-to-peer needs only migratePerform3. ---

  async migrateBegin3(
    dom: DomainRef,
    opts: MigrateOptions = {},
  ): Promise<{ cookieOut: Buffer; xml: string }> {
    const params = migrateParams(opts.params ?? {}, opts.extraParams);
    return this.client.call(
      P.domainMigrateBegin3Params,
      { dom, params, flags: opts.flags ?? 0 },
      { timeoutMs: opts.timeoutMs },
    );
  }

  async migratePrepare3(opts: MigrateOptions = {}): Promise<{ cookieOut: Buffer; uriOut: string | null }> {
    const params = migrateParams(opts.params ?? {}, opts.extraParams);
    return this.client.call(
      P.domainMigratePrepare3Params,
      { params, cookieIn: opts.cookieIn ?? Buffer.alloc(0), flags: opts.flags ?? 0 },
      { timeoutMs: opts.timeoutMs },
    );
  }

  /** With MigrateFlags.PEER2PEER and dconnuri set, the source daemon drives the whole migration. */
  async migratePerform3(
    dom: DomainRef,
    dconnuri: string | null,
    opts: MigrateOptions = {},
  ): Promise<{ cookieOut: Buffer }> {
    const params = migrateParams(opts.params ?? {}, opts.extraParams);
    return this.client.call(
      P.domainMigratePerform3Params,
      { dom, dconnuri, params, cookieIn: opts.cookieIn ?? Buffer.alloc(0), flags: opts.flags ?? 0 },
      { timeoutMs: opts.timeoutMs },
    );
  }

  async migrateFinish3(
    cancelled: boolean,
    opts: MigrateOptions = {},
  ): Promise<{ dom: DomainRef; cookieOut: Buffer }> {
    const params = migrateParams(opts.params ?? {}, opts.extraParams);
    return this.client.call(
      P.domainMigrateFinish3Params,
      {
        params,
        cookieIn: opts.cookieIn ?? Buffer.alloc(0),
        flags: opts.flags ?? 0,
        cancelled: cancelled ? 1 : 0,
      },
      { timeoutMs: opts.timeoutMs },
    );
  }

  async migrateConfirm3(dom: DomainRef, cancelled: boolean, opts: MigrateOptions = {}): Promise<void> {
    const params = migrateParams(opts.params ?? {}, opts.extraParams);
    await this.client.call(
      P.domainMigrateConfirm3Params,
      {
        dom,
        params,
        cookieIn: opts.cookieIn ?? Buffer.alloc(0),
        flags: opts.flags ?? 0,
        cancelled: cancelled ? 1 : 0,
      },
      { timeoutMs: opts.timeoutMs },
    );
  }

  /**
   * Runs a QEMU guest agent command (JSON text) and returns the agent's JSON reply. timeoutSec:
   * seconds or AgentTimeout.*; the RPC budget adds 30 s so libvirt reports the agent timeout itself.
   */
  async agentCommand(
    dom: DomainRef,
    cmd: string,
    timeoutSec: number = AgentTimeout.DEFAULT,
    flags = 0,
  ): Promise<string | null> {
    const budget = timeoutSec > 0 ? (timeoutSec + 30) * 1000 : timeoutSec === AgentTimeout.BLOCK ? 0 : 60_000;
    const r = await this.client.call(
      P.qemuDomainAgentCommand,
      { dom, cmd, timeout: timeoutSec, flags },
      { timeoutMs: budget },
    );
    return r.result;
  }
}

export { DomainRef };
