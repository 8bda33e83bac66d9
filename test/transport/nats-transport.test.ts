// The NATS transport against a real nats-server (JetStream, authentication on): calls as
// request/reply with timeouts and "no responders" as host down at once; operations on a
// per-host work queue, deduplicated by key, acknowledged only when done (an agent that dies
// mid-way leaves them to its successor), kept across a NATS restart; heartbeats and reports.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { KestrelError } from '../../src/errors/index.js';
import { parseTransportUrl } from '../../src/transport/url.js';
import { connectNats } from '../../src/transport/nats/connect.js';
import { NatsControllerTransport } from '../../src/transport/nats/controller.js';
import { NatsAgentEndpoint } from '../../src/transport/nats/agent.js';
import type { AgentHandlers, Heartbeat, Json, OperationContext, Report } from '../../src/transport/types.js';
import { TestNats, natsUnavailable } from './nats-server.js';

const skip = natsUnavailable();
const tuning = { ackWaitMs: 2000, concurrency: 2 };

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('NATS transport (real nats-server)', { skip, timeout: 180_000 }, () => {
  const nats = new TestNats();
  const conns: NatsConnection[] = [];
  let controller: NatsControllerTransport;
  let run = 0;
  const host = () => `cn${process.pid}-${++run}.example`;

  const conn = async (name: string) => {
    const nc = await connectNats(parseTransportUrl(nats.url), { name });
    conns.push(nc);
    return nc;
  };
  const agent = async (h: string, handlers: Partial<AgentHandlers>) => {
    const a = await NatsAgentEndpoint.create(await conn(`agent ${h}`), h, { tuning });
    await a.serve({ calls: {}, operations: {}, ...handlers });
    return a;
  };

  before(async () => {
    await nats.start();
    controller = await NatsControllerTransport.create(await conn('controller'), { tuning });
  });
  after(async () => {
    await controller?.close();
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await nats.stop();
  });

  test('a call returns the handler result; its errors come back with code and message', async () => {
    const h = host();
    await agent(h, {
      calls: {
        echo: async (args) => ({ got: args }),
        refuse: async () => {
          throw new KestrelError('conflict', 'instance x is locked', { details: 'detail' });
        },
      },
    });
    assert.deepEqual(await controller.call(h, 'echo', { a: [1, 'two', null] }), {
      got: { a: [1, 'two', null] },
    });
    await assert.rejects(controller.call(h, 'refuse', null), (e: KestrelError) => {
      assert.equal(e.code, 'conflict');
      assert.equal(e.message, 'instance x is locked');
      assert.equal(e.details, 'detail');
      return true;
    });
    await assert.rejects(controller.call(h, 'nosuch', null), /has no call "nosuch"/);
  });

  test('a call to a host with no agent fails at once, naming the host as down', async () => {
    const h = host();
    const t0 = Date.now();
    await assert.rejects(controller.call(h, 'echo', null, { timeoutMs: 30_000 }), (e: KestrelError) => {
      assert.equal(e.code, 'host-unreachable');
      assert.match(e.message, new RegExp(`compute host ${h.replace(/\./g, '\\.')} is down`));
      assert.match(e.userMessage, /Fix: start `kestrel serve --role compute`/);
      return true;
    });
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms, not at once`);
  });

  test('a slow agent is a timeout after the per-call limit, not "down"', async () => {
    const h = host();
    await agent(h, { calls: { slow: () => new Promise((r) => setTimeout(() => r(1), 3000)) } });
    const t0 = Date.now();
    await assert.rejects(controller.call(h, 'slow', null, { timeoutMs: 300 }), /did not answer slow within/);
    assert.ok(Date.now() - t0 < 2500);
  });

  test('operations run on their host only, once per key, acknowledged when done', async () => {
    const h = host();
    const other = host();
    const ran: Array<{ args: Json; ctx: OperationContext }> = [];
    const elsewhere: Json[] = [];
    await agent(h, { operations: { build: async (args, ctx) => void ran.push({ args, ctx }) } });
    await agent(other, { operations: { build: async (args) => void elsewhere.push(args) } });
    assert.deepEqual(await controller.submit(h, 'build', { uuid: 'u1' }, 'build-u1'), { duplicate: false });
    assert.deepEqual(await controller.submit(h, 'build', { uuid: 'u1' }, 'build-u1'), { duplicate: true });
    await controller.submit(h, 'build', { uuid: 'u2' }, 'build-u2');
    await until('two builds', () => ran.length === 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ran.length, 2, 'the duplicate ran');
    assert.deepEqual(ran.map((r) => r.args).sort(), [{ uuid: 'u1' }, { uuid: 'u2' }]);
    assert.equal(ran[0].ctx.redelivered, false);
    assert.ok(ran.some((r) => r.ctx.key === 'build-u1'));
    assert.deepEqual(elsewhere, []);
  });

  test('an agent killed during an operation leaves it to the next agent, flagged redelivered', async () => {
    const h = host();
    const started = deferred();
    const firstNc = await conn(`agent ${h} (dies)`);
    const first = await NatsAgentEndpoint.create(firstNc, h, { tuning });
    await first.serve({
      calls: {},
      operations: {
        build: async () => {
          started.resolve();
          await new Promise(() => undefined); // never finishes: the process "dies" here
        },
      },
    });
    await controller.submit(h, 'build', { uuid: 'u9' }, 'build-u9');
    await started.promise;
    await firstNc.close(); // the agent's connection is gone: no ack, no more in-progress signals
    const done = deferred<OperationContext>();
    await agent(h, { operations: { build: async (_a, ctx) => done.resolve(ctx) } });
    const ctx = await done.promise;
    assert.equal(ctx.key, 'build-u9');
    assert.equal(ctx.redelivered, true);
  });

  test('a long operation is kept alive past the ack wait (not delivered twice)', async () => {
    const h = host();
    let runs = 0;
    await agent(h, {
      operations: {
        rebuild: async () => {
          runs++;
          await new Promise((r) => setTimeout(r, tuning.ackWaitMs * 2.5));
        },
      },
    });
    await controller.submit(h, 'rebuild', null, 'rebuild-1');
    await until('the rebuild', () => runs === 1);
    await new Promise((r) => setTimeout(r, tuning.ackWaitMs * 3));
    assert.equal(runs, 1);
  });

  test('operations queued while the host has no agent, and across a NATS restart, are not lost', async () => {
    const h = host();
    await controller.submit(h, 'build', { n: 1 }, 'q-1');
    await nats.restart();
    await controller.submit(h, 'build', { n: 2 }, 'q-2').catch(async () => {
      // The controller's connection may still be reconnecting: the caller retries.
      await new Promise((r) => setTimeout(r, 1500));
      await controller.submit(h, 'build', { n: 2 }, 'q-2');
    });
    const got: Json[] = [];
    await agent(h, { operations: { build: async (args) => void got.push(args) } });
    await until('both queued builds', () => got.length === 2);
    assert.deepEqual(got, [{ n: 1 }, { n: 2 }]);
  });

  test('heartbeats and reports reach the controller; reports wait for it durably', async () => {
    const h = host();
    const a = await agent(h, {});
    await a.report('instance', { uuid: 'u1', vm_state: 'active' }, 'r-1');
    await a.report('instance', { uuid: 'u1', vm_state: 'active' }, 'r-1'); // duplicate
    const beats: Heartbeat[] = [];
    const reports: Report[] = [];
    controller.onHeartbeat(async (b) => void beats.push(b));
    controller.onReport(async (r) => void reports.push(r));
    await controller.reportsReady;
    await a.report('host', { vcpus: 4 }, 'r-2');
    await until('a heartbeat', () => {
      void a.heartbeat({ binary: 'nova-compute' });
      return beats.some((b) => b.host === h);
    });
    await until('two reports', () => reports.filter((r) => r.host === h).length === 2);
    const mine = reports.filter((r) => r.host === h);
    assert.deepEqual(
      mine.map((r) => [r.kind, r.key, r.body]),
      [
        ['instance', 'r-1', { uuid: 'u1', vm_state: 'active' }],
        ['host', 'r-2', { vcpus: 4 }],
      ],
    );
    const beat = beats.find((b) => b.host === h)!;
    assert.equal(beat.binary, 'nova-compute');
    assert.ok(Math.abs(Date.parse(beat.sentAt) - Date.now()) < 60_000);
  });

  test('a wrong password and a missing server are refused with the fix', async () => {
    const wrong = parseTransportUrl(`nats://kestrel:nope@127.0.0.1:${nats.port}`);
    await assert.rejects(
      connectNats(wrong, { name: 't' }),
      /refused user "kestrel".*Fix: set the user and password/,
    );
    const none = parseTransportUrl('nats://kestrel:x@127.0.0.1:1');
    await assert.rejects(
      connectNats(none, { name: 't', timeoutMs: 2000 }),
      /no NATS server answers at 127\.0\.0\.1:1.*Fix: start nats-server/,
    );
  });
});
