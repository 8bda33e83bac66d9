// The contract's codec and loopback: plain data crosses, anything else is refused with the
// path to it; errors cross as data with their code; every operation of the contract reaches
// the agent behind the loopback with its request unchanged, and casts answer "accepted".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { ComputeAgent } from './agent.js';
import { encode } from './codec.js';
import { KestrelError, errorFromJson, errorToJson, isKestrelError } from '../../errors/index.js';
import { LoopbackAgent, LoopbackTransport } from './loopback.js';
import { AgentServer, RemoteAgent } from './transport.js';
import { CALL_OPERATIONS, CAST_OPERATIONS, type AgentOperation } from './types.js';

/** An agent that records each request it gets and answers from a table. */
function recordingAgent(host: string) {
  const seen: { operation: AgentOperation; request: unknown }[] = [];
  const answers: Partial<Record<AgentOperation, () => unknown>> = {
    setPassword: () => ({ completed: true }),
    diagnostics: () => ({ powerState: 1, cpuTimeNs: 12_345_678_901, memoryKb: 1, maxMemoryKb: 2, vcpus: 1 }),
    consoleOutput: () => ({ output: 'GUEST-BOOTED\n' }),
    vncEndpoint: () => ({ kind: 'unix', path: '/run/kt/vnc.sock' }),
    hostReport: () => ({ host, reportedAt: '2026-01-01T00:00:00.000Z' }),
    networkApply: () => ({ completed: true }),
    networkSync: () => ({
      bridgesCreated: [],
      bridgesRemoved: [],
      dnsmasqStarted: [],
      dnsmasqStopped: [],
      ports: 0,
    }),
  };
  const agent = { host } as Record<string, unknown>;
  for (const op of [...CAST_OPERATIONS, ...CALL_OPERATIONS]) {
    agent[op] = async (request: unknown) => {
      seen.push({ operation: op, request });
      return answers[op]?.() ?? { accepted: true };
    };
  }
  return { agent: agent as unknown as ComputeAgent, seen };
}

describe('agent contract codec', () => {
  test('plain data passes; bigint, class instances, functions, undefined in arrays, NaN are refused', () => {
    assert.equal(
      encode({ a: [1, 'x', true, null, { b: 2 }], skipped: undefined }),
      '{"a":[1,"x",true,null,{"b":2}]}',
    );
    const refused: [unknown, RegExp][] = [
      [{ cpu: 1n }, /message\.cpu is a bigint/],
      [{ at: new Date() }, /message\.at is an instance of Date/],
      [{ data: Buffer.from('x') }, /message\.data is an instance of Buffer/],
      [{ run: () => 1 }, /message\.run is a function/],
      [{ list: [1, undefined] }, /message\.list\[1\] is undefined in an array/],
      [{ n: Number.NaN }, /message\.n is the number NaN/],
      [new Map(), /message is an instance of Map/],
    ];
    for (const [value, re] of refused) {
      assert.throws(
        () => encode(value),
        (e: unknown) =>
          isKestrelError(e, 'not-plain-data') && re.test(e.message) && /plain objects/.test(e.fix),
      );
    }
  });

  test('errors cross as data with their catalogue code, message and fix', () => {
    const e = new KestrelError('instance-not-found', 'domain kt-x not found', { fix: 'look elsewhere' });
    const back = errorFromJson(JSON.parse(JSON.stringify(errorToJson(e))));
    assert.ok(back instanceof KestrelError);
    assert.equal(back.code, 'instance-not-found');
    assert.equal(back.status, 404);
    assert.equal(back.fix, 'look elsewhere');
    assert.equal(errorToJson(new Error('disk full')).code, 'internal');
  });
});

