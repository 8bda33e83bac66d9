// LibvirtClient: one logical connection to libvirtd for one URI. It performs the handshake
// (AUTH_LIST → AUTH_POLKIT if asked → keepalive feature → CONNECT_OPEN), runs procedures from the
// table, keeps event subscriptions, and when libvirtd goes away it fails the calls in flight with a
// retryable error, reconnects with backoff, re-registers its event callbacks and emits
// 'reconnected' so owners can resync. The typed façade hangs off it: client.host, client.domains,
// client.secrets, client.storage, client.events.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { silentLogger, type Logger } from '../util/log.js';
import { RpcConnection, type CallOptions, type ConnectionOptions } from './connection.js';
import { LibvirtConnectionError } from './errors.js';
import {
  DomainEvents,
  EVENT_KINDS,
  agentLifecycleEvent,
  blockJobEvent,
  jobCompletedEvent,
  lifecycleEvent,
  type EventKind,
} from './events.js';
import type { DomainRef } from './handles.js';
import { Program, type Header } from './packet.js';
import { AuthType, FEATURE_PROGRAM_KEEPALIVE, messages, procedures, type ProcDef } from './procedures.js';
import { XdrWriter, decode } from './xdr.js';
import { HostApi } from './host.js';
import { DomainApi } from './domain.js';
import { SecretApi, StorageApi } from './storage.js';

export interface ClientOptions {
  /**
   * libvirt URI: qemu:///system, qemu+unix:///system, test:///default, test+unix:///default.
   * Only local UNIX-socket transports are supported.
   */
  uri: string;
  /** Override the socket path (default: derived from the URI, see socketPathForUri). */
  socketPath?: string;
  readOnly?: boolean;
  /** Reconnect after libvirtd goes away (default true). */
  reconnect?: boolean;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Default per-call budget in ms (procedures may carry their own). */
  callTimeoutMs?: number;
  maxInFlight?: number;
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  connectTimeoutMs?: number;
  logger?: Logger;
}

export interface ParsedUri {
  /** The name sent in CONNECT_OPEN, e.g. "test:///default". */
  name: string;
  driver: string;
}

/** Splits a local libvirt URI; rejects remote transports (tcp, tls, ssh) this client cannot speak. */
export function parseUri(uri: string): ParsedUri {
  const m = /^([a-z0-9]+)(?:\+([a-z]+))?:\/\/([^/]*)(\/.*)?$/i.exec(uri);
  if (!m)
    throw new LibvirtConnectionError(
      'not-connected',
      `"${uri}" is not a libvirt URI (expected e.g. qemu:///system)`,
    );
  const [, driver, transport, host, rest = ''] = m;
  if ((transport && transport !== 'unix') || host) {
    throw new LibvirtConnectionError(
      'not-connected',
      `libvirt URI "${uri}" needs a remote transport; Kestrel's client speaks only to the local UNIX socket (use ${driver}:///${rest.replace(/^\//, '').split('?')[0]})`,
    );
  }
  const query = rest.includes('?') ? rest.slice(rest.indexOf('?')) : '';
  return {
    name: `${driver}://${rest.split('?')[0]}${query.replace(/[?&]socket=[^&]*/, '').replace(/^&/, '?')}`,
    driver,
  };
}

/**
 * The socket for a local URI, the way libvirt's remote driver picks it: a modular daemon's own
 * socket (virtqemud-sock for qemu) when it exists, else the monolithic libvirtd socket.
 */
export function socketPathForUri(uri: string, readOnly = false, runDir = '/run/libvirt'): string {
  const q = /[?&]socket=([^&]+)/.exec(uri);
  if (q) return decodeURIComponent(q[1]);
  const { driver } = parseUri(uri);
  const suffix = readOnly ? '-sock-ro' : '-sock';
  const modular = `${runDir}/virt${driver}d${suffix}`;
  if (driver !== 'test' && existsSync(modular)) return modular;
  return `${runDir}/libvirt${suffix}`;
}

interface Subscription {
  kind: EventKind;
  domain: DomainRef | null;
  /** The daemon's callback ID on the current connection (changes on every reconnect). */
  remoteId: number | null;
}

