// Start-up reconciliation finds orphan disks through the disk backend's list(), not only as
// `<instances_path>/<uuid>/` directories: LVM volumes and RBD images live elsewhere. Stand-in: a
// flat backend whose directory is NOT the reconciler's instances_path, so only list() sees it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { reconcileAtStartup, type ReconcileReport } from '../../src/compute/reconcile.js';
import { BackendDisks } from '../../src/compute/disks.js';
import { FlatBackend } from '../../src/images/backends/flat.js';
import { HOST, openWorld, type World } from './fixtures.js';

describe('start-up reconciliation: orphan disks in the disk backend', () => {
  let w: World;
  let backend: FlatBackend;
  let report: ReconcileReport;
  const logs: { msg: string; instance?: string }[] = [];
  const ids: Record<string, string> = {};

  /** A disk in the backend as the backend lays it out (list() finds it). */
  const backendDisk = (uuid: string) => {
    mkdirSync(join(backend.instancesPath, uuid), { recursive: true });
    writeFileSync(backend.diskPath(uuid), 'disk');
  };
  const hasDisk = (uuid: string) => existsSync(backend.diskPath(uuid));

  before(async () => {
    w = await openWorld('kt-recovery-backend-');
    backend = new FlatBackend({ instancesPath: join(w.dir, 'volume-group') });

    ids.unknown = randomUUID(); // no row at all
    backendDisk(ids.unknown);
    const deleted = await w.instance({ vmState: 'active', taskState: null });
    await w.repos.instances.markDeleted(deleted.uuid);
    ids.deleted = deleted.uuid;
    backendDisk(ids.deleted);
    const live = await w.instance({ vmState: 'active', taskState: null });
    await w.guest(live.uuid);
    ids.live = live.uuid;
    backendDisk(ids.live);
    ids.elsewhere = (
      await w.instance({ host: 'kt-recovery-other-host', vmState: 'active', taskState: null })
    ).uuid;
    backendDisk(ids.elsewhere);
    // A guest the database has never heard of is kept (and reported): so is its disk.
    ids.unknownGuest = randomUUID();
    await w.guest(ids.unknownGuest);
    backendDisk(ids.unknownGuest);

    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    report = await reconcileAtStartup({
      repos: w.repos,
      driver: w.driver,
      disks: new BackendDisks(backend, { ensure: () => assert.fail('no base image is needed') }),
      host: HOST,
      instancesPath: w.instancesPath,
      logger: pino({ level: 'warn' }, sink),
    });
  });
  after(() => w.close());

  test('disks of unknown and deleted instances are deleted and logged', () => {
    assert.equal(hasDisk(ids.unknown), false);
    assert.equal(hasDisk(ids.deleted), false);
    assert.deepEqual(report.backendDisksRemoved.sort(), [ids.unknown, ids.deleted].sort());
    assert.ok(logs.some((l) => l.instance === ids.unknown && /does not know/.test(l.msg)));
    assert.ok(logs.some((l) => l.instance === ids.deleted && /deleted instance/.test(l.msg)));
    assert.deepEqual(report.failures, []);
  });

  test('disks of live instances (here or on another host) and of an unknown guest stay', () => {
    for (const uuid of [ids.live, ids.elsewhere, ids.unknownGuest]) assert.equal(hasDisk(uuid), true, uuid);
    assert.deepEqual(report.unknownDomains, [ids.unknownGuest]);
  });

  test('a second run deletes nothing more', async () => {
    const again = await reconcileAtStartup({
      repos: w.repos,
      driver: w.driver,
      disks: new BackendDisks(backend, { ensure: () => assert.fail('no base image is needed') }),
      host: HOST,
      instancesPath: w.instancesPath,
    });
    assert.deepEqual(again.backendDisksRemoved, []);
    assert.deepEqual((await backend.list()).sort(), [ids.live, ids.elsewhere, ids.unknownGuest].sort());
  });
});
