// One socket to libvirtd: framing, serial matching, pipelining under the daemon's per-connection
// limit, per-call timeouts, keepalive, stream packet routing and orderly close. It knows nothing
// of procedures' shapes (procedures.ts) or of reconnecting (client.ts owns a series of these).
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../util/log.js';
import { LibvirtConnectionError, LibvirtError, xremoteError } from './errors.js';
import {
  type Header,
  type Packet,
  KeepaliveProc,
  MessageStatus,
  MessageType,
  PROTOCOL_VERSION,
  PacketError,
  PacketReader,
  Program,
  encodePacket,
} from './packet.js';
import { decode } from './xdr.js';

export interface ConnectionOptions {
  /** UNIX socket path, e.g. /run/libvirt/libvirt-sock. */
  path: string;
  /**
   * Calls on the wire at once (default 4). libvirtd's max_client_requests defaults to 5; at that
   * many the daemon stops reading the socket, keepalive PONGs included, so five slow calls could
   * get a healthy connection dropped for "missed" keepalives. One below the limit keeps the socket
   * readable; the rest of the calls wait here.
   */
  maxInFlight?: number;
  /** Budget for a call that names none (ms; 0 = none). */
  defaultTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Send a PING after this long without traffic from the daemon (ms; 0 disables our pings). */
  keepaliveIntervalMs?: number;
  /** Declare the daemon dead after this many unanswered pings. */
  keepaliveCount?: number;
  logger?: Logger;
}

export interface CallOptions {
  /** ms; 0 = wait forever (e.g. a migration that polls its own progress). */
  timeoutMs?: number;
  /** Receives STREAM packets with this call's serial (storage volume upload/download). */
  stream?: StreamSink;
}

/** Receives the STREAM packets of one call. */
export interface StreamSink {
  /** Told the serial (and connection) the stream's packets will carry. */
  attach?(serial: number, conn: RpcConnection): void;
  onPacket(header: Header, payload: Buffer): void;
  onClose(err: Error): void;
}

interface PendingCall {
  serial: number;
  name: string;
  packet: Buffer;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  sent: boolean;
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

export interface ConnectionStats {
  calls: number;
  unknownSerialReplies: number;
  lateReplies: number;
  pingsSent: number;
  pingsAnswered: number;
}

/**
 * Events: 'message' (header, payload) for MESSAGE packets of the remote/qemu programs (events);
 * 'close' (error | null) once, when the socket is gone (null after close()).
 */
export class RpcConnection extends EventEmitter {
  readonly path: string;
  private readonly socket: Socket;
  private readonly reader = new PacketReader();
  private readonly log: Logger;
  private readonly maxInFlight: number;
  private readonly defaultTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly keepaliveCount: number;
  private serial = 0;
  private readonly inFlight = new Map<number, PendingCall>();
  private queue: PendingCall[] = [];
  private queueHead = 0;
  private readonly streams = new Map<number, StreamSink>();
  /** Serials that timed out recently: their late replies are expected, not suspicious. */
  private readonly timedOut = new Set<number>();
  private closedError: Error | null | undefined = undefined;
  private closingByUs = false;
  private lastReceived = Date.now();
  private missedPings = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  readonly stats: ConnectionStats = {
    calls: 0,
    unknownSerialReplies: 0,
    lateReplies: 0,
    pingsSent: 0,
    pingsAnswered: 0,
  };

  private constructor(socket: Socket, opts: ConnectionOptions) {
    super();
    this.socket = socket;
    this.path = opts.path;
    this.log = opts.logger ?? silentLogger;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
    this.keepaliveIntervalMs = opts.keepaliveIntervalMs ?? 5_000;
    this.keepaliveCount = opts.keepaliveCount ?? 5;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(this.lostError(err)));
    socket.on('close', () => this.shutdown(this.lostError()));
    if (this.keepaliveIntervalMs > 0) {
      this.keepaliveTimer = setInterval(() => this.keepaliveTick(), this.keepaliveIntervalMs);
      this.keepaliveTimer.unref();
    }
  }

