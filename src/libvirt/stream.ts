// Data streams (storage volume upload/download). A stream is opened by an ordinary CALL; the data
// then flows as STREAM packets with the same program, procedure and serial:
//  upload:   REPLY ok → client sends STREAM/CONTINUE raw chunks → STREAM/OK "finish" → daemon STREAM/OK
//  download: REPLY ok → daemon sends STREAM/CONTINUE chunks → an empty CONTINUE (or OK) marks EOF →
//            client sends STREAM/OK "finish" → daemon confirms STREAM/OK.
//  duplex (a console): both at once; the daemon ends it with an empty CONTINUE or OK (the guest
//            stopped) or ERROR (another client took the console with FORCE).
// Either side aborts with STREAM/ERROR (the daemon's carries a remote_error).
import type { RpcConnection, StreamSink } from './connection.js';
import { LibvirtConnectionError } from './errors.js';
import { type Header, MessageStatus, MessageType, STREAM_CHUNK } from './packet.js';
import type { ProcDef } from './procedures.js';
import type { LibvirtClient } from './client.js';

const HIGH_WATER_CHUNKS = 16;

/** Tracks one stream's packets from the daemon. */
class StreamState implements StreamSink {
  serial = 0;
  conn: RpcConnection | null = null;
  readonly chunks: Buffer[] = [];
  eof = false;
  finished = false;
  error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly name: string) {}

  attach(serial: number, conn: RpcConnection): void {
    this.serial = serial;
    this.conn = conn;
  }

  onPacket(header: Header, payload: Buffer): void {
    if (header.type === MessageType.STREAM_HOLE) {
      this.error = new LibvirtConnectionError(
        'protocol',
        `libvirt ${this.name}: the daemon sent a sparse-stream hole, which was not requested`,
      );
    } else if (header.status === MessageStatus.CONTINUE) {
      if (payload.length === 0) this.eof = true;
      else {
        this.chunks.push(Buffer.from(payload));
        if (this.chunks.length >= HIGH_WATER_CHUNKS) this.conn?.setReading(false);
      }
    } else if (header.status === MessageStatus.OK) {
      // For a download an unsolicited OK is EOF and end together; after our finish it is the confirm.
      this.eof = true;
      this.finished = true;
    } else {
      this.error = this.conn
        ? this.conn.streamError(payload, this.name)
        : new Error(`libvirt ${this.name}: stream failed`);
    }
    this.notify();
  }

  onClose(err: Error): void {
    this.error ??= err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolves on the next packet or failure. */
  next(): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
    });
  }

  take(): Buffer | undefined {
    const c = this.chunks.shift();
    if (this.chunks.length === HIGH_WATER_CHUNKS / 2) this.conn?.setReading(true);
    return c;
  }
}

type StreamProc<A> = ProcDef<A, void>;

async function openStream<A>(client: LibvirtClient, proc: StreamProc<A>, args: A): Promise<StreamState> {
  const state = new StreamState(proc.name);
  const { conn } = await client.callWithSerial(proc, args, { stream: state });
  if (!state.conn) state.conn = conn;
  return state;
}

/** Sends all bytes of `source` into an upload stream opened by `proc`, then finishes it. */
export async function uploadStream<A>(
  client: LibvirtClient,
  proc: StreamProc<A>,
  args: A,
  source: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<{ bytes: number }> {
  const s = await openStream(client, proc, args);
  const conn = s.conn as RpcConnection;
  let bytes = 0;
  try {
    const iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      source instanceof Uint8Array ? [source] : source;
    for await (const chunk of iterable) {
      for (let off = 0; off < chunk.length; off += STREAM_CHUNK) {
        if (s.error) throw s.error;
        const piece = chunk.subarray(off, Math.min(chunk.length, off + STREAM_CHUNK));
        await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.CONTINUE, piece);
        bytes += piece.length;
      }
    }
    if (s.error) throw s.error;
    await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.OK);
    while (!s.finished && !s.error) await s.next();
    if (s.error) throw s.error;
    return { bytes };
  } catch (e) {
    if (conn.isOpen && !s.finished) {
      await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.ERROR).catch(() => undefined);
    }
    throw e;
  } finally {
    conn.endStream(s.serial);
  }
}

/** Yields the bytes of a download stream opened by `proc`; breaking out early aborts the stream. */
export async function* downloadStream<A>(
  client: LibvirtClient,
  proc: StreamProc<A>,
  args: A,
): AsyncGenerator<Buffer> {
  const s = await openStream(client, proc, args);
  const conn = s.conn as RpcConnection;
  let completed = false;
  try {
    for (;;) {
      const chunk = s.take();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (s.error) throw s.error;
      if (s.eof) break;
      await s.next();
    }
    if (!s.finished) {
      await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.OK);
      while (!s.finished && !s.error) await s.next();
      if (s.error) throw s.error;
    }
    completed = true;
  } finally {
    conn.setReading(true);
    if (!completed && conn.isOpen && !s.error) {
      // The consumer stopped early: tell the daemon to stop sending.
      await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.ERROR).catch(() => undefined);
    }
    conn.endStream(s.serial);
  }
}

/** Both directions of one open stream (a domain console). */
export interface DuplexStream {
  /** The daemon's bytes until it ends the stream; throws the daemon's error if it aborted it. */
  read(): AsyncGenerator<Buffer>;
  /** Sends bytes; resolves once the connection can take more. */
  write(data: Uint8Array): Promise<void>;
  /** Aborts the stream (idempotent); a pending read() ends. */
  close(): Promise<void>;
}

/** Opens a stream that carries data both ways (DOMAIN_OPEN_CONSOLE). */
export async function duplexStream<A>(
  client: LibvirtClient,
  proc: StreamProc<A>,
  args: A,
): Promise<DuplexStream> {
  const s = await openStream(client, proc, args);
  const conn = s.conn as RpcConnection;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (conn.isOpen && !s.finished && !s.error) {
      await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.ERROR).catch(() => undefined);
    }
    conn.setReading(true);
    conn.endStream(s.serial);
    s.onClose(new LibvirtConnectionError('not-connected', `libvirt ${proc.name}: stream closed`));
  };
  return {
    async *read() {
      for (;;) {
        const chunk = s.take();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (closed || s.eof) return;
        if (s.error) throw s.error;
        await s.next();
      }
    },
    async write(data) {
      for (let off = 0; off < data.length; off += STREAM_CHUNK) {
        if (closed) throw new LibvirtConnectionError('not-connected', `libvirt ${proc.name}: stream closed`);
        if (s.error) throw s.error;
        if (s.eof)
          throw new LibvirtConnectionError(
            'not-connected',
            `libvirt ${proc.name}: the daemon ended the stream`,
          );
        const piece = data.subarray(off, Math.min(data.length, off + STREAM_CHUNK));
        await conn.sendStream(proc.prog, proc.proc, s.serial, MessageStatus.CONTINUE, piece);
      }
    },
    close,
  };
}
