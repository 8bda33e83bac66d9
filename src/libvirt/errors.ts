// Errors from the libvirt RPC client. Two kinds:
//  - LibvirtError: the daemon answered with a remote_error (code, domain, level, message kept intact);
//  - LibvirtConnectionError: the call never got an answer (socket lost, timeout, protocol breakage).
// Predicates (isNoDomain, isRetryable, …) let callers branch without knowing numbers.
import { type Codec, xint, xostr, xoptional, xstruct, xstr, xfixedOpaque } from './xdr.js';

/** virErrorNumber values used by Kestrel (libvirt-api.xml; cross-checked by a test). */
export const ErrorCode = {
  OK: 0,
  INTERNAL_ERROR: 1,
  NO_MEMORY: 2,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_DOMAIN: 7,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_NETWORK: 43,
  AUTH_FAILED: 45,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  OPERATION_INVALID: 55,
  NO_SECRET: 66,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  NO_DOMAIN_SNAPSHOT: 72,
  ARGUMENT_UNSUPPORTED: 74,
  OPERATION_ABORTED: 78,
  NO_DOMAIN_METADATA: 80,
  MIGRATE_UNSAFE: 81,
  BLOCK_COPY_ACTIVE: 83,
  OPERATION_UNSUPPORTED: 84,
  AGENT_UNRESPONSIVE: 86,
  RESOURCE_BUSY: 87,
  ACCESS_DENIED: 88,
  STORAGE_VOL_EXIST: 90,
  CPU_INCOMPATIBLE: 91,
  AGENT_UNSYNCED: 97,
  DEVICE_MISSING: 99,
} as const;

/** virErrorDomain values (which subsystem raised the error). */
export const ErrorDomain = {
  NONE: 0,
  DOM: 6,
  RPC: 7,
  QEMU: 10,
  TEST: 12,
  REMOTE: 13,
  STORAGE: 18,
  SECRET: 30,
  CPU: 31,
} as const;

/** virErrorLevel */
export const ErrorLevel = { NONE: 0, WARNING: 1, ERROR: 2 } as const;

const xnonnullDomainForError = xstruct({ name: xstr, uuid: xfixedOpaque(16), id: xint });
const xnonnullNetworkForError = xstruct({ name: xstr, uuid: xfixedOpaque(16) });

/** remote_error */
export const xremoteError = xstruct({
  code: xint,
  domain: xint,
  message: xostr,
  level: xint,
  dom: xoptional(xnonnullDomainForError),
  str1: xostr,
  str2: xostr,
  str3: xostr,
  int1: xint,
  int2: xint,
  net: xoptional(xnonnullNetworkForError),
});

export type RemoteError = typeof xremoteError extends Codec<infer T> ? T : never;

const codeNames = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** An error reported by libvirtd for one call. */
export class LibvirtError extends Error {
  readonly code: number;
  readonly domain: number;
  readonly level: number;
  /** libvirt's own message, unchanged. */
  readonly libvirtMessage: string;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;
  /** The procedure that failed, e.g. "DOMAIN_CREATE_WITH_FLAGS". */
  readonly procedure: string;

  constructor(err: RemoteError, procedure: string) {
    const msg = err.message ?? `libvirt error code ${err.code}`;
    super(
      `libvirt ${procedure} failed: ${msg} (code ${err.code} ${codeNames.get(err.code) ?? ''}, domain ${err.domain})`,
    );
    this.name = 'LibvirtError';
    this.code = err.code;
    this.domain = err.domain;
    this.level = err.level;
    this.libvirtMessage = msg;
    this.str1 = err.str1;
    this.str2 = err.str2;
    this.str3 = err.str3;
    this.int1 = err.int1;
    this.int2 = err.int2;
    this.procedure = procedure;
  }

  get codeName(): string {
    return codeNames.get(this.code) ?? `UNKNOWN_${this.code}`;
  }
}

