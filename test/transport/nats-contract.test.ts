// The compute-agent contract over a real nats-server: a RemoteAgent on NatsAgentTransport
// reaches an AgentServer served by serveContract on another connection. Every operation
// arrives with its request unchanged; casts answer "accepted" and end with the agent's
// OperationReport, which reaches control as a durable report; errors keep their code; a host
// with no agent is host-unreachable at once for calls, and its casts wait in its queue.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import {
  AgentServer,
  CALL_OPERATIONS,
  CAST_OPERATIONS,
  RemoteAgent,
  type AgentOperation,
  type ComputeAgent,
  type OperationReport,
  type OperationReportSink,
} from '../../src/compute/contract/index.js';
import { KestrelError, isKestrelError } from '../../src/errors/index.js';
import { parseTransportUrl } from '../../src/transport/url.js';
import { connectNats } from '../../src/transport/nats/connect.js';
import { NatsControllerTransport } from '../../src/transport/nats/controller.js';
import { NatsAgentEndpoint } from '../../src/transport/nats/agent.js';
import { NatsAgentTransport, serveContract } from '../../src/transport/nats/contract.js';
import type { Report } from '../../src/transport/types.js';
import { TestNats, natsUnavailable } from './nats-server.js';

/** An agent that records each request; casts end at once with a report through `sink`. */
function recordingAgent(host: string, sink: () => OperationReportSink | undefined) {
  const seen: { operation: AgentOperation; request: unknown }[] = [];
  const agent = { host } as Record<string, unknown>;
  for (const op of CAST_OPERATIONS) {
    agent[op] = async (request: { instanceUuid: string; actionId: string }) => {
      seen.push({ operation: op, request });
      setTimeout(
        () =>
          sink()?.({
            host,
            operation: op,
            instanceUuid: request.instanceUuid,
            actionId: request.actionId,
            ok: true,
          }),
        50,
      );
      return { accepted: true };
    };
  }
  for (const op of CALL_OPERATIONS) {
    agent[op] = async (request: unknown) => {
      seen.push({ operation: op, request });
      if (op === 'setPassword')
        throw new KestrelError('agent-not-connected', 'the guest agent is not running', {
          fix: 'start qemu-ga',
        });
      return op === 'consoleOutput'
        ? { output: 'GUEST-BOOTED\n' }
        : { host, reportedAt: '2026-01-01T00:00:00.000Z' };
    };
  }
  return { agent: agent as unknown as ComputeAgent, seen };
}

async function until(what: string, fn: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('agent contract over NATS (real nats-server)', { skip: natsUnavailable(), timeout: 120_000 }, () => {
  const nats = new TestNats();
  const conns: NatsConnection[] = [];
  let control: NatsControllerTransport;
  const reports: Report[] = [];
  const conn = async (name: string) => {
    const nc = await connectNats(parseTransportUrl(nats.url), { name });
    conns.push(nc);
    return nc;
  };
  const serveHost = async (host: string) => {
    const bound: { sink?: OperationReportSink } = {};
    const rec = recordingAgent(host, () => bound.sink);
    const endpoint = await NatsAgentEndpoint.create(await conn(`agent ${host}`), host, {
      tuning: { ackWaitMs: 2000 },
    });
    bound.sink = await serveContract(endpoint, new AgentServer(rec.agent));
    return rec;
  };

  before(async () => {
    await nats.start();
    control = await NatsControllerTransport.create(await conn('controller'));
    control.onReport(async (r) => void reports.push(r));
    await control.reportsReady;
  });
  after(async () => {
    await control?.close();
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await nats.stop();
  });

  test('every operation reaches the agent unchanged; casts are accepted and report their end', async () => {
    const rec = await serveHost('cn-contract');
    const remote = new RemoteAgent('cn-contract', new NatsAgentTransport(control));
    const task = { instanceUuid: 'i-1', actionId: 'a-build' };
    assert.deepEqual(await remote.build(task), { accepted: true });
    assert.deepEqual(await remote.power({ ...task, actionId: 'a-stop', action: 'stop' }), { accepted: true });
    assert.deepEqual(await remote.consoleOutput({ instanceUuid: 'i-1', maxBytes: null }), {
      output: 'GUEST-BOOTED\n',
    });
    await assert.rejects(
      remote.setPassword({ instanceUuid: 'i-1', user: 'root', password: 'x' }),
      (e: KestrelError) => {
        assert.equal(e.code, 'agent-not-connected');
        assert.equal(e.fix, 'start qemu-ga');
        return true;
      },
    );
    await until(
      'both casts',
      () => rec.seen.filter((s) => s.operation === 'build' || s.operation === 'power').length === 2,
    );
    assert.deepEqual(rec.seen.find((s) => s.operation === 'power')?.request, {
      ...task,
      actionId: 'a-stop',
      action: 'stop',
    });
    await until('two operation reports', () => reports.filter((r) => r.host === 'cn-contract').length === 2);
    const bodies = reports.map((r) => r.body as unknown as OperationReport);
    assert.ok(bodies.some((b) => b.operation === 'build' && b.actionId === 'a-build' && b.ok));
  });

  test('a repeated cast (same operation and action) reaches the agent once', async () => {
    const rec = await serveHost('cn-dup');
    const remote = new RemoteAgent('cn-dup', new NatsAgentTransport(control));
    const task = { instanceUuid: 'i-2', actionId: 'a-del' };
    await remote.delete(task);
    await remote.delete(task);
    await until('the delete', () => rec.seen.length === 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(rec.seen.length, 1);
  });

  test('a host with no agent: calls are host-unreachable at once; casts wait for its agent', async () => {
    const remote = new RemoteAgent('cn-later', new NatsAgentTransport(control));
    const t0 = Date.now();
    await assert.rejects(remote.hostReport({}), (e: unknown) => isKestrelError(e, 'host-unreachable'));
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(await remote.build({ instanceUuid: 'i-3', actionId: 'a-late' }), { accepted: true });
    const rec = await serveHost('cn-later');
    await until('the queued build', () => rec.seen.some((s) => s.operation === 'build'));
  });
});
