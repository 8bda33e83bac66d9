// The declarative procedure table: number, argument shape and return shape for every libvirt
// RPC Kestrel uses. Numbers and layouts are libvirt's (remote_protocol.x, qemu_protocol.x), which
// only ever grow; names follow REMOTE_PROC_<NAME>. The façade (host.ts, domain.ts, …) is the only
// user; nothing above this layer sees XDR.
import { Program } from './packet.js';
import { xdomain, xsecret, xsnapshot, xstoragePool, xstorageVol, xuuid } from './handles.js';
import { xtypedParams } from './typed-params.js';
import {
  type Codec,
  type Fields,
  Limits,
  xarray,
  xcharArray,
  xint,
  xopaque,
  xoptional,
  xostr,
  xstr,
  xstruct,
  xuhyper,
  xuint,
  xvoid,
} from './xdr.js';

export interface ProcDef<A, R> {
  /** REMOTE_PROC_ name without the prefix, e.g. "DOMAIN_GET_STATE" (QEMU ones: "QEMU_DOMAIN_AGENT_COMMAND"). */
  name: string;
  prog: number;
  proc: number;
  args: Codec<A>;
  ret: Codec<R>;
  /** A budget larger (or smaller) than the client default, in ms; 0 = none. */
  timeoutMs?: number;
  /** The call opens a data stream (STORAGE_VOL_UPLOAD / DOWNLOAD; DOMAIN_OPEN_CONSOLE both ways). */
  stream?: 'upload' | 'download' | 'duplex';
}

export type ArgsOf<P> = P extends ProcDef<infer A, unknown> ? A : never;
export type RetOf<P> = P extends ProcDef<unknown, infer R> ? R : never;

function remote<A, R>(
  proc: number,
  name: string,
  args: Codec<A>,
  ret: Codec<R>,
  extra: Partial<ProcDef<A, R>> = {},
): ProcDef<A, R> {
  return { name, prog: Program.REMOTE, proc, args, ret, ...extra };
}

function qemu<A, R>(
  proc: number,
  name: string,
  args: Codec<A>,
  ret: Codec<R>,
  extra: Partial<ProcDef<A, R>> = {},
): ProcDef<A, R> {
  return { name, prog: Program.QEMU, proc, args, ret, ...extra };
}

const SLOW = 180_000; // QEMU capability probing, domain start/stop on a busy host
const MEDIUM = 60_000;

// Shapes many procedures share: a handle alone, a handle with flags, an XML document with flags.
const domFlags = xstruct({ dom: xdomain, flags: xuint });
const domOnly = xstruct({ dom: xdomain });
const domPathFlags = xstruct({ dom: xdomain, path: xstr, flags: xuint });
const xmlFlags = xstruct({ xml: xstr, flags: xuint });
const secretOnly = xstruct({ secret: xsecret });
const poolOnly = xstruct({ pool: xstoragePool });
const volOnly = xstruct({ vol: xstorageVol });
/** A byte range of a volume, for the stream procedures (upload, download). */
const volRange = xstruct({ vol: xstorageVol, offset: xuhyper, length: xuhyper, flags: xuint });
/** An event message: the callback id the daemon gave our registration, the domain, its own fields. */
const domainEvent = <F extends Fields>(fields: F) => xstruct({ callbackID: xint, dom: xdomain, ...fields });
/** emulator, arch, machine, virttype: all optional strings (hypervisor CPU and domain capabilities calls). */
const hvTarget = { emulator: xostr, arch: xostr, machine: xostr, virttype: xostr };
const migrateParamList = xtypedParams(Limits.MIGRATE_PARAM_LIST_MAX);
const cookie = xopaque(Limits.MIGRATE_COOKIE_MAX);