  /** Opens the socket. Rejects with a LibvirtConnectionError naming the path and the fix. */
  static connect(opts: ConnectionOptions): Promise<RpcConnection> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: opts.path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new LibvirtConnectionError(
            'not-connected',
            `connecting to libvirtd at ${opts.path} timed out after ${timeoutMs} ms; is libvirtd hung? (scripts/start-libvirt restarts it)`,
          ),
        );
      }, timeoutMs);
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT'
            ? 'the socket does not exist, so libvirtd is not running'
            : err.code === 'ECONNREFUSED'
              ? 'nothing is listening on it, so libvirtd is down or restarting'
              : err.code === 'EACCES'
                ? 'permission denied; run as root or as a member of the libvirt group'
                : err.message;
        reject(
          new LibvirtConnectionError(
            'not-connected',
            `cannot connect to libvirtd at ${opts.path}: ${why} (start it with scripts/start-libvirt)`,
            {
              cause: err,
            },
          ),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RpcConnection(socket, opts));
      });
    });
  }

  get isOpen(): boolean {
    return this.closedError === undefined;
  }

  get pendingCount(): number {
    return this.inFlight.size + (this.queue.length - this.queueHead);
  }

  /**
   * Sends one CALL and resolves with the REPLY payload (a copy-free view; decode it at once),
   * or rejects with LibvirtError (the daemon's remote_error) or LibvirtConnectionError.
   */
  call(
    prog: number,
    proc: number,
    name: string,
    payload: Uint8Array | null,
    opts: CallOptions = {},
  ): Promise<Buffer> {
    if (this.closedError !== undefined) {
      return Promise.reject(
        new LibvirtConnectionError(
          'not-connected',
          `libvirt ${name} not sent: the connection to ${this.path} is closed; wait for the client to reconnect`,
        ),
      );
    }
    const serial = this.nextSerial();
    let packet: Buffer;
    try {
      packet = encodePacket(
        { prog, vers: PROTOCOL_VERSION, proc, type: MessageType.CALL, serial, status: MessageStatus.OK },
        payload ?? undefined,
      );
    } catch (e) {
      return Promise.reject(
        new LibvirtConnectionError('encode', `libvirt ${name}: ${(e as Error).message}`, { cause: e }),
      );
    }
    this.stats.calls++;
    return new Promise<Buffer>((resolve, reject) => {
      const call: PendingCall = {
        serial,
        name,
        packet,
        timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs,
        timer: undefined,
        sent: false,
        resolve,
        reject,
      };
      if (call.timeoutMs > 0) {
        call.timer = setTimeout(() => this.onTimeout(call), call.timeoutMs);
      }
      if (opts.stream) {
        this.streams.set(serial, opts.stream);
        opts.stream.attach?.(serial, this);
      }
      if (this.inFlight.size < this.maxInFlight) this.send(call);
      else this.queue.push(call);
    });
  }

  /** Sends a STREAM packet for an open stream; resolves once the socket can take more (back-pressure). */
  sendStream(
    prog: number,
    proc: number,
    serial: number,
    status: number,
    payload?: Uint8Array,
  ): Promise<void> {
    if (this.closedError !== undefined) {
      return Promise.reject(
        new LibvirtConnectionError(
          'not-connected',
          `stream packet not sent: the connection to ${this.path} is closed`,
        ),
      );
    }
    const packet = encodePacket(
      { prog, vers: PROTOCOL_VERSION, proc, type: MessageType.STREAM, serial, status },
      payload,
    );
    if (this.socket.write(packet)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.off('close', onClose);
        resolve();
      };
      const onClose = (err: Error | null) => {
        this.socket.off('drain', onDrain);
        reject(
          err ?? new LibvirtConnectionError('not-connected', 'connection closed while a stream was writing'),
        );
      };
      this.socket.once('drain', onDrain);
      this.once('close', onClose);
    });
  }

  /** Forgets a finished stream. */
  endStream(serial: number): void {
    this.streams.delete(serial);
  }

  /** Stops reading from the socket (a slow stream consumer) or resumes. */
  setReading(on: boolean): void {
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  /** Sends a MESSAGE packet (keepalive). */
  private sendMessage(prog: number, proc: number): void {
    if (this.closedError !== undefined) return;
    this.socket.write(
      encodePacket({
        prog,
        vers: PROTOCOL_VERSION,
        proc,
        type: MessageType.MESSAGE,
        serial: 0,
        status: MessageStatus.OK,
      }),
    );
  }

  /** Closes the socket; calls still pending reject with a 'not-connected' error. Idempotent. */
  close(): Promise<void> {
    if (this.closedError !== undefined) return Promise.resolve();
    this.closingByUs = true;
    return new Promise((resolve) => {
      this.once('close', () => resolve());
      this.socket.end();
      // A daemon that never closes its end must not hold us.
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    });
  }

  /** Tears the connection down at once with the given reason (tests, keepalive, protocol errors). */
  destroy(err: Error): void {
    this.shutdown(err);
    this.socket.destroy();
  }

  private nextSerial(): number {
    this.serial = (this.serial + 1) >>> 0;
    if (this.serial === 0) this.serial = 1; // serial 0 is reserved for MESSAGE packets
    return this.serial;
  }

  private send(call: PendingCall): void {
    call.sent = true;
    this.inFlight.set(call.serial, call);
    this.socket.write(call.packet);
    call.packet = EMPTY; // let it be collected while we wait
  }

  private pump(): void {
    while (this.inFlight.size < this.maxInFlight && this.queueHead < this.queue.length) {
      const call = this.queue[this.queueHead++];
      if (call.sent) continue; // timed out while queued (marked sent to skip)
      this.send(call);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private onTimeout(call: PendingCall): void {
    call.timer = undefined;
    if (call.sent) {
      if (!this.inFlight.delete(call.serial)) return;
      this.rememberTimedOut(call.serial);
    } else {
      call.sent = true; // skip it in the queue
    }
    this.streams.get(call.serial)?.onClose(new Error('stream call timed out'));
    this.streams.delete(call.serial);
    call.reject(
      new LibvirtConnectionError(
        'timeout',
        `libvirt ${call.name} got no reply within ${call.timeoutMs} ms from ${this.path}; the daemon may be busy (QEMU probing, a long job) — retry, or give this call a larger timeout`,
      ),
    );
    this.pump();
  }

  private rememberTimedOut(serial: number): void {
    this.timedOut.add(serial);
    if (this.timedOut.size > 4096) {
      const first = this.timedOut.values().next().value;
      if (first !== undefined) this.timedOut.delete(first);
    }
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    this.missedPings = 0;
    let packets: Packet[];
    try {
      packets = this.reader.push(chunk);
    } catch (e) {
      const msg = e instanceof PacketError ? e.message : String(e);
      this.log.error({ path: this.path }, `libvirt connection: ${msg}`);
      this.destroy(
        new LibvirtConnectionError('protocol', `libvirt connection to ${this.path} dropped: ${msg}`, {
          cause: e,
        }),
      );
      return;
    }
    for (const p of packets) {
      try {
        this.dispatch(p);
      } catch (e) {
        // A handler bug must not take the connection down with it.
        this.log.error({ err: e, proc: p.header.proc }, 'libvirt connection: packet handler failed');
      }
    }
  }

  private dispatch({ header, payload }: Packet): void {
    switch (header.type) {
      case MessageType.REPLY:
        this.onReply(header, payload);
        return;
      case MessageType.MESSAGE:
        if (header.prog === Program.KEEPALIVE) {
          if (header.proc === KeepaliveProc.PING) this.sendMessage(Program.KEEPALIVE, KeepaliveProc.PONG);
          else if (header.proc === KeepaliveProc.PONG) this.stats.pingsAnswered++;
          return;
        }
        this.emit('message', header, payload);
        return;
      case MessageType.STREAM:
      case MessageType.STREAM_HOLE: {
        const sink = this.streams.get(header.serial);
        if (sink) sink.onPacket(header, payload);
        else
          this.log.debug(
            { serial: header.serial },
            'libvirt connection: stream packet for no open stream dropped',
          );
        return;
      }
      default:
        this.log.warn(
          { type: header.type, proc: header.proc },
          'libvirt connection: unexpected packet type ignored',
        );
    }
  }

  private onReply(header: Header, payload: Buffer): void {
    const call = this.inFlight.get(header.serial);
    if (!call) {
      if (this.timedOut.delete(header.serial)) {
        this.stats.lateReplies++;
        this.log.debug(
          { serial: header.serial, proc: header.proc },
          'libvirt connection: late reply to a timed-out call dropped',
        );
      } else {
        this.stats.unknownSerialReplies++;
        this.log.warn(
          { serial: header.serial, proc: header.proc },
          'libvirt connection: reply with an unknown serial ignored',
        );
      }
      return;
    }
    this.inFlight.delete(header.serial);
    if (call.timer) clearTimeout(call.timer);
    if (header.status === MessageStatus.OK) {
      call.resolve(payload);
    } else {
      if (this.streams.has(header.serial)) {
        this.streams.delete(header.serial);
      }
      call.reject(this.decodeError(payload, call.name));
    }
    this.pump();
  }

  private decodeError(payload: Buffer, name: string): Error {
    try {
      return new LibvirtError(decode(xremoteError, payload), name);
    } catch (e) {
      return new LibvirtConnectionError(
        'decode',
        `libvirt ${name} failed and its error could not be decoded: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** Decodes a STREAM+ERROR payload (used by stream.ts). */
  streamError(payload: Buffer, name: string): Error {
    return this.decodeError(payload, name);
  }

  private keepaliveTick(): void {
    if (this.closedError !== undefined) return;
    if (Date.now() - this.lastReceived < this.keepaliveIntervalMs) return;
    if (this.missedPings >= this.keepaliveCount) {
      const msg = `libvirtd at ${this.path} answered none of ${this.keepaliveCount} keepalive pings in ${((this.keepaliveCount + 1) * this.keepaliveIntervalMs) / 1000} s; treating it as dead`;
      this.log.error(msg);
      this.destroy(new LibvirtConnectionError('keepalive', msg));
      return;
    }
    this.missedPings++;
    this.stats.pingsSent++;
    this.sendMessage(Program.KEEPALIVE, KeepaliveProc.PING);
  }

  private lostError(err?: Error): Error {
    if (this.closingByUs) {
      return new LibvirtConnectionError(
        'not-connected',
        `the connection to ${this.path} was closed by this client`,
      );
    }
    return new LibvirtConnectionError(
      'closed',
      `libvirtd closed the connection to ${this.path}${err ? ` (${err.message})` : ''}; libvirtd restarted or crashed — the call is safe to retry once the client has reconnected`,
      { cause: err },
    );
  }

  private shutdown(err: Error): void {
    if (this.closedError !== undefined) return;
    this.closedError = this.closingByUs ? null : err;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    const pending = [...this.inFlight.values(), ...this.queue.slice(this.queueHead).filter((c) => !c.sent)];
    this.inFlight.clear();
    this.queue = [];
    this.queueHead = 0;
    for (const call of pending) {
      if (call.timer) clearTimeout(call.timer);
      call.reject(err instanceof LibvirtConnectionError ? withCallName(err, call.name) : err);
    }
    for (const sink of this.streams.values()) sink.onClose(err);
    this.streams.clear();
    this.emit('close', this.closedError);
  }
}

const EMPTY = Buffer.alloc(0);

function withCallName(err: LibvirtConnectionError, name: string): LibvirtConnectionError {
  return new LibvirtConnectionError(err.kind, `libvirt ${name} failed: ${err.message}`, { cause: err.cause });
}
