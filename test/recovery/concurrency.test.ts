// Concurrency and outside changes on the fake driver: a delete during a build wins cleanly;
// power states resync after a reconnect; a crashed guest gets a fault.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ComputeManager } from '../../src/compute/manager.js';
import { PowerWatch } from '../../src/compute/reconcile-power.js';
import { FileImageStore } from '../../src/images/store/file.js';
import { PowerState } from '../../src/virt/driver.js';
import { DirDisks, HOST, openWorld, type World } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Disks whose creation takes a while: room for a delete to arrive mid-build. */
class SlowDisks extends DirDisks {
  constructor(
    instancesPath: string,
    private readonly ms: number,
  ) {
    super(instancesPath);
  }
  override async create(uuid: string) {
    const d = await super.create(uuid);
    await sleep(this.ms);
    return d;
  }
}

describe('a delete during a build wins cleanly', () => {
  let w: World;
  let manager: ComputeManager;
  before(async () => {
    w = await openWorld();
    manager = new ComputeManager({
      repos: w.repos,
      driver: w.driver,
      disks: new SlowDisks(w.instancesPath, 150),
      imageStore: new FileImageStore({ directory: join(w.dir, 'images'), fsync: false }),
      host: HOST,
      instancesPath: w.instancesPath,
      startedTimeoutMs: 5000,
    });
    manager.start();
  });
  after(async () => {
    await manager.stop();
    await w.close();
  });

  /** A build started, then a delete requested as the API does, `afterMs` later. */
  async function buildThenDelete(afterMs: number): Promise<string> {
    const inst = await w.instance({ taskState: 'networking' });
    const image = await w.repos.images.create({
      id: randomUUID(),
      name: 'kt-recovery-img',
      visibility: 'public',
      protected: false,
      osHidden: false,
      owner: 'p1',
      containerFormat: 'bare',
      diskFormat: 'raw',
      minDisk: 0,
      minRam: 0,
      properties: {},
      tags: [],
    });
    await w.repos.images.update(image.id, { status: 'active', virtualSize: 512 });
    await w.repos.db
      .updateTable('instances')
      .set({ image_id: image.id })
      .where('uuid', '=', inst.uuid)
      .execute();
    const [createAction] = await w.repos.instances.listActions(inst.uuid);
    const build = manager.build(inst.uuid, createAction.id);
    await sleep(afterMs);
    await w.repos.instances.update(inst.uuid, { taskState: 'deleting' });
    const del = await w.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: `req-del-${inst.uuid}`,
      action: 'delete',
      userId: 'u1',
      projectId: 'p1',
    });
    await Promise.all([build, manager.delete(inst.uuid, del.id)]);
    return inst.uuid;
  }

  for (const afterMs of [0, 60, 400]) {
    test(`delete ${afterMs} ms into the build: DELETED, no guest, disk or allocation`, async () => {
      const uuid = await buildThenDelete(afterMs);
      const i = await w.repos.instances.get(uuid, { includeDeleted: true });
      assert.equal(i?.deleted, true);
      assert.equal(i?.vmState, 'deleted');
      assert.equal((await w.driver.list()).includes(uuid), false, 'no guest');
      assert.equal(existsSync(join(w.instancesPath, uuid)), false, 'no disk');
      assert.deepEqual(await w.repos.placement.allocationsOf(uuid), [], 'no allocation');
      const actions = await w.repos.instances.listActions(uuid);
      assert.ok(
        actions.every((a) => a.finishTime !== null),
        'every action is closed',
      );
      if (afterMs < 150) {
        // Asked for while the disk was being made: the build gave way before spawning.
        const create = actions.find((x) => x.action === 'create')!;
        assert.equal(create.message, 'Error');
        const events = (await w.repos.instances.getAction(uuid, create.requestId))!.events;
        assert.equal(
          events.some((e) => e.event === 'compute_spawn'),
          false,
          'never spawned',
        );
      }
    });
  }
});

describe('power states follow the hypervisor', () => {
  let w: World;
  let watch: PowerWatch;
  before(async () => {
    w = await openWorld();
    watch = new PowerWatch({ repos: w.repos, driver: w.driver, host: HOST });
    watch.start();
  });
  after(async () => {
    await watch.stop();
    await w.close();
  });

  test('after a reconnect, guests stopped while events were lost are SHUTOFF', async () => {
    const a = await w.instance({ vmState: 'active', taskState: null });
    const b = await w.instance({ vmState: 'active', taskState: null });
    const busy = await w.instance({ vmState: 'active', taskState: 'rebooting' });
    for (const i of [a, b, busy]) {
      await w.guest(i.uuid);
      await w.repos.instances.update(i.uuid, { powerState: PowerState.RUNNING });
    }
    // Behind the database's back (no listener records it): a and busy stop.
    await w.driver.powerOff(a.uuid, 0);
    await w.driver.powerOff(busy.uuid, 0);
    assert.equal((await w.repos.instances.get(a.uuid))!.vmState, 'active');
    w.driver.events.emit('reconnected');
    // The event alone triggers the resync (no explicit sync() call here).
    for (let k = 0; k < 200 && (await w.repos.instances.get(a.uuid))!.vmState !== 'stopped'; k++)
      await sleep(10);
    const [ra, rb, rbusy] = await Promise.all([a, b, busy].map((i) => w.repos.instances.get(i.uuid)));
    assert.equal(ra!.vmState, 'stopped');
    assert.equal(ra!.powerState, PowerState.SHUTDOWN);
    assert.equal(rb!.vmState, 'active');
    assert.equal(rbusy!.vmState, 'active', 'an instance with a task running is left to its task');
  });

  test('a guest that died gets a crash fault', async () => {
    const i = await w.instance({ vmState: 'active', taskState: null });
    await w.guest(i.uuid);
    w.driver.events.emit('lifecycle', {
      uuid: i.uuid,
      kind: 'stopped',
      state: PowerState.SHUTDOWN,
      detail: 'failed',
      at: Date.now(),
    });
    await sleep(50);
    const f = (await w.repos.instances.latestFaults([i.uuid])).get(i.uuid);
    assert.match(f?.message ?? '', /crashed/);
    // A normal stop is not a crash.
    const j = await w.instance({ vmState: 'active', taskState: null });
    w.driver.events.emit('lifecycle', {
      uuid: j.uuid,
      kind: 'stopped',
      state: PowerState.SHUTDOWN,
      detail: 'destroyed',
      at: Date.now(),
    });
    await sleep(50);
    assert.equal((await w.repos.instances.latestFaults([j.uuid])).get(j.uuid), undefined);
  });
});