export const procedures = {
  // --- connection and auth ---
  connectOpen: remote(1, 'CONNECT_OPEN', xstruct({ name: xostr, flags: xuint }), xvoid),
  connectClose: remote(2, 'CONNECT_CLOSE', xvoid, xvoid),
  connectGetType: remote(3, 'CONNECT_GET_TYPE', xvoid, xstruct({ type: xstr })),
  connectGetVersion: remote(4, 'CONNECT_GET_VERSION', xvoid, xstruct({ hvVer: xuhyper })),
  connectGetLibVersion: remote(157, 'CONNECT_GET_LIB_VERSION', xvoid, xstruct({ libVer: xuhyper })),
  connectGetHostname: remote(59, 'CONNECT_GET_HOSTNAME', xvoid, xstruct({ hostname: xstr })),
  connectSupportsFeature: remote(
    60,
    'CONNECT_SUPPORTS_FEATURE',
    xstruct({ feature: xint }),
    xstruct({ supported: xint }),
  ),
  authList: remote(66, 'AUTH_LIST', xvoid, xstruct({ types: xarray(xint, Limits.AUTH_TYPE_LIST_MAX) })),
  authPolkit: remote(70, 'AUTH_POLKIT', xvoid, xstruct({ complete: xint })),

  // --- host ---
  nodeGetInfo: remote(
    6,
    'NODE_GET_INFO',
    xvoid,
    xstruct({
      model: xcharArray(32), // char[32]: 32 four-byte words on the wire
      memory: xuhyper, // KiB
      cpus: xint,
      mhz: xint,
      nodes: xint,
      sockets: xint,
      cores: xint,
      threads: xint,
    }),
  ),
  connectGetCapabilities: remote(7, 'CONNECT_GET_CAPABILITIES', xvoid, xstruct({ capabilities: xstr }), {
    timeoutMs: MEDIUM,
  }),
  connectGetDomainCapabilities: remote(
    342,
    'CONNECT_GET_DOMAIN_CAPABILITIES',
    xstruct({ emulatorbin: xostr, arch: xostr, machine: xostr, virttype: xostr, flags: xuint }),
    xstruct({ capabilities: xstr }),
    { timeoutMs: SLOW },
  ),
  connectGetCpuModelNames: remote(
    312,
    'CONNECT_GET_CPU_MODEL_NAMES',
    xstruct({ arch: xstr, needResults: xint, flags: xuint }),
    xstruct({ models: xarray(xstr, Limits.CPU_MODELS_MAX), ret: xint }),
  ),
  // The host-independent variants: compare against the host CPU, and baseline from libvirt's CPU map
  // (with EXPAND_FEATURES this lists a named model's own features, whatever the host can run).
  connectCompareCpu: remote(158, 'CONNECT_COMPARE_CPU', xmlFlags, xstruct({ result: xint })),
  connectBaselineCpu: remote(
    162,
    'CONNECT_BASELINE_CPU',
    xstruct({ xmlCPUs: xarray(xstr, Limits.CPU_BASELINE_MAX), flags: xuint }),
    xstruct({ cpu: xstr }),
  ),
  connectCompareHypervisorCpu: remote(
    393,
    'CONNECT_COMPARE_HYPERVISOR_CPU',
    xstruct({ ...hvTarget, xmlCPU: xstr, flags: xuint }),
    xstruct({ result: xint }),
    { timeoutMs: SLOW },
  ),
  connectBaselineHypervisorCpu: remote(
    394,
    'CONNECT_BASELINE_HYPERVISOR_CPU',
    xstruct({ ...hvTarget, xmlCPUs: xarray(xstr, Limits.CPU_BASELINE_MAX), flags: xuint }),
    xstruct({ cpu: xstr }),
    { timeoutMs: SLOW },
  ),

  // --- domains: definition and lookup ---
  connectListAllDomains: remote(
    273,
    'CONNECT_LIST_ALL_DOMAINS',
    xstruct({ needResults: xint, flags: xuint }),
    xstruct({ domains: xarray(xdomain, Limits.DOMAIN_LIST_MAX), ret: xuint }),
  ),
  domainDefineXmlFlags: remote(350, 'DOMAIN_DEFINE_XML_FLAGS', xmlFlags, domOnly, { timeoutMs: MEDIUM }),
  domainCreateXml: remote(10, 'DOMAIN_CREATE_XML', xstruct({ xmlDesc: xstr, flags: xuint }), domOnly, {
    timeoutMs: SLOW,
  }),
  domainUndefineFlags: remote(231, 'DOMAIN_UNDEFINE_FLAGS', domFlags, xvoid, { timeoutMs: MEDIUM }),
  domainLookupByName: remote(23, 'DOMAIN_LOOKUP_BY_NAME', xstruct({ name: xstr }), domOnly),
  domainLookupByUuid: remote(24, 'DOMAIN_LOOKUP_BY_UUID', xstruct({ uuid: xuuid }), domOnly),
  domainGetXmlDesc: remote(14, 'DOMAIN_GET_XML_DESC', domFlags, xstruct({ xml: xstr })),
  domainGetMetadata: remote(
    265,
    'DOMAIN_GET_METADATA',
    xstruct({ dom: xdomain, type: xint, uri: xostr, flags: xuint }),
    xstruct({ metadata: xstr }),
  ),
  domainSetMetadata: remote(
    264,
    'DOMAIN_SET_METADATA',
    xstruct({ dom: xdomain, type: xint, metadata: xostr, key: xostr, uri: xostr, flags: xuint }),
    xvoid,
  ),

  // --- domains: state and lifecycle ---
  domainGetState: remote(212, 'DOMAIN_GET_STATE', domFlags, xstruct({ state: xint, reason: xint })),
  domainGetInfo: remote(
    16,
    'DOMAIN_GET_INFO',
    domOnly,
    // uchar state and ushort nrVirtCpu each take a 4-byte word.
    xstruct({ state: xuint, maxMem: xuhyper, memory: xuhyper, nrVirtCpu: xuint, cpuTime: xuhyper }),
  ),
  domainCreateWithFlags: remote(196, 'DOMAIN_CREATE_WITH_FLAGS', domFlags, domOnly, { timeoutMs: SLOW }),
  domainShutdownFlags: remote(258, 'DOMAIN_SHUTDOWN_FLAGS', domFlags, xvoid, { timeoutMs: MEDIUM }),
  domainReboot: remote(27, 'DOMAIN_REBOOT', domFlags, xvoid, { timeoutMs: MEDIUM }),
  domainDestroyFlags: remote(234, 'DOMAIN_DESTROY_FLAGS', domFlags, xvoid, { timeoutMs: SLOW }),
  domainSuspend: remote(34, 'DOMAIN_SUSPEND', domOnly, xvoid, { timeoutMs: MEDIUM }),
  domainResume: remote(28, 'DOMAIN_RESUME', domOnly, xvoid, { timeoutMs: MEDIUM }),
  domainManagedSave: remote(182, 'DOMAIN_MANAGED_SAVE', domFlags, xvoid, { timeoutMs: 0 }),
  domainHasManagedSaveImage: remote(
    183,
    'DOMAIN_HAS_MANAGED_SAVE_IMAGE',
    domFlags,
    xstruct({ result: xint }),
  ),
  domainManagedSaveRemove: remote(184, 'DOMAIN_MANAGED_SAVE_REMOVE', domFlags, xvoid),

  // --- snapshots and block jobs ---
  domainSnapshotCreateXml: remote(
    185,
    'DOMAIN_SNAPSHOT_CREATE_XML',
    xstruct({ dom: xdomain, xmlDesc: xstr, flags: xuint }),
    xstruct({ snap: xsnapshot }),
    { timeoutMs: 0 },
  ),
  domainSnapshotLookupByName: remote(
    189,
    'DOMAIN_SNAPSHOT_LOOKUP_BY_NAME',
    xstruct({ dom: xdomain, name: xstr, flags: xuint }),
    xstruct({ snap: xsnapshot }),
  ),
  domainSnapshotDelete: remote(
    193,
    'DOMAIN_SNAPSHOT_DELETE',
    xstruct({ snap: xsnapshot, flags: xuint }),
    xvoid,
    { timeoutMs: 0 },
  ),
  domainBlockCopy: remote(
    345,
    'DOMAIN_BLOCK_COPY',
    xstruct({
      dom: xdomain,
      path: xstr,
      destxml: xstr,
      params: xtypedParams(Limits.BLOCK_COPY_PARAMETERS_MAX),
      flags: xuint,
    }),
    xvoid,
    { timeoutMs: MEDIUM },
  ),
  domainBlockJobAbort: remote(237, 'DOMAIN_BLOCK_JOB_ABORT', domPathFlags, xvoid, {
    timeoutMs: MEDIUM,
  }),
  domainGetBlockJobInfo: remote(
    238,
    'DOMAIN_GET_BLOCK_JOB_INFO',
    domPathFlags,
    xstruct({ found: xint, type: xint, bandwidth: xuhyper, cur: xuhyper, end: xuhyper }),
  ),

  // --- migration (v3 "params" family) and jobs ---
  domainMigrateBegin3Params: remote(
    302,
    'DOMAIN_MIGRATE_BEGIN3_PARAMS',
    xstruct({ dom: xdomain, params: migrateParamList, flags: xuint }),
    xstruct({ cookieOut: cookie, xml: xstr }),
    { timeoutMs: MEDIUM },
  ),
  domainMigratePrepare3Params: remote(
    303,
    'DOMAIN_MIGRATE_PREPARE3_PARAMS',
    xstruct({ params: migrateParamList, cookieIn: cookie, flags: xuint }),
    xstruct({ cookieOut: cookie, uriOut: xostr }),
    { timeoutMs: SLOW },
  ),
  domainMigratePerform3Params: remote(
    305,
    'DOMAIN_MIGRATE_PERFORM3_PARAMS',
    xstruct({ dom: xdomain, dconnuri: xostr, params: migrateParamList, cookieIn: cookie, flags: xuint }),
    xstruct({ cookieOut: cookie }),
    { timeoutMs: 0 },
  ),
  domainMigrateFinish3Params: remote(
    306,
    'DOMAIN_MIGRATE_FINISH3_PARAMS',
    xstruct({ params: migrateParamList, cookieIn: cookie, flags: xuint, cancelled: xint }),
    xstruct({ dom: xdomain, cookieOut: cookie }),
    { timeoutMs: SLOW },
  ),
  domainMigrateConfirm3Params: remote(
    307,
    'DOMAIN_MIGRATE_CONFIRM3_PARAMS',
    xstruct({ dom: xdomain, params: migrateParamList, cookieIn: cookie, flags: xuint, cancelled: xint }),
    xvoid,
    { timeoutMs: SLOW },
  ),
  domainGetJobStats: remote(
    298,
    'DOMAIN_GET_JOB_STATS',
    domFlags,
    xstruct({ type: xint, params: xtypedParams(Limits.JOB_STATS_MAX) }),
  ),
  domainAbortJob: remote(164, 'DOMAIN_ABORT_JOB', domOnly, xvoid, { timeoutMs: MEDIUM }),

  // --- secrets ---
  secretDefineXml: remote(142, 'SECRET_DEFINE_XML', xmlFlags, secretOnly),
  secretSetValue: remote(
    144,
    'SECRET_SET_VALUE',
    xstruct({ secret: xsecret, value: xopaque(Limits.SECRET_VALUE_MAX), flags: xuint }),
    xvoid,
  ),
  secretGetValue: remote(
    145,
    'SECRET_GET_VALUE',
    xstruct({ secret: xsecret, flags: xuint }),
    xstruct({ value: xopaque(Limits.SECRET_VALUE_MAX) }),
  ),
  secretUndefine: remote(146, 'SECRET_UNDEFINE', secretOnly, xvoid),
  secretLookupByUuid: remote(141, 'SECRET_LOOKUP_BY_UUID', xstruct({ uuid: xuuid }), secretOnly),
  secretLookupByUsage: remote(
    147,
    'SECRET_LOOKUP_BY_USAGE',
    xstruct({ usageType: xint, usageId: xstr }),
    secretOnly,
  ),

  // --- storage (pools for volume streams) ---
  storagePoolCreateXml: remote(76, 'STORAGE_POOL_CREATE_XML', xmlFlags, poolOnly, {
    timeoutMs: MEDIUM,
  }),
  storagePoolLookupByName: remote(84, 'STORAGE_POOL_LOOKUP_BY_NAME', xstruct({ name: xstr }), poolOnly),
  storagePoolDestroy: remote(80, 'STORAGE_POOL_DESTROY', poolOnly, xvoid, {
    timeoutMs: MEDIUM,
  }),
  storagePoolRefresh: remote(
    83,
    'STORAGE_POOL_REFRESH',
    xstruct({ pool: xstoragePool, flags: xuint }),
    xvoid,
    { timeoutMs: MEDIUM },
  ),
  storageVolCreateXml: remote(
    93,
    'STORAGE_VOL_CREATE_XML',
    xstruct({ pool: xstoragePool, xml: xstr, flags: xuint }),
    volOnly,
    { timeoutMs: 0 },
  ),
  storageVolLookupByName: remote(
    95,
    'STORAGE_VOL_LOOKUP_BY_NAME',
    xstruct({ pool: xstoragePool, name: xstr }),
    volOnly,
  ),
  storageVolDelete: remote(94, 'STORAGE_VOL_DELETE', xstruct({ vol: xstorageVol, flags: xuint }), xvoid, {
    timeoutMs: MEDIUM,
  }),
  storageVolGetInfo: remote(
    98,
    'STORAGE_VOL_GET_INFO',
    volOnly,
    xstruct({ type: xint, capacity: xuhyper, allocation: xuhyper }), // char type: a 4-byte word
  ),
  // A console stream: the guest's output arrives as STREAM/CONTINUE, our input goes the same way.
  domainOpenConsole: remote(
    201,
    'DOMAIN_OPEN_CONSOLE',
    xstruct({ dom: xdomain, devName: xostr, flags: xuint }),
    xvoid,
    { stream: 'duplex' },
  ),
  storageVolUpload: remote(208, 'STORAGE_VOL_UPLOAD', volRange, xvoid, {
    stream: 'upload',
    timeoutMs: MEDIUM,
  }),
  storageVolDownload: remote(209, 'STORAGE_VOL_DOWNLOAD', volRange, xvoid, {
    stream: 'download',
    timeoutMs: MEDIUM,
  }),

  // --- events ---
  connectDomainEventCallbackRegisterAny: remote(
    316,
    'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY',
    xstruct({ eventID: xint, dom: xoptional(xdomain) }),
    xstruct({ callbackID: xint }),
  ),
  connectDomainEventCallbackDeregisterAny: remote(
    317,
    'CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY',
    xstruct({ callbackID: xint }),
    xvoid,
  ),

  // --- QEMU program ---
  // timeout: seconds, or -2 block, -1 default, 0 no wait. The reply budget adds a margin (see domain.ts).
  qemuDomainAgentCommand: qemu(
    3,
    'QEMU_DOMAIN_AGENT_COMMAND',
    xstruct({ dom: xdomain, cmd: xstr, timeout: xint, flags: xuint }),
    xstruct({ result: xostr }),
  ),
};