export interface CallOverrides {
  timeoutMs?: number;
}

/**
 * Events: 'disconnected' (error), 'reconnected' (), 'reconnect-failed' (error, attempt) and
 * 'closed' () after close(). Domain events are on `client.events`.
 */
export class LibvirtClient extends EventEmitter {
  readonly uri: string;
  readonly socketPath: string;
  readonly host: HostApi;
  readonly domains: DomainApi;
  readonly secrets: SecretApi;
  readonly storage: StorageApi;
  readonly events = new DomainEvents();
  private readonly opts: ClientOptions;
  private readonly openName: string;
  private readonly log: Logger;
  private conn: RpcConnection | null = null;
  private closed = false;
  private reconnecting: Promise<void> | null = null;
  private readonly subscriptions = new Set<Subscription>();
  private readonly byRemoteId = new Map<number, Subscription>();
  private readonly writer = new XdrWriter(4096);
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  private constructor(opts: ClientOptions) {
    super();
    this.opts = opts;
    this.uri = opts.uri;
    this.openName = parseUri(opts.uri).name;
    this.socketPath = opts.socketPath ?? socketPathForUri(opts.uri, opts.readOnly);
    this.log = opts.logger ?? silentLogger;
    this.host = new HostApi(this);
    this.domains = new DomainApi(this);
    this.secrets = new SecretApi(this);
    this.storage = new StorageApi(this);
  }

  /** Connects and opens the URI. Rejects (no retry) if libvirtd is not there now. */
  static async connect(opts: ClientOptions): Promise<LibvirtClient> {
    const client = new LibvirtClient(opts);
    client.conn = await client.openConnection();
    return client;
  }

  get connected(): boolean {
    return this.conn !== null && this.conn.isOpen;
  }

  /** The live connection (tests and streams); null while reconnecting. */
  get connection(): RpcConnection | null {
    return this.conn;
  }

  /** Runs one procedure from the table. */
  async call<A, R>(
    proc: ProcDef<A, R>,
    args: A,
    overrides: CallOverrides & Pick<CallOptions, 'stream'> = {},
  ): Promise<R> {
    const conn = await this.liveConnection(proc.name);
    return this.callOn(conn, proc, args, overrides);
  }

  /** Like call(), but also returns the connection and serial (streams need both). */
  async callWithSerial<A, R>(
    proc: ProcDef<A, R>,
    args: A,
    overrides: CallOverrides & Pick<CallOptions, 'stream'> = {},
  ): Promise<{ result: R; conn: RpcConnection }> {
    const conn = await this.liveConnection(proc.name);
    const result = await this.callOn(conn, proc, args, overrides);
    return { result, conn };
  }

