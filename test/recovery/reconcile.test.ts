// Start-up reconciliation on the fake driver: every kind of leftover a kill -9 can leave.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { reconcileAtStartup, type ReconcileReport } from '../../src/compute/reconcile.js';
import { ImageCache } from '../../src/images/cache.js';
import { PowerState } from '../../src/virt/driver.js';
import { HOST, openWorld, type World } from './fixtures.js';

describe('start-up reconciliation (fake driver)', () => {
  let w: World;
  let report: ReconcileReport;
  const ids: Record<string, string> = {};
  let cache: ImageCache;
  const partName = `${'a'.repeat(40)}.part`;

  before(async () => {
    w = await openWorld();
    // 1. a build whose guest runs: finished
    const built = await w.instance();
    await w.guest(built.uuid);
    ids.built = built.uuid;
    // 2. a build with a disk and no guest: rolled back
    const half = await w.instance({ taskState: 'block_device_mapping' });
    await w.disks.create(half.uuid);
    ids.half = half.uuid;
    // 3. a build with a guest that is not running (defined, then stopped): rolled back
    const stopped = await w.instance();
    await w.guest(stopped.uuid);
    await w.driver.powerOff(stopped.uuid, 0);
    ids.notRunning = stopped.uuid;
    // 4. never scheduled, but the claim was written
    ids.unscheduled = (await w.instance({ host: null, taskState: 'scheduling' })).uuid;
    // 5. a delete cut short
    const del = await w.instance({ vmState: 'active', taskState: 'deleting' });
    await w.guest(del.uuid);
    ids.deleting = del.uuid;
    // 6. a stop cut short: the guest is already off
    const stopping = await w.instance({ vmState: 'active', taskState: 'powering-off' });
    await w.guest(stopping.uuid);
    await w.driver.powerOff(stopping.uuid, 0);
    ids.stopping = stopping.uuid;
    // 7. an active instance whose guest vanished
    ids.vanished = (await w.instance({ vmState: 'active', taskState: null })).uuid;
    // 8. an active instance, nothing to do
    const fine = await w.instance({ vmState: 'active', taskState: null });
    await w.guest(fine.uuid);
    await w.repos.instances.update(fine.uuid, { powerState: PowerState.RUNNING });
    ids.fine = fine.uuid;
    // 9. the guest of an instance recorded as deleted: reaped
    const gone = await w.instance({ vmState: 'active', taskState: null });
    await w.guest(gone.uuid);
    await w.repos.instances.markDeleted(gone.uuid);
    ids.deletedRow = gone.uuid;
    // 10. a Kestrel guest the database has never heard of: kept, reported
    ids.unknown = randomUUID();
    await w.guest(ids.unknown);
    // 11. a directory nothing owns; an allocation nobody holds; a partial cache download
    ids.orphanDir = randomUUID();
    await w.disks.create(ids.orphanDir);
    ids.orphanAlloc = randomUUID();
    await w.repos.placement.insertAllocations(ids.orphanAlloc, w.providerUuid, { VCPU: 2 });
    cache = new ImageCache({
      instancesPath: w.instancesPath,
      source: { open: () => assert.fail('no fetch') },
    });
    mkdirSync(cache.baseDir, { recursive: true });
    writeFileSync(join(cache.baseDir, partName), 'half an image');
    writeFileSync(join(cache.baseDir, 'b'.repeat(40)), 'a complete base');

    // 12. a snapshot cut short: its image queued, its flattened copy on disk
    const snap = await w.instance({ vmState: 'active', taskState: 'image_uploading' });
    await w.guest(snap.uuid);
    await w.driver.pause(snap.uuid); // as the snapshot's disk copy does
    ids.snapInstance = snap.uuid;
    ids.snapImage = randomUUID();
    await w.repos.images.create({
      id: ids.snapImage,
      name: 'kt-recovery-snap',
      visibility: 'private',
      protected: false,
      osHidden: false,
      owner: 'p1',
      containerFormat: 'bare',
      diskFormat: 'qcow2',
      minDisk: 0,
      minRam: 0,
      properties: { instance_uuid: snap.uuid, image_type: 'snapshot' },
      tags: [],
    });
    mkdirSync(join(w.instancesPath, 'snapshots'), { recursive: true });
    writeFileSync(join(w.instancesPath, 'snapshots', `${ids.snapImage}.qcow2`), 'half a copy');

    // 13. a failed build whose undo could not remove its guest
    const failed = await w.instance({ vmState: 'error', taskState: null });
    await w.guest(failed.uuid);
    ids.failedLeftover = failed.uuid;

    report = await reconcileAtStartup({
      repos: w.repos,
      driver: w.driver,
      disks: w.disks,
      host: HOST,
      instancesPath: w.instancesPath,
      imageCache: cache,
    });
  });
  after(() => w.close());

  const inst = (uuid: string) => w.repos.instances.get(uuid, { includeDeleted: true });
  const fault = async (uuid: string) => (await w.repos.instances.latestFaults([uuid])).get(uuid);

  test('a build whose guest runs becomes ACTIVE and its action succeeds', async () => {
    const i = (await inst(ids.built))!;
    assert.equal(i.vmState, 'active');
    assert.equal(i.taskState, null);
    assert.equal(i.powerState, PowerState.RUNNING);
    assert.ok(i.launchedAt);
    assert.deepEqual(report.buildsFinished, [ids.built]);
    const [a] = await w.repos.instances.listActions(ids.built);
    assert.ok(a.finishTime);
    assert.equal(a.message, null);
  });

  test('incomplete builds go to ERROR with a restart fault, leaving no guest, disk or allocation', async () => {
    for (const uuid of [ids.half, ids.notRunning, ids.unscheduled]) {
      const i = (await inst(uuid))!;
      assert.equal(i.vmState, 'error', uuid);
      assert.equal(i.taskState, null);
      assert.match((await fault(uuid))!.message, /interrupted by a restart of kestrel serve/);
      assert.deepEqual(await w.repos.placement.allocationsOf(uuid), []);
      assert.equal(existsSync(join(w.instancesPath, uuid)), false);
      const [a] = await w.repos.instances.listActions(uuid);
      assert.equal(a.message, 'Error');
      const ev = await w.repos.instances.getAction(uuid, a.requestId);
      assert.equal(ev!.events[0].result, 'Error');
      assert.match(ev!.events[0].traceback!, /interrupted/);
    }
    assert.equal((await w.driver.list()).includes(ids.notRunning), false);
    assert.deepEqual(report.buildsRolledBack.sort(), [ids.half, ids.notRunning, ids.unscheduled].sort());
  });

  test('a delete cut short is finished', async () => {
    const i = (await inst(ids.deleting))!;
    assert.equal(i.deleted, true);
    assert.equal(i.vmState, 'deleted');
    assert.equal((await w.driver.list()).includes(ids.deleting), false);
    assert.equal(existsSync(join(w.instancesPath, ids.deleting)), false);
    assert.deepEqual(await w.repos.placement.allocationsOf(ids.deleting), []);
  });

  test("an interrupted action is cleared and the guest's real state recorded", async () => {
    const i = (await inst(ids.stopping))!;
    assert.equal(i.taskState, null);
    assert.equal(i.vmState, 'stopped');
    assert.equal(i.powerState, PowerState.SHUTDOWN);
    assert.equal(report.tasksCleared[ids.stopping], 'powering-off');
  });

  test('an instance whose guest vanished is ERROR with a fault', async () => {
    const i = (await inst(ids.vanished))!;
    assert.equal(i.vmState, 'error');
    assert.match((await fault(ids.vanished))!.message, /missing from the hypervisor/);
    const ok = (await inst(ids.fine))!;
    assert.equal(ok.vmState, 'active');
    assert.equal(await fault(ids.fine), undefined);
  });

  test('the guest of a deleted instance is reaped; an unknown one is kept and reported', async () => {
    const guests = await w.driver.list();
    assert.equal(guests.includes(ids.deletedRow), false);
    assert.equal(existsSync(join(w.instancesPath, ids.deletedRow)), false);
    assert.deepEqual(report.domainsReaped, [ids.deletedRow]);
    assert.equal(guests.includes(ids.unknown), true);
    assert.deepEqual(report.unknownDomains, [ids.unknown]);
    assert.equal(existsSync(join(w.instancesPath, ids.unknown)), true);
  });

  test('orphaned directories, cache parts and allocations are removed; complete bases stay', async () => {
    assert.equal(existsSync(join(w.instancesPath, ids.orphanDir)), false);
    assert.ok(report.diskDirsRemoved.includes(ids.orphanDir));
    assert.equal(existsSync(join(cache.baseDir, partName)), false);
    assert.equal(existsSync(join(cache.baseDir, 'b'.repeat(40))), true);
    assert.deepEqual(await w.repos.placement.allocationsOf(ids.orphanAlloc), []);
    assert.ok(report.allocationsReleased.includes(ids.orphanAlloc));
    assert.ok((await w.repos.placement.allocationsOf(ids.fine)).length > 0, 'live instances keep theirs');
    assert.deepEqual(report.failures, []);
  });

  test('a snapshot cut short: image killed, its copy removed, the instance back to ACTIVE', async () => {
    const img = await w.repos.images.get(ids.snapImage);
    assert.equal(img?.status, 'killed');
    assert.match(img?.failure ?? '', /interrupted/);
    assert.equal(existsSync(join(w.instancesPath, 'snapshots', `${ids.snapImage}.qcow2`)), false);
    const i = (await inst(ids.snapInstance))!;
    assert.equal(i.vmState, 'active');
    assert.equal(i.taskState, null);
    assert.equal(i.powerState, PowerState.RUNNING, 'the guest the copy had paused runs again');
    assert.equal((await w.driver.info(ids.snapInstance)).state, PowerState.RUNNING);
  });

  test('a failed build that never ran loses the guest its undo left behind', async () => {
    const i = (await inst(ids.failedLeftover))!;
    assert.equal(i.vmState, 'error');
    assert.equal((await w.driver.list()).includes(ids.failedLeftover), false);
    assert.equal(existsSync(join(w.instancesPath, ids.failedLeftover)), false);
    assert.deepEqual(report.buildLeftoversRemoved, [ids.failedLeftover]);
  });

  test('a second run finds nothing left to do', async () => {
    const again = await reconcileAtStartup({
      repos: w.repos,
      driver: w.driver,
      disks: w.disks,
      host: HOST,
      instancesPath: w.instancesPath,
      imageCache: cache,
    });
    assert.deepEqual(
      [
        again.buildsFinished,
        again.buildsRolledBack,
        again.deletesFinished,
        again.domainsReaped,
        again.diskDirsRemoved,
        again.allocationsReleased,
        again.cacheFilesRemoved,
      ],
      [[], [], [], [], [], [], []],
    );
    assert.deepEqual(again.unknownDomains, [ids.unknown], 'still reported every start');
  });
});