export type ConnectionErrorKind =
  | 'closed' // the daemon closed the socket (restart, crash) with calls in flight
  | 'not-connected' // no connection (connect failed, or client closed)
  | 'timeout' // no reply within the call's budget
  | 'keepalive' // the daemon stopped answering keepalive pings
  | 'protocol' // malformed packet from the daemon
  | 'encode' // the arguments could not be encoded (caller bug; not retryable)
  | 'decode'; // the reply could not be decoded (shape mismatch; not retryable)

/** The call got no answer from libvirtd. `retryable` says whether trying again can help. */
export class LibvirtConnectionError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly kind: ConnectionErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LibvirtConnectionError';
    this.retryable = kind !== 'encode' && kind !== 'decode';
  }
}

function libvirtCode(e: unknown): number | undefined {
  return e instanceof LibvirtError ? e.code : undefined;
}

export const isLibvirtError = (e: unknown): e is LibvirtError => e instanceof LibvirtError;
export const isNoDomain = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_DOMAIN;
export const isDomainExists = (e: unknown): boolean => libvirtCode(e) === ErrorCode.DOM_EXIST;
export const isOperationInvalid = (e: unknown): boolean => libvirtCode(e) === ErrorCode.OPERATION_INVALID;
export const isOperationFailed = (e: unknown): boolean => libvirtCode(e) === ErrorCode.OPERATION_FAILED;
export const isNoSecret = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_SECRET;
export const isNoStoragePool = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_STORAGE_POOL;
export const isNoStorageVol = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_STORAGE_VOL;
export const isNoSnapshot = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_DOMAIN_SNAPSHOT;
export const isNoMetadata = (e: unknown): boolean => libvirtCode(e) === ErrorCode.NO_DOMAIN_METADATA;
export const isOperationTimeout = (e: unknown): boolean => libvirtCode(e) === ErrorCode.OPERATION_TIMEOUT;
export const isCpuIncompatible = (e: unknown): boolean => libvirtCode(e) === ErrorCode.CPU_INCOMPATIBLE;
export const isInvalidArg = (e: unknown): boolean => libvirtCode(e) === ErrorCode.INVALID_ARG;

/** The API (or a flag of it) is not supported by this driver or daemon. */
export function isNoSupport(e: unknown): boolean {
  const code = libvirtCode(e);
  if (
    code === ErrorCode.NO_SUPPORT ||
    code === ErrorCode.OPERATION_UNSUPPORTED ||
    code === ErrorCode.ARGUMENT_UNSUPPORTED
  ) {
    return true;
  }
  // An older daemon that lacks a procedure answers VIR_ERR_RPC "unknown procedure: N".
  return code === ErrorCode.RPC && /unknown procedure/i.test((e as LibvirtError).libvirtMessage);
}

/** The guest agent is not there, not connected, or not answering. */
export function isAgentUnresponsive(e: unknown): boolean {
  const code = libvirtCode(e);
  if (code === ErrorCode.AGENT_UNRESPONSIVE || code === ErrorCode.AGENT_UNSYNCED) return true;
  // A domain with no agent channel at all: "argument unsupported: QEMU guest agent is not configured".
  return (
    (code === ErrorCode.ARGUMENT_UNSUPPORTED || code === ErrorCode.OPERATION_INVALID) &&
    /guest agent/i.test((e as LibvirtError).libvirtMessage)
  );
}

/** The connection to libvirtd broke (daemon restart, crash, dead keepalive). */
export function isConnectionLost(e: unknown): boolean {
  return (
    e instanceof LibvirtConnectionError &&
    (e.kind === 'closed' || e.kind === 'keepalive' || e.kind === 'not-connected')
  );
}

/** Trying again later (after `reconnected`) can succeed. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof LibvirtConnectionError) return e.retryable;
  const code = libvirtCode(e);
  return (
    code === ErrorCode.OPERATION_TIMEOUT ||
    code === ErrorCode.RESOURCE_BUSY ||
    code === ErrorCode.AGENT_UNRESPONSIVE
  );
}