  private async callOn<A, R>(
    conn: RpcConnection,
    proc: ProcDef<A, R>,
    args: A,
    overrides: CallOverrides & Pick<CallOptions, 'stream'>,
  ): Promise<R> {
    let payload: Buffer;
    try {
      this.writer.reset();
      proc.args.encode(this.writer, args);
      payload = this.writer.view();
    } catch (e) {
      throw new LibvirtConnectionError(
        'encode',
        `libvirt ${proc.name}: cannot encode the arguments: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const timeoutMs = overrides.timeoutMs ?? proc.timeoutMs ?? this.opts.callTimeoutMs;
    // conn.call copies the payload into its packet synchronously, so the shared writer is free again.
    const reply = await conn.call(proc.prog, proc.proc, proc.name, payload, {
      timeoutMs,
      stream: overrides.stream,
    });
    try {
      return decode(proc.ret, reply);
    } catch (e) {
      throw new LibvirtConnectionError(
        'decode',
        `libvirt ${proc.name}: cannot decode the reply: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** Subscribes to an event kind (all domains, or one). Idempotent per kind+domain. */
  async subscribe(kind: EventKind, domain: DomainRef | null = null): Promise<void> {
    for (const s of this.subscriptions) {
      if (s.kind === kind && (s.domain?.uuidString ?? null) === (domain?.uuidString ?? null)) return;
    }
    const sub: Subscription = { kind, domain, remoteId: null };
    this.subscriptions.add(sub);
    try {
      await this.register(sub);
    } catch (e) {
      this.subscriptions.delete(sub);
      throw e;
    }
  }

  /** Drops a subscription made by subscribe(). */
  async unsubscribe(kind: EventKind, domain: DomainRef | null = null): Promise<void> {
    for (const s of [...this.subscriptions]) {
      if (s.kind !== kind || (s.domain?.uuidString ?? null) !== (domain?.uuidString ?? null)) continue;
      this.subscriptions.delete(s);
      if (s.remoteId !== null) {
        this.byRemoteId.delete(s.remoteId);
        if (this.connected)
          await this.call(procedures.connectDomainEventCallbackDeregisterAny, { callbackID: s.remoteId });
      }
    }
  }

  private async register(sub: Subscription, conn?: RpcConnection): Promise<void> {
    const args = { eventID: EVENT_KINDS[sub.kind], dom: sub.domain };
    const { callbackID } = conn
      ? await this.callOn(conn, procedures.connectDomainEventCallbackRegisterAny, args, {})
      : await this.call(procedures.connectDomainEventCallbackRegisterAny, args);
    sub.remoteId = callbackID;
    this.byRemoteId.set(callbackID, sub);
  }

  /** CONNECT_CLOSE, then closes the socket. Pending calls reject; no reconnect follows. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conn = this.conn;
    for (const w of this.waiters.splice(0)) {
      w.reject(new LibvirtConnectionError('not-connected', `the libvirt client for ${this.uri} was closed`));
    }
    if (conn && conn.isOpen) {
      try {
        await conn.call(
          procedures.connectClose.prog,
          procedures.connectClose.proc,
          procedures.connectClose.name,
          null,
          { timeoutMs: 2_000 },
        );
      } catch (e) {
        this.log.debug({ err: e }, 'libvirt client: CONNECT_CLOSE failed during close (ignored)');
      }
      await conn.close();
    }
    this.conn = null;
    this.emit('closed');
  }

  // --- connection lifecycle ---

  private connectionOptions(): ConnectionOptions {
    return {
      path: this.socketPath,
      maxInFlight: this.opts.maxInFlight,
      defaultTimeoutMs: this.opts.callTimeoutMs,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs,
      keepaliveCount: this.opts.keepaliveCount,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      logger: this.log,
    };
  }

  /** Opens a socket and performs the handshake; re-registers subscriptions on it. */
  private async openConnection(): Promise<RpcConnection> {
    const conn = await RpcConnection.connect(this.connectionOptions());
    try {
      const { types } = await this.callOn(conn, procedures.authList, undefined, { timeoutMs: 30_000 });
      if (types.includes(AuthType.POLKIT) && !types.includes(AuthType.NONE)) {
        await this.callOn(conn, procedures.authPolkit, undefined, { timeoutMs: 30_000 });
      } else if (!types.includes(AuthType.NONE) && types.length > 0) {
        throw new LibvirtConnectionError(
          'not-connected',
          `libvirtd at ${this.socketPath} requires authentication type(s) ${types.join(', ')} (1 = SASL), which this client does not implement; set auth_unix_rw = "none" or "polkit" in libvirtd.conf`,
        );
      }
      // Asking for the keepalive feature is what makes the daemon ping us (and expect pongs).
      await this.callOn(conn, procedures.connectSupportsFeature, { feature: FEATURE_PROGRAM_KEEPALIVE }, {});
      await this.callOn(
        conn,
        procedures.connectOpen,
        { name: this.openName, flags: this.opts.readOnly ? 1 : 0 },
        { timeoutMs: 120_000 },
      );
      conn.on('message', (h: Header, payload: Buffer) => this.onMessage(h, payload));
      this.byRemoteId.clear();
      for (const sub of this.subscriptions) await this.register(sub, conn);
    } catch (e) {
      conn.destroy(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    conn.once('close', (err: Error | null) => this.onConnectionClosed(conn, err));
    return conn;
  }

  private onConnectionClosed(conn: RpcConnection, err: Error | null): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (this.closed) return;
    const reason = err ?? new LibvirtConnectionError('closed', `the connection to ${this.socketPath} closed`);
    this.log.warn({ err: reason.message }, 'libvirt client: connection lost');
    this.emit('disconnected', reason);
    if (this.opts.reconnect === false) {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(reason);
      return;
    }
    this.reconnecting ??= this.reconnectLoop().finally(() => {
      this.reconnecting = null;
    });
  }

  private async reconnectLoop(): Promise<void> {
    const initial = this.opts.reconnectInitialDelayMs ?? 100;
    const max = this.opts.reconnectMaxDelayMs ?? 5_000;
    let delay = initial;
    for (let attempt = 1; !this.closed; attempt++) {
      await sleep(delay * (0.75 + Math.random() * 0.5));
      if (this.closed) return;
      try {
        const conn = await this.openConnection();
        if (this.closed) {
          await conn.close();
          return;
        }
        if (!conn.isOpen)
          throw new LibvirtConnectionError('closed', 'the new connection closed during the handshake');
        this.conn = conn;
        this.log.info({ attempt }, 'libvirt client: reconnected');
        for (const w of this.waiters.splice(0)) w.resolve();
        this.emit('reconnected');
        return;
      } catch (e) {
        this.log.debug({ err: (e as Error).message, attempt }, 'libvirt client: reconnect attempt failed');
        this.emit('reconnect-failed', e, attempt);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  /**
   * The connection to send on. While reconnecting, a new call waits for the connection (bounded
   * by the call's own budget) instead of failing at once: it has not been sent, so it is safe.
   */
  private liveConnection(name: string): Promise<RpcConnection> | RpcConnection {
    if (this.conn && this.conn.isOpen) return this.conn;
    if (this.closed) {
      return Promise.reject(
        new LibvirtConnectionError(
          'not-connected',
          `libvirt ${name} not sent: the client for ${this.uri} is closed`,
        ),
      );
    }
    const waitMs = this.opts.callTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new LibvirtConnectionError(
            'not-connected',
            `libvirt ${name} not sent: libvirtd at ${this.socketPath} has been unreachable for ${waitMs} ms; start it with scripts/start-libvirt`,
          ),
        );
      }, waitMs);
      this.waiters.push(waiter);
    }).then(() => {
      if (!this.conn)
        throw new LibvirtConnectionError('not-connected', `libvirt ${name} not sent: no connection`);
      return this.conn;
    });
  }

  private onMessage(h: Header, payload: Buffer): void {
    if (h.prog !== Program.REMOTE) {
      this.log.debug(
        { prog: h.prog, proc: h.proc },
        'libvirt client: message from an unhandled program ignored',
      );
      return;
    }
    try {
      if (h.proc === messages.domainEventCallbackLifecycle.proc) {
        const m = decode(messages.domainEventCallbackLifecycle.msg, payload);
        if (this.byRemoteId.has(m.callbackID)) this.events.deliver(lifecycleEvent(m.dom, m.event, m.detail));
      } else if (h.proc === messages.domainEventCallbackAgentLifecycle.proc) {
        const m = decode(messages.domainEventCallbackAgentLifecycle.msg, payload);
        if (this.byRemoteId.has(m.callbackID))
          this.events.deliver(agentLifecycleEvent(m.dom, m.state, m.reason));
      } else if (h.proc === messages.domainEventBlockJob2.proc) {
        const m = decode(messages.domainEventBlockJob2.msg, payload);
        if (this.byRemoteId.has(m.callbackID))
          this.events.deliver(blockJobEvent(m.dom, m.dst, m.type, m.status));
      } else if (h.proc === messages.domainEventCallbackJobCompleted.proc) {
        const m = decode(messages.domainEventCallbackJobCompleted.msg, payload);
        if (this.byRemoteId.has(m.callbackID)) this.events.deliver(jobCompletedEvent(m.dom, m.params));
      } else {
        this.log.debug({ proc: h.proc }, 'libvirt client: event message without a decoder ignored');
      }
    } catch (e) {
      this.log.warn(
        { err: (e as Error).message, proc: h.proc },
        'libvirt client: undecodable event message ignored',
      );
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
