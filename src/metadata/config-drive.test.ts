// The drive as a guest sees it, built with the real genisoimage / mtools and read back with
// isoinfo (Rock Ridge names, the config-2 volume id) and mtype / mlabel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../util/run.js';
import { writeConfigDrive } from './config-drive.js';
import type { MetadataTree } from './tree.js';

const tree: MetadataTree = new Map([
  ['openstack/latest/meta_data.json', Buffer.from('{"uuid":"d8e02d56-2648-49a3-bf97-6be8f1204f38"}')],
  ['openstack/latest/user_data', Buffer.from('#!/bin/sh\necho hi\n')],
  ['ec2/latest/meta-data.json', Buffer.from('{}')],
]);

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'kestrel-cd-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('iso9660: volume id config-2, Rock Ridge keeps lower-case names and underscores', () =>
  withDir(async (dir) => {
    const iso = join(dir, 'disk.config');
    await writeConfigDrive(tree, iso, 'iso9660');
    const info = await run(['isoinfo', '-d', '-i', iso]);
    assert.match(info.stdout, /^Volume id: config-2$/m);
    assert.match(info.stdout, /Rock Ridge signatures version/);
    const listing = await run(['isoinfo', '-R', '-f', '-i', iso]);
    assert.deepEqual(listing.stdout.trim().split('\n').sort(), [
      '/ec2',
      '/ec2/latest',
      '/ec2/latest/meta-data.json',
      '/openstack',
      '/openstack/latest',
      '/openstack/latest/meta_data.json',
      '/openstack/latest/user_data',
    ]);
    const ud = await run(['isoinfo', '-R', '-i', iso, '-x', '/openstack/latest/user_data']);
    assert.equal(ud.stdout, '#!/bin/sh\necho hi\n');
    // Nothing left beside it (the staging directory is gone).
    assert.deepEqual(await readdir(dir), ['disk.config']);
  }));

test('vfat: a 64 MiB FAT image labelled CONFIG-2 with the same files', () =>
  withDir(async (dir) => {
    const img = join(dir, 'disk.config');
    await writeConfigDrive(tree, img, 'vfat');
    assert.equal((await stat(img)).size, 64 * 1024 * 1024);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    const label = await run(['mlabel', '-i', img, '-s', '::'], { env });
    assert.match(label.stdout, /CONFIG-2/);
    const md = await run(['mtype', '-i', img, '::openstack/latest/meta_data.json'], { env });
    assert.equal(md.stdout, '{"uuid":"d8e02d56-2648-49a3-bf97-6be8f1204f38"}');
  }));

test('a path that leaves the drive is refused before anything is written', () =>
  withDir(async (dir) => {
    const bad: MetadataTree = new Map([['../escape', Buffer.from('x')]]);
    await assert.rejects(writeConfigDrive(bad, join(dir, 'disk.config'), 'iso9660'), /leaves the drive/);
    assert.deepEqual(await readdir(dir), []);
  }));
