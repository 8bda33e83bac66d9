// libvirt RPC framing (virnetprotocol.x): a 4-byte big-endian length that counts itself, a
// 24-byte header of six 32-bit words, then the payload.

export const Program = {
  REMOTE: 0x20008086,
  QEMU: 0x20008087,
  KEEPALIVE: 0x6b656570,
} as const;

export const PROTOCOL_VERSION = 1;

export const KeepaliveProc = { PING: 1, PONG: 2 } as const;

export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;

export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const HEADER_SIZE = 24;
export const LENGTH_SIZE = 4;
/** VIR_NET_MESSAGE_MAX: the largest packet (header + payload), length word excluded. */
export const MESSAGE_MAX = 16 * 1024 * 1024;
/** The largest payload: MESSAGE_MAX less the header. */
export const PAYLOAD_MAX = MESSAGE_MAX - HEADER_SIZE;
/** The daemon's stream chunk size (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX); we send chunks of this size. */
export const STREAM_CHUNK = 256 * 1024 - HEADER_SIZE - LENGTH_SIZE;

export interface Header {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

export class PacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketError';
  }
}

/** Builds one packet: length word, header, payload. */
export function encodePacket(h: Header, payload?: Uint8Array): Buffer {
  const plen = payload ? payload.length : 0;
  if (plen > PAYLOAD_MAX) {
    throw new PacketError(
      `payload of ${plen} bytes exceeds libvirt's limit of ${PAYLOAD_MAX} bytes per message`,
    );
  }
  const total = LENGTH_SIZE + HEADER_SIZE + plen;
  const buf = Buffer.allocUnsafe(total);
  if (payload && plen) buf.set(payload, 28);
  writeFrame(buf, h);
  return buf;
}

/** Writes the length word and header in front of a payload that was encoded at offset 28 of `buf`. */
export function writeFrame(buf: Buffer, h: Header): void {
  buf.writeUInt32BE(buf.length, 0);
  buf.writeUInt32BE(h.prog >>> 0, 4);
  buf.writeUInt32BE(h.vers >>> 0, 8);
  buf.writeInt32BE(h.proc, 12);
  buf.writeInt32BE(h.type, 16);
  buf.writeUInt32BE(h.serial >>> 0, 20);
  buf.writeInt32BE(h.status, 24);
}

export function decodeHeader(buf: Buffer, offset: number): Header {
  return {
    prog: buf.readUInt32BE(offset),
    vers: buf.readUInt32BE(offset + 4),
    proc: buf.readInt32BE(offset + 8),
    type: buf.readInt32BE(offset + 12),
    serial: buf.readUInt32BE(offset + 16),
    status: buf.readInt32BE(offset + 20),
  };
}

export interface Packet {
  header: Header;
  /** The payload bytes: a view into socket data; copy before keeping it past the handler. */
  payload: Buffer;
}

/**
 * Reassembles packets from socket chunks. The length word is checked before anything is
 * buffered for it, so a hostile or corrupt length cannot make us allocate 4 GiB.
 */
export class PacketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPacket = MESSAGE_MAX + LENGTH_SIZE) {}

  /** Feeds bytes; returns the complete packets now available. Throws PacketError on a bad length. */
  push(chunk: Buffer): Packet[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Packet[] = [];
    for (;;) {
      if (this.buffered < LENGTH_SIZE) break;
      const len = this.peekLength();
      if (len < LENGTH_SIZE + HEADER_SIZE || len > this.maxPacket) {
        throw new PacketError(
          `invalid packet length ${len} (must be between ${LENGTH_SIZE + HEADER_SIZE} and ${this.maxPacket}); the peer is not speaking the libvirt protocol or the stream is corrupt`,
        );
      }
      if (this.buffered < len) break;
      const packet = this.take(len);
      out.push({
        header: decodeHeader(packet, LENGTH_SIZE),
        payload: packet.subarray(LENGTH_SIZE + HEADER_SIZE),
      });
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const c = this.chunks[0];
      const want = n - copied;
      if (c.length <= want) {
        c.copy(out, copied);
        copied += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, copied, 0, want);
        this.chunks[0] = c.subarray(want);
        copied += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}
