// The agent directory: a host with no agent, or whose heartbeat is stale, is "not reachable"
// with the fix; a cast resolves once accepted and its `finished` with the agent's report;
// the reports of several operations reach their own waiters.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, Repositories, type OpenedDatabase } from '../db/index.js';
import type { ComputeAgent } from '../compute/contract/agent.js';
import { LoopbackAgent } from '../compute/contract/loopback.js';
import type { OperationReport } from '../compute/contract/types.js';
import { AgentDirectory, SERVICE_DOWN_SECONDS } from './agent-directory.js';
import { isKestrelError } from '../errors/index.js';

describe('agent directory', () => {
  let dir: string;
  let db: OpenedDatabase;
  let repos: Repositories;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-agent-dir-'));
    db = await openDatabase({ statePath: dir });
    repos = new Repositories(db.db);
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent whose casts are accepted and reported finished when `finish` is called. */
  const castingAgent = (host: string, reports: (r: OperationReport) => void) => {
    const pending: OperationReport[] = [];
    const agent = {
      host,
      build: async (r: { instanceUuid: string; actionId: string }) => {
        pending.push({
          host,
          operation: 'build',
          instanceUuid: r.instanceUuid,
          actionId: r.actionId,
          ok: true,
        });
        return { accepted: true };
      },
    } as unknown as ComputeAgent;
    return { agent, finishAll: () => pending.splice(0).forEach(reports) };
  };

  test('no agent, never reported, heartbeat stale: each is "not reachable" with why and the fix', async () => {
    const d = new AgentDirectory(repos);
    const conflict = (re: RegExp) => (e: unknown) =>
      isKestrelError(e, 'host-unreachable') &&
      e.status === 409 &&
      re.test(e.message) &&
      /start or restart/.test(e.fix);
    await assert.rejects(
      d.reach('kt-dir-a'),
      conflict(/kt-dir-a is not reachable: no compute agent is registered/),
    );
    const { agent } = castingAgent('kt-dir-a', d.report);
    d.register(agent);
    await assert.rejects(d.reach('kt-dir-a'), conflict(/never reported/));
    await repos.services.heartbeat('kt-dir-a', 'nova-compute', 'compute', 'nova');
    assert.equal(await d.reach('kt-dir-a'), agent);
    const stale = new Date(Date.now() - (SERVICE_DOWN_SECONDS + 5) * 1000).toISOString();
    await repos.db
      .updateTable('services')
      .set({ updated_at: stale })
      .where('host', '=', 'kt-dir-a')
      .execute();
    await assert.rejects(d.reach('kt-dir-a'), conflict(/it is down \(last heartbeat/));
    assert.deepEqual(await d.liveness('kt-dir-a'), {
      host: 'kt-dir-a',
      registered: true,
      up: false,
      lastSeen: stale,
      downAfterSeconds: SERVICE_DOWN_SECONDS,
    });
  });

  test('service_down_time decides: a host silent for longer is down for reach() and for the scheduler', async () => {
    const d = new AgentDirectory(repos, 5);
    const { agent } = castingAgent('kt-dir-c', d.report);
    d.register(agent);
    await repos.services.heartbeat('kt-dir-c', 'nova-compute', 'compute', 'nova');
    assert.equal(await d.reach('kt-dir-c'), agent);
    assert.equal((await d.downHosts()).has('kt-dir-c'), false);
    const silent = new Date(Date.now() - 6000).toISOString();
    await repos.db
      .updateTable('services')
      .set({ updated_at: silent })
      .where('host', '=', 'kt-dir-c')
      .execute();
    await assert.rejects(
      d.reach('kt-dir-c'),
      (e: unknown) =>
        isKestrelError(e, 'host-unreachable') &&
        /it is down \(last heartbeat .*, more than 5 s ago\)/.test(e.message),
    );
    assert.match(
      (await d.downHosts()).get('kt-dir-c') ?? '',
      /compute service on this host is down .*more than 5 s ago/,
    );
  });

  test('casts resolve on acceptance; each finished promise gets its own report, through the loopback too', async () => {
    const d = new AgentDirectory(repos);
    const { agent, finishAll } = castingAgent('kt-dir-b', d.report);
    d.register(new LoopbackAgent(agent));
    const one = await d.cast('kt-dir-b', 'build', { instanceUuid: 'u-1', actionId: 'a-1' });
    const two = await d.cast('kt-dir-b', 'build', { instanceUuid: 'u-2', actionId: 'a-2' });
    let settled = false;
    void one.finished.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'finished waits for the report');
    finishAll();
    assert.equal((await one.finished).instanceUuid, 'u-1');
    assert.equal((await two.finished).instanceUuid, 'u-2');
    d.unregister('kt-dir-b');
    await assert.rejects(
      d.cast('kt-dir-b', 'build', { instanceUuid: 'u-3', actionId: 'a-3' }),
      /kt-dir-b is not reachable: no compute agent is registered/,
    );
  });
});
