// Fault injection through a wire-level fake libvirtd: what the real daemon won't do on demand.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/util/log.js';
import { FakeDaemon, versionReply } from './fake-daemon.js';
import {
  LibvirtClient,
  LibvirtConnectionError,
  LibvirtError,
  isConnectionLost,
  isNoDomain,
  isRetryable,
  procedures,
  DomainRef,
  tp,
  type ClientOptions,
  type DomainEvent,
} from '../../src/libvirt/index.js';
import { messages } from '../../src/libvirt/procedures.js';
import { decode, encode, xint } from '../../src/libvirt/xdr.js';
import { RpcConnection } from '../../src/libvirt/connection.js';
import {
  encodePacket,
  KeepaliveProc,
  MessageStatus,
  MessageType,
  Program,
} from '../../src/libvirt/packet.js';

const GET_VERSION = procedures.connectGetVersion.proc;

/** The domain the fake daemon's events are about. */
const fakeDomain = () => new DomainRef('kt-rpc-fake', '11111111-2222-3333-4444-555555555555', 3);

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink) as unknown as Logger, lines };
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

describe('libvirt client against a fake daemon', () => {
  let fake: FakeDaemon;
  beforeEach(async () => {
    fake = new FakeDaemon();
    await fake.start();
  });
  afterEach(async () => {
    await fake.dispose();
  });

  /** A client on the fake daemon's socket; no reconnecting unless a test asks for it. */
  const connectToFake = (extra: Partial<ClientOptions> = {}) =>
    LibvirtClient.connect({ uri: 'test:///default', socketPath: fake.path, reconnect: false, ...extra });

  /** The fake answers event registrations with callbackId(eventID), every other call with an empty reply. */
  const answerEventRegistrations = (callbackId: (eventID: number) => number) => {
    const register = procedures.connectDomainEventCallbackRegisterAny;
    fake.handler = (c) => {
      if (c.header.proc !== register.proc) return c.reply();
      const { eventID } = decode(register.args, c.payload);
      c.reply(encode(xint, callbackId(eventID)));
    };
  };

  test('handshake, then a call is answered by serial', async () => {
    fake.handler = (c) =>
      c.header.proc === GET_VERSION ? c.reply(versionReply(9_007_199_254_740_993n)) : c.fail(3, 'nope');
    const client = await connectToFake();
    try {
      const procs = fake.received.map((h) => h.proc);
      assert.deepEqual(
        procs.slice(0, 3),
        [66, 60, 1],
        'AUTH_LIST, SUPPORTS_FEATURE(keepalive), CONNECT_OPEN in that order',
      );
      // Above 2^53: the table keeps it as bigint, the façade refuses to round it.
      const raw = await client.call(procedures.connectGetVersion, undefined);
      assert.equal(raw.hvVer, 9_007_199_254_740_993n);
      await assert.rejects(client.host.getVersion(), RangeError);
    } finally {
      await client.close();
    }
  });

  test('replies out of order reach the right callers; at most maxInFlight calls on the wire', async () => {
    const held: Array<() => void> = [];
    fake.handler = (c) => {
      const v = BigInt(c.header.serial);
      held.push(() => c.reply(versionReply(v * 10n)));
      if (held.length === 3) {
        // answer in reverse order
        for (const h of held.splice(0).reverse()) h();
      }
    };
    const client = await connectToFake({ maxInFlight: 3 });
    try {
      fake.maxOutstanding = 0;
      const results = await Promise.all(
        Array.from({ length: 30 }, () => client.call(procedures.connectGetVersion, undefined)),
      );
      const conn = client.connection!;
      assert.equal(results.length, 30);
      assert.equal(new Set(results.map((r) => r.hvVer)).size, 30, 'each caller got its own reply');
      assert.ok(fake.maxOutstanding <= 3, `daemon saw ${fake.maxOutstanding} calls at once, limit 3`);
      assert.equal(fake.maxOutstanding, 3);
      assert.equal(conn.pendingCount, 0);
    } finally {
      await client.close();
    }
  });

  test('remote_error is decoded into LibvirtError with code, domain, level, message', async () => {
    fake.handler = (c) => c.fail(42, "Domain not found: no domain with matching name 'x'", 10);
    const client = await connectToFake();
    try {
      const err = await client.domains.lookupByName('x').then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof LibvirtError);
      assert.equal(err.code, 42);
      assert.equal(err.domain, 10);
      assert.equal(err.level, 2);
      assert.equal(err.libvirtMessage, "Domain not found: no domain with matching name 'x'");
      assert.equal(err.procedure, 'DOMAIN_LOOKUP_BY_NAME');
      assert.ok(isNoDomain(err));
      assert.ok(!isRetryable(err));
    } finally {
      await client.close();
    }
  });

  test('connection closed mid-call: pending calls reject with a retryable error, no unhandled rejection', async () => {
    let seen = 0;
    fake.handler = (c) => {
      seen++;
      if (seen === 3) setTimeout(() => c.socket.destroy(), 20); // hold all, then hang up
    };
    const before = unhandled.length;
    const client = await connectToFake();
    const calls = Array.from({ length: 8 }, () => client.call(procedures.connectGetVersion, undefined));
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof LibvirtConnectionError, String(e));
      assert.ok(isConnectionLost(e));
      assert.ok(isRetryable(e));
      assert.match((e as Error).message, /CONNECT_GET_VERSION.*closed the connection/);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(unhandled.length, before, 'no unhandled rejections');
    await client.close();
  });

  test('an oversized length word drops the connection with a protocol error, without a crash', async () => {
    fake.handler = (c) => {
      const bad = Buffer.alloc(28);
      bad.writeUInt32BE(0x7fffffff, 0); // 2 GiB "packet"
      c.socket.write(bad);
    };
    const client = await connectToFake();
    const err = await client.call(procedures.connectGetVersion, undefined).catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtConnectionError);
    assert.equal(err.kind, 'protocol');
    assert.match(err.message, /invalid packet length 2147483647/);
    await client.close();
  });

  test('a malformed (too short) packet is a protocol error', async () => {
    fake.handler = (c) => {
      const bad = Buffer.alloc(8);
      bad.writeUInt32BE(8, 0);
      c.socket.write(bad);
    };
    const client = await connectToFake();
    const err = await client.call(procedures.connectGetVersion, undefined).catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtConnectionError && err.kind === 'protocol', String(err));
    await client.close();
  });

  test('a reply whose payload does not match the shape rejects that call only', async () => {
    let n = 0;
    fake.handler = (c) => (n++ === 0 ? c.reply(Buffer.alloc(3 * 4)) : c.reply(versionReply(7n)));
    const client = await connectToFake();
    try {
      const err = await client.call(procedures.connectGetVersion, undefined).catch((e: unknown) => e);
      assert.ok(err instanceof LibvirtConnectionError && err.kind === 'decode', String(err));
      assert.equal(
        (await client.call(procedures.connectGetVersion, undefined)).hvVer,
        7n,
        'connection still usable',
      );
    } finally {
      await client.close();
    }
  });

  test('a reply with an unknown serial is ignored and logged', async () => {
    fake.handler = (c) => {
      c.socket.write(
        encodePacket(
          { ...c.header, serial: 999_999, type: MessageType.REPLY, status: MessageStatus.OK },
          versionReply(1n),
        ),
      );
      c.reply(versionReply(5n));
    };
    const { logger, lines } = captureLogger();
    const client = await connectToFake({ logger });
    try {
      assert.equal((await client.call(procedures.connectGetVersion, undefined)).hvVer, 5n);
      assert.equal(client.connection!.stats.unknownSerialReplies, 1);
      assert.ok(
        lines.some((l) => l.includes('unknown serial') && l.includes('999999')),
        lines.join(''),
      );
    } finally {
      await client.close();
    }
  });

  test('a call without a reply times out with a retryable error and frees its slot', async () => {
    let n = 0;
    fake.handler = (c) => {
      if (n++ > 0) c.reply(versionReply(3n));
    };
    const client = await connectToFake({ maxInFlight: 1 });
    try {
      const err = await client
        .call(procedures.connectGetVersion, undefined, { timeoutMs: 100 })
        .catch((e: unknown) => e);
      assert.ok(err instanceof LibvirtConnectionError && err.kind === 'timeout', String(err));
      assert.ok(isRetryable(err));
      assert.equal((await client.call(procedures.connectGetVersion, undefined)).hvVer, 3n);
    } finally {
      await client.close();
    }
  });

  test('keepalive: a daemon PING gets a PONG', async () => {
    const client = await connectToFake();
    try {
      fake.broadcast(Program.KEEPALIVE, KeepaliveProc.PING);
      for (let i = 0; i < 50 && !fake.received.some((h) => h.prog === Program.KEEPALIVE); i++)
        await new Promise((r) => setTimeout(r, 10));
      const pong = fake.received.find((h) => h.prog === Program.KEEPALIVE);
      assert.ok(pong, 'client answered');
      assert.equal(pong.proc, KeepaliveProc.PONG);
      assert.equal(pong.type, MessageType.MESSAGE);
      assert.equal(pong.serial, 0);
    } finally {
      await client.close();
    }
  });

  test('keepalive: a silent daemon is declared dead after the missed pings', async () => {
    const conn = await RpcConnection.connect({ path: fake.path, keepaliveIntervalMs: 50, keepaliveCount: 2 });
    const closed = new Promise<Error | null>((r) => conn.once('close', r));
    const pending = conn.call(Program.REMOTE, 9999, 'HANGING_CALL', null, { timeoutMs: 0 });
    fake.handler = () => undefined; // never answers, never pongs
    const err = await pending.catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtConnectionError && err.kind === 'keepalive', String(err));
    assert.ok((await closed) instanceof LibvirtConnectionError);
    assert.ok(conn.stats.pingsSent >= 2);
  });

  test('events: lifecycle and agent-lifecycle messages become typed events on the stream; unknown callbacks are dropped', async () => {
    answerEventRegistrations((eventID) => (eventID === 0 ? 7 : 8));
    const client = await connectToFake();
    try {
      await client.subscribe('lifecycle');
      await client.subscribe('agent-lifecycle');
      const dom = fakeDomain();
      const lifecycle = messages.domainEventCallbackLifecycle;
      const agent = messages.domainEventCallbackAgentLifecycle;
      const ac = new AbortController();
      const got: DomainEvent[] = [];
      const consumer = (async () => {
        for await (const ev of client.events.stream(ac.signal)) {
          got.push(ev);
          if (got.length === 3) ac.abort();
        }
      })();
      fake.broadcast(
        Program.REMOTE,
        lifecycle.proc,
        encode(lifecycle.msg, { callbackID: 99, dom, event: 0, detail: 0 }),
      ); // not ours
      fake.broadcast(
        Program.REMOTE,
        lifecycle.proc,
        encode(lifecycle.msg, { callbackID: 7, dom, event: 4, detail: 0 }),
      );
      fake.broadcast(
        Program.REMOTE,
        lifecycle.proc,
        encode(lifecycle.msg, { callbackID: 7, dom, event: 2, detail: 0 }),
      );
      fake.broadcast(
        Program.REMOTE,
        agent.proc,
        encode(agent.msg, { callbackID: 8, dom, state: 1, reason: 2 }),
      );
      await consumer;
      assert.deepEqual(
        got.map((e) =>
          e.kind === 'lifecycle'
            ? `${e.event}/${e.detail}`
            : e.kind === 'agent-lifecycle'
              ? `agent ${e.state}/${e.reason}`
              : e.kind,
        ),
        ['resumed/unpaused', 'started/booted', 'agent connected/channel'],
      );
      assert.equal(got[0].domain.uuidString, '11111111-2222-3333-4444-555555555555');
    } finally {
      await client.close();
    }
  });

  test('events: block-job and job-completed messages decode, typed params included', async () => {
    answerEventRegistrations((eventID) => 100 + eventID);
    const client = await connectToFake();
    try {
      await client.subscribe('block-job');
      await client.subscribe('job-completed');
      const dom = fakeDomain();
      const blockJob = messages.domainEventBlockJob2;
      const jobDone = messages.domainEventCallbackJobCompleted;
      const got: DomainEvent[] = [];
      client.events.on('event', (e) => got.push(e));
      fake.broadcast(
        Program.REMOTE,
        blockJob.proc,
        encode(blockJob.msg, { callbackID: 116, dom, dst: 'vda', type: 2, status: 3 }),
      );
      fake.broadcast(
        Program.REMOTE,
        jobDone.proc,
        encode(jobDone.msg, {
          callbackID: 121,
          dom,
          params: [tp.ullong('memory_total', 2n ** 60n), tp.int('operation', 3)],
        }),
      );
      for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(got.length, 2);
      const [bj, jc] = got;
      assert.ok(
        bj.kind === 'block-job' && bj.disk === 'vda' && bj.type === 'copy' && bj.status === 'ready',
        JSON.stringify(bj),
      );
      assert.ok(jc.kind === 'job-completed');
      assert.equal(jc.stats.memory_total, 2n ** 60n);
      assert.equal(jc.stats.operation, 3);
    } finally {
      await client.close();
    }
  });

  test('reconnect: after the daemon comes back the client re-handshakes and emits reconnected', async () => {
    fake.handler = (c) =>
      c.header.proc === procedures.connectDomainEventCallbackRegisterAny.proc
        ? c.reply(encode(xint, 1))
        : c.reply(versionReply(11n));
    const client = await connectToFake({ reconnect: true, reconnectInitialDelayMs: 20 });
    try {
      await client.subscribe('lifecycle');
      const disconnected = new Promise((r) => client.once('disconnected', r));
      const reconnected = new Promise((r) => client.once('reconnected', r));
      await fake.stop();
      await disconnected;
      // A call made while disconnected waits for the connection instead of failing.
      const waiting = client.call(procedures.connectGetVersion, undefined);
      await fake.start();
      await reconnected;
      assert.equal((await waiting).hvVer, 11n);
      const handshakes = fake.received.filter((h) => h.prog === Program.REMOTE && h.proc === 1).length;
      const registrations = fake.received.filter(
        (h) => h.proc === procedures.connectDomainEventCallbackRegisterAny.proc,
      ).length;
      assert.equal(handshakes, 2, 'CONNECT_OPEN again after the reconnect');
      assert.equal(registrations, 2, 'the lifecycle callback was registered again');
    } finally {
      await client.close();
    }
  });
});
