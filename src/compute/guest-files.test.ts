// GuestFiles on a real database and real genisoimage: which servers get a drive, what a
// missing kernel or ramdisk image says, the drive restored when its file is lost, and removal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  openDatabase,
  Repositories,
  type ImageRecord,
  type Instance,
  type OpenedDatabase,
} from '../db/index.js';
import { GuestFiles, DEFAULT_CONFIG_DRIVE_POLICY } from './guest-files.js';

let dir: string;
let db: OpenedDatabase;
let repos: Repositories;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-guest-files-'));
  db = await openDatabase({ statePath: dir });
  repos = new Repositories(db.db);
});
after(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function image(properties: Record<string, string> = {}, diskFormat = 'qcow2'): Promise<ImageRecord> {
  return repos.images.create({
    id: randomUUID(),
    name: 'i',
    visibility: 'public',
    protected: false,
    osHidden: false,
    owner: null,
    containerFormat: 'bare',
    diskFormat,
    minDisk: 0,
    minRam: 0,
    properties,
    tags: [],
  });
}

async function instance(img: ImageRecord, configDrive: boolean): Promise<Instance> {
  const uuid = randomUUID();
  await repos.instances.create({
    uuid,
    displayName: 'gf',
    hostname: 'gf',
    projectId: 'p',
    userId: 'u',
    flavor: {
      id: '1',
      name: 'f',
      vcpus: 1,
      memoryMb: 64,
      rootGb: 1,
      ephemeralGb: 0,
      swapMb: 0,
      extraSpecs: {},
    },
    imageId: img.id,
    availabilityZone: 'nova',
    keyName: null,
    metadata: {},
    reservationId: 'r',
    accessIpv4: '',
    accessIpv6: '',
    diskConfig: 'AUTO',
    configDrive,
  });
  return (await repos.instances.get(uuid))!;
}

test('a drive when asked for, forced by the operator, or required by the image; else none', async () => {
  const off = new GuestFiles(repos, join(dir, 'instances'));
  const forced = new GuestFiles(repos, join(dir, 'instances'), {
    ...DEFAULT_CONFIG_DRIVE_POLICY,
    force: true,
  });
  const img = await image();
  const plain = await instance(img, false);
  assert.equal((await off.prepare(plain, img)).configDrive, undefined);
  assert.ok(!existsSync(off.configDrivePath(plain.uuid)));
  assert.equal((await off.prepare(await instance(img, true), img)).configDrive?.format, 'iso9660');
  const mandatory = await image({ img_config_drive: 'mandatory' });
  assert.ok((await off.prepare(await instance(mandatory, false), mandatory)).configDrive);
  const viaForce = await forced.prepare(plain, img);
  assert.ok(existsSync(viaForce.configDrive!.path));
  // A forced drive shows in the API as the server's config_drive.
  assert.equal((await repos.instances.get(plain.uuid))!.configDrive, true);
});

test('kernel_id / ramdisk_id: fetched through the image cache; a missing image is named with the fix', async () => {
  const kernel = await image({}, 'aki');
  await repos.images.update(kernel.id, { status: 'active' });
  const fetched: string[] = [];
  const bases = {
    ensure: async (id: string) => {
      fetched.push(id);
      return { imageId: id, path: `/cache/${id}`, format: 'raw' as const, virtualSize: 1 };
    },
  };
  const files = new GuestFiles(repos, join(dir, 'instances'), DEFAULT_CONFIG_DRIVE_POLICY, bases);
  const ami = await image({ kernel_id: kernel.id });
  assert.deepEqual(await files.prepare(await instance(ami, false), ami), {
    kernelPath: `/cache/${kernel.id}`,
  });
  assert.deepEqual(fetched, [kernel.id]);
  const gone = await image({ kernel_id: randomUUID() });
  await assert.rejects(
    files.prepare(await instance(gone, false), gone),
    /kernel_id=.*not an active image\. Fix: upload/,
  );
  const ramdiskOnly = await image({ ramdisk_id: kernel.id });
  await assert.rejects(
    files.prepare(await instance(ramdiskOnly, false), ramdiskOnly),
    /ramdisk_id but no kernel_id/,
  );
});

test('restoreConfigDrive rebuilds a lost drive; remove takes the drive, a half-built one and the empty directory', async () => {
  const files = new GuestFiles(repos, join(dir, 'instances'));
  const img = await image();
  const inst = await instance(img, true);
  assert.equal(await files.restoreConfigDrive(inst), true);
  const path = files.configDrivePath(inst.uuid);
  assert.ok(existsSync(path));
  assert.equal(await files.restoreConfigDrive(inst), false, 'nothing to do when it is there');
  // What a service killed mid-build leaves: the staging directory.
  mkdirSync(join(dir, 'instances', inst.uuid, '.config-drive-x1'));
  writeFileSync(join(dir, 'instances', inst.uuid, '.config-drive-x1', 'c0'), '{}');
  await files.remove(inst.uuid);
  assert.ok(!existsSync(join(dir, 'instances', inst.uuid)));
});