/** Asynchronous MESSAGE packets (events) the client decodes. */
export const messages = {
  domainEventCallbackLifecycle: {
    name: 'DOMAIN_EVENT_CALLBACK_LIFECYCLE',
    prog: Program.REMOTE,
    proc: 318,
    msg: domainEvent({ event: xint, detail: xint }),
  },
  domainEventCallbackAgentLifecycle: {
    name: 'DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE',
    prog: Program.REMOTE,
    proc: 348,
    msg: domainEvent({ state: xint, reason: xint }),
  },
  // Registered as BLOCK_JOB_2 (16) through the callback API; libvirt named the message without "CALLBACK".
  domainEventBlockJob2: {
    name: 'DOMAIN_EVENT_BLOCK_JOB_2',
    prog: Program.REMOTE,
    proc: 339,
    msg: domainEvent({ dst: xstr, type: xint, status: xint }),
  },
  domainEventCallbackJobCompleted: {
    name: 'DOMAIN_EVENT_CALLBACK_JOB_COMPLETED',
    prog: Program.REMOTE,
    proc: 363,
    msg: domainEvent({ params: xtypedParams(Limits.JOB_STATS_MAX) }),
  },
} as const;

/** VIR_DRV_FEATURE_PROGRAM_KEEPALIVE: asking it (before CONNECT_OPEN) makes the daemon ping us. */
export const FEATURE_PROGRAM_KEEPALIVE = 10;

export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;