describe('loopback agent', () => {
  test('every operation reaches the agent through JSON; casts are accepted, calls answer', async () => {
    const { agent, seen } = recordingAgent('kt-loop-1');
    const loop = new LoopbackAgent(agent);
    const task = { instanceUuid: 'u-1', actionId: 'a-1' };
    const requests: Record<AgentOperation, unknown> = {
      build: task,
      delete: task,
      power: { ...task, action: 'reboot-hard' },
      snapshot: { ...task, imageId: 'i-1' },
      rebuild: { ...task, imageId: 'i-1', previousVmState: 'stopped' },
      shelve: { ...task, imageId: 'i-2', previousVmState: 'active', offloadNow: true },
      shelveOffload: task,
      unshelve: { ...task, shelvedImageId: null },
      backup: { ...task, imageId: 'i-3', backupType: 'daily', rotation: 2 },
      softDelete: { ...task, previousVmState: 'active' },
      restore: task,
      setPassword: { instanceUuid: 'u-1', user: 'root', password: 'pw' },
      diagnostics: { instanceUuid: 'u-1' },
      consoleOutput: { instanceUuid: 'u-1', maxBytes: null },
      vncEndpoint: { instanceUuid: 'u-1' },
      hostReport: {},
      networkApply: { op: 'network-removed', networkId: 'n-1', bridge: 'kbrn1' },
      networkSync: { networks: [], ports: [], nat: { snat: [], floating: [], routed: [] } },
    };
    for (const [op, request] of Object.entries(requests) as [AgentOperation, unknown][]) {
      const reply = await (loop[op] as (r: unknown) => Promise<unknown>)(request);
      if ((CAST_OPERATIONS as readonly string[]).includes(op))
        assert.deepEqual(reply, { accepted: true }, op);
      else assert.notDeepEqual(reply, { accepted: true }, op);
    }
    assert.deepEqual(
      seen.map((s) => s.operation),
      Object.keys(requests),
    );
    for (const s of seen) {
      assert.deepEqual(s.request, requests[s.operation], s.operation);
      // What the agent got is a copy made from JSON, not the caller's object.
      assert.notEqual(s.request, requests[s.operation]);
    }
    assert.deepEqual(await loop.diagnostics({ instanceUuid: 'u-1' }), {
      powerState: 1,
      cpuTimeNs: 12_345_678_901,
      memoryKb: 1,
      maxMemoryKb: 2,
      vcpus: 1,
    });
  });

  test("an agent's error reaches the caller as a KestrelError with its code, status and fix", async () => {
    const { agent } = recordingAgent('kt-loop-2');
    agent.consoleOutput = async () => {
      throw new KestrelError('instance-not-found', 'no guest kt-x', { fix: 'boot it first' });
    };
    const loop = new LoopbackAgent(agent);
    await assert.rejects(
      loop.consoleOutput({ instanceUuid: 'x', maxBytes: 10 }),
      (e: unknown) =>
        isKestrelError(e, 'instance-not-found') &&
        e.message === 'no guest kt-x' &&
        e.status === 404 &&
        e.fix === 'boot it first',
    );
  });

  test('a reply that is not plain data comes back as not-plain-data, not as a broken value', async () => {
    const { agent } = recordingAgent('kt-loop-3');
    agent.diagnostics = async () =>
      ({ powerState: 1, cpuTimeNs: 5n, memoryKb: 0, maxMemoryKb: 0, vcpus: 1 }) as never;
    await assert.rejects(
      new LoopbackAgent(agent).diagnostics({ instanceUuid: 'x' }),
      (e: unknown) => isKestrelError(e, 'not-plain-data') && /result\.cpuTimeNs is a bigint/.test(e.message),
    );
  });

  test('the serial console stream: its request crosses as JSON, the bytes flow both ways', async () => {
    const { agent } = recordingAgent('kt-loop-5');
    let asked: unknown;
    agent.openSerialConsole = async (r) => {
      asked = r;
      return new Duplex({
        read() {},
        write(chunk: Buffer, _enc, done) {
          this.push(`echo:${chunk.toString()}`);
          done();
        },
      });
    };
    const stream = await new LoopbackAgent(agent).openSerialConsole({ instanceUuid: 'u-5' });
    assert.deepEqual(asked, { instanceUuid: 'u-5' });
    const echoed = new Promise<string>((resolve) =>
      stream.once('data', (b: Buffer) => resolve(b.toString())),
    );
    stream.write('ls');
    assert.equal(await echoed, 'echo:ls');
    stream.destroy();
  });

  test('a host nobody answers for is host-unreachable; an unknown operation is refused by name', async () => {
    const t = new LoopbackTransport();
    await assert.rejects(
      new RemoteAgent('kt-nowhere', t).build({ instanceUuid: 'u', actionId: 'a' }),
      (e: unknown) => isKestrelError(e, 'host-unreachable') && /kt-nowhere/.test(e.message),
    );
    const { agent } = recordingAgent('kt-loop-4');
    const reply = JSON.parse(await new AgentServer(agent).handle('{"operation":"migrate","request":{}}'));
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'unknown-operation');
    assert.match(reply.error.message, /no operation migrate/);
  });
});
