// The compute-agent contract over NATS against the JSON loopback (the all-in-one path), same
// run, same agent: a call's round trip (consoleOutput), a cast's "accepted" (build), a cast's
// whole cycle to the agent's OperationReport at the controller, and how fast a host with no
// agent is known down (no responders). Then 1,000 simulated compute hosts each heartbeating
// once through one connection into the conductor's SQLite services table.
// Not measured yet: POST → ACTIVE of a real guest through controller + NATS + agent (the
// controller does not route builds over NATS yet).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentServer,
  CALL_OPERATIONS,
  CAST_OPERATIONS,
  LoopbackAgent,
  RemoteAgent,
  type ComputeAgent,
  type OperationReportSink,
} from '../src/compute/contract/index.js';
import { openDatabase, Repositories } from '../src/db/index.js';
import { parseTransportUrl } from '../src/transport/url.js';
import { connectNats } from '../src/transport/nats/connect.js';
import { NatsControllerTransport } from '../src/transport/nats/controller.js';
import { NatsAgentEndpoint } from '../src/transport/nats/agent.js';
import { NatsAgentTransport, serveContract } from '../src/transport/nats/contract.js';
import { TestNats } from '../test/transport/nats-server.js';

const CALLS = 2000;
const CASTS = 500;

function agentFor(host: string, sink: () => OperationReportSink | undefined): ComputeAgent {
  const a = { host } as Record<string, unknown>;
  for (const op of CAST_OPERATIONS)
    a[op] = async (r: { instanceUuid: string; actionId: string }) => {
      queueMicrotask(() =>
        sink()?.({ host, operation: op, instanceUuid: r.instanceUuid, actionId: r.actionId, ok: true }),
      );
      return { accepted: true };
    };
  for (const op of CALL_OPERATIONS) a[op] = async () => ({ output: 'GUEST-BOOTED\n' });
  return a as unknown as ComputeAgent;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(ms(t0));
  }
  return out;
}

const nats = new TestNats();
await nats.start();
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-fleet-'));
const target = parseTransportUrl(nats.url);
const controlNc = await connectNats(target, { name: 'bench controller' });
const agentNc = await connectNats(target, { name: 'bench agent' });
try {
  const control = await NatsControllerTransport.create(controlNc);
  const reported = new Map<string, () => void>();
  control.onReport(async (r) => reported.get((r.body as { actionId: string }).actionId)?.());
  await control.reportsReady;
  const bound: { sink?: OperationReportSink } = {};
  const agent = agentFor('bench-host', () => bound.sink);
  const endpoint = await NatsAgentEndpoint.create(agentNc, 'bench-host');
  bound.sink = await serveContract(endpoint, new AgentServer(agent));
  const overNats = new RemoteAgent('bench-host', new NatsAgentTransport(control));
  const loopback = new LoopbackAgent(agentFor('bench-host', () => undefined));

  await timeEach(200, () => overNats.consoleOutput({ instanceUuid: 'w', maxBytes: null })); // warm-up
  const callLoop = await timeEach(CALLS, () => loopback.consoleOutput({ instanceUuid: 'i', maxBytes: null }));
  const callNats = await timeEach(CALLS, () => overNats.consoleOutput({ instanceUuid: 'i', maxBytes: null }));
  const castLoop = await timeEach(CASTS, (i) => loopback.build({ instanceUuid: 'i', actionId: `l-${i}` }));
  const castNats = await timeEach(CASTS, (i) => overNats.build({ instanceUuid: 'i', actionId: `n-${i}` }));
  const cycle = await timeEach(CASTS, async (i) => {
    const done = new Promise<void>((r) => reported.set(`c-${i}`, r));
    await overNats.build({ instanceUuid: 'i', actionId: `c-${i}` });
    await done;
  });
  const nobody = new RemoteAgent('no-such-host', new NatsAgentTransport(control));
  const down = await timeEach(200, () =>
    nobody.consoleOutput({ instanceUuid: 'i', maxBytes: null }).catch(() => undefined),
  );

  // 1,000 hosts heartbeating once each, into the conductor's table (what a beat costs it).
  const opened = await openDatabase({ statePath: dir });
  const repos = new Repositories(opened.db);
  let beats = 0;
  let allBeats!: () => void;
  const allIn = new Promise<void>((r) => (allBeats = r));
  control.onHeartbeat(async (b) => {
    await repos.services.heartbeat(b.host, b.binary, 'compute', 'nova');
    if (++beats === 1000) allBeats();
  });
  const hosts = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => NatsAgentEndpoint.create(agentNc, `sim-${i}`)),
  );
  await controlNc.flush();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const h of hosts) await h.heartbeat({ binary: 'nova-compute' });
  await allIn;
  const beatsMs = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  await opened.close();

  const line = (what: string, xs: number[], base?: number[]) =>
    console.log(
      `${what.padEnd(44)} p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms${base ? `  (${(pct(xs, 50) / pct(base, 50)).toFixed(1)}x the loopback)` : ''}`,
    );
  line('call consoleOutput, JSON loopback', callLoop);
  line('call consoleOutput, NATS request/reply', callNats, callLoop);
  line('cast build accepted, JSON loopback', castLoop);
  line('cast build accepted, NATS work queue', castNats, castLoop);
  line('cast build → OperationReport at controller', cycle);
  line('call to a host with no agent → refused', down);
  console.log(
    `1,000 hosts x 1 heartbeat → services table: ${beatsMs.toFixed(0)} ms (${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU in this process, agents and controller together)`,
  );
  console.log(
    'BENCH ' +
      JSON.stringify({
        bench: 'fleet',
        call_loopback_p50_ms: +pct(callLoop, 50).toFixed(3),
        call_nats_p50_ms: +pct(callNats, 50).toFixed(3),
        call_nats_p99_ms: +pct(callNats, 99).toFixed(3),
        cast_loopback_p50_ms: +pct(castLoop, 50).toFixed(3),
        cast_nats_accepted_p50_ms: +pct(castNats, 50).toFixed(3),
        cast_nats_accepted_p99_ms: +pct(castNats, 99).toFixed(3),
        cast_nats_to_report_p50_ms: +pct(cycle, 50).toFixed(3),
        host_down_refusal_p50_ms: +pct(down, 50).toFixed(3),
        heartbeats_1000_ms: +beatsMs.toFixed(1),
        post_to_active_ratio: null,
      }),
  );
  await control.close();
} finally {
  await controlNc.close();
  await agentNc.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
