// --role compute and the controller's conductor over a real nats-server: the compute side
// (fake driver, no database) heartbeats and answers hostStatus; the conductor writes the
// heartbeats into the services table the APIs read; a stopped agent is "down" at once for calls.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { openDatabase, Repositories, type OpenedDatabase } from '../../src/db/index.js';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { startComputeRole, type ComputeRole } from '../../src/service/compute-role.js';
import { startConductor, type Conductor } from '../../src/service/conductor.js';
import { TestNats, natsUnavailable } from './nats-server.js';

describe('compute role and conductor over NATS', { skip: natsUnavailable(), timeout: 120_000 }, () => {
  const nats = new TestNats();
  const dir = mkdtempSync(join(tmpdir(), 'kt-roles-'));
  let opened: OpenedDatabase;
  let repos: Repositories;
  let conductor: Conductor;
  let agent: ComputeRole | undefined;
  const driver = new FakeDriver();

  const config = (host: string) => {
    const c = parseConfigText(
      `[DEFAULT]\nhost = ${host}\ntransport_url = ${nats.url}\nreport_interval = 1\nservice_down_time = 5\n`,
      'kestrel.conf',
    );
    assert.deepEqual(c.errors, []);
    return c.config;
  };

  before(async () => {
    await nats.start();
    opened = await openDatabase({ statePath: dir });
    repos = new Repositories(opened.db);
    conductor = await startConductor({ config: config('controller'), repos });
    await driver.init();
  });
  after(async () => {
    await agent?.stop();
    await conductor?.stop();
    await opened?.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('heartbeats of a compute host land in the services table; its host status answers', async () => {
    agent = await startComputeRole({ config: config('cn-a'), driver });
    const end = Date.now() + 20_000;
    let first;
    while (!(first = await repos.services.get('cn-a', 'nova-compute'))) {
      assert.ok(Date.now() < end, 'no heartbeat recorded');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(first.topic, 'compute');
    await new Promise((r) => setTimeout(r, 1500));
    const later = await repos.services.get('cn-a', 'nova-compute');
    assert.ok(Date.parse(later!.updatedAt) > Date.parse(first.updatedAt), 'the heartbeat is not refreshed');
    const status = (await conductor.transport.call('cn-a', 'hostStatus', null, { timeoutMs: 10_000 })) as {
      vcpus: number;
      hypervisorType: string;
    };
    const local = await driver.hostStatus();
    assert.equal(status.vcpus, local.vcpus);
    assert.equal(status.hypervisorType, local.hypervisorType);
  });

  test('once the agent stops, a call to its host is refused at once as down', async () => {
    await agent!.stop();
    agent = undefined;
    const t0 = Date.now();
    await assert.rejects(conductor.transport.call('cn-a', 'hostStatus', null), /compute host cn-a is down/);
    assert.ok(Date.now() - t0 < 2000);
  });
});
