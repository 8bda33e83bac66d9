// A wire-level fake libvirtd on a temp UNIX socket, for faults the real daemon won't produce on
// demand (closing mid-call, garbage, unknown serials). It answers the handshake like libvirtd and
// hands every other CALL to a test-supplied handler.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PacketReader,
  encodePacket,
  MessageType,
  MessageStatus,
  Program,
  type Header,
} from '../../src/libvirt/packet.js';
import { encode, xstruct, xint, xarray, xstr, xostr, xoptional } from '../../src/libvirt/xdr.js';

export interface FakeCall {
  header: Header;
  payload: Buffer;
  socket: Socket;
  /** Sends a REPLY/OK with this payload for the call. */
  reply(payload?: Buffer): void;
  /** Sends a REPLY/ERROR with a remote_error. */
  fail(code: number, message: string, domain?: number): void;
}

export type FakeHandler = (call: FakeCall) => void;

const xerr = xstruct({
  code: xint,
  domain: xint,
  message: xostr,
  level: xint,
  dom: xoptional(xint),
  str1: xostr,
  str2: xostr,
  str3: xostr,
  int1: xint,
  int2: xint,
  net: xoptional(xint),
});

export class FakeDaemon {
  readonly dir = mkdtempSync(join(tmpdir(), 'kt-rpc-fake-'));
  readonly path = join(this.dir, 'sock');
  private server: Server | null = null;
  readonly sockets = new Set<Socket>();
  /** Calls currently unanswered, for in-flight limit checks. */
  outstanding = 0;
  maxOutstanding = 0;
  handler: FakeHandler = (c) => c.reply();
  received: Header[] = [];

  async start(): Promise<void> {
    this.server = createServer((s) => this.onSocket(s));
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }

  /** Stops listening and drops every client socket. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends a MESSAGE packet (e.g. a keepalive PING) to every client. */
  broadcast(prog: number, proc: number, payload?: Buffer): void {
    for (const s of this.sockets) {
      s.write(
        encodePacket(
          { prog, vers: 1, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK },
          payload,
        ),
      );
    }
  }

  private onSocket(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    const reader = new PacketReader();
    s.on('data', (chunk: Buffer) => {
      for (const p of reader.push(chunk)) {
        this.received.push(p.header);
        if (p.header.type !== MessageType.CALL) continue;
        this.outstanding++;
        this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
        const h = p.header;
        let answered = false;
        const send = (status: number, payload?: Buffer) => {
          if (answered) return;
          answered = true;
          this.outstanding--;
          if (!s.destroyed) s.write(encodePacket({ ...h, type: MessageType.REPLY, status }, payload));
        };
        const call: FakeCall = {
          header: h,
          payload: Buffer.from(p.payload),
          socket: s,
          reply: (payload) => send(MessageStatus.OK, payload),
          fail: (code, message, domain = 10) =>
            send(
              MessageStatus.ERROR,
              encode(xerr, {
                code,
                domain,
                message,
                level: 2,
                dom: null,
                str1: null,
                str2: null,
                str3: null,
                int1: 0,
                int2: 0,
                net: null,
              }),
            ),
        };
        if (h.prog === Program.REMOTE && h.proc === 66)
          call.reply(encode(xstruct({ types: xarray(xint, 20) }), { types: [0] }));
        else if (h.prog === Program.REMOTE && h.proc === 60) call.reply(encode(xint, 1));
        else if (h.prog === Program.REMOTE && (h.proc === 1 || h.proc === 2)) call.reply();
        else this.handler(call);
      }
    });
  }
}

/** GET_VERSION ret (unsigned hyper). */
export function versionReply(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

export { xstr };
