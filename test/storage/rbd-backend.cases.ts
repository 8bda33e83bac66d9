// images_type=rbd against the real Ceph (called from ceph.test.ts): clone in place, import
// fallback, never_download_image_if_on_rbd, flavor sizes, export, capacity, the client key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RbdImageStore } from '../../src/images/rbd/store.js';
import { CephCli } from '../../src/images/rbd/cli.js';
import { cephClientKey, ImageUnacceptableError, RbdDiskBackend } from '../../src/images/backends/rbd.js';
import { createDiskBackend, type CachedBase } from '../../src/images/backends/index.js';
import { FlavorDiskSmallerThanImageError } from '../../src/images/errors.js';
import { runChecked } from '../../src/util/run.js';
import type { CephEnv } from './ceph-env.js';

const MiB = 1024 * 1024;

export function rbdBackendCases(env: () => CephEnv, prefix: string): void {
  let dir = '';
  let rawData = Buffer.alloc(0);
  let rawLocation = '';
  let qcowLocation = '';
  let basePath = '';
  const rawId = `${prefix}-be-raw`;
  const qcowId = `${prefix}-be-qcow2`;
  const instances: string[] = [];
  const cli = (): CephCli => new CephCli({ cephConf: env().conf, user: env().user });
  const backend = (extra: Partial<ConstructorParameters<typeof RbdDiskBackend>[0]> = {}): RbdDiskBackend =>
    new RbdDiskBackend({
      cephConf: env().conf,
      user: env().user,
      pool: 'vms',
      secretUuid: 'a1b2c3d4-0000-4000-8000-000000000001',
      ...extra,
    });
  const newInstance = (): string => {
    const u = randomUUID();
    instances.push(u);
    return u;
  };
  let baseCalls = 0;
  const base = async (): Promise<CachedBase> => {
    baseCalls++;
    return { imageId: rawId, path: basePath, format: 'raw', virtualSize: rawData.length };
  };
  const parentOf = async (uuid: string): Promise<string | undefined> => {
    const info = await cli().rbdJson<{ parent?: { pool: string; image: string; snapshot: string } }>([
      'info',
      `vms/${uuid}_disk`,
    ]);
    return info.parent ? `${info.parent.pool}/${info.parent.image}@${info.parent.snapshot}` : undefined;
  };
  const sizeOf = async (uuid: string): Promise<number> =>
    (await cli().rbdJson<{ size: number }>(['info', `vms/${uuid}_disk`])).size;

  test('rbd backend: setup (a raw and a qcow2 image in the images pool, a cached raw base)', async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-be-`));
    rawData = randomBytes(2 * MiB);
    basePath = join(dir, 'base.raw');
    await writeFile(basePath, rawData);
    const store = new RbdImageStore({ cephConf: env().conf, user: env().user, pool: 'images' });
    rawLocation = (await store.put(rawId, Readable.from([rawData]), { declaredFormat: 'raw' })).location;
    const q = join(dir, 'img.qcow2');
    await runChecked(['qemu-img', 'create', '-q', '-f', 'qcow2', q, '4M']);
    qcowLocation = (await store.put(qcowId, Readable.from([await readFile(q)]), { declaredFormat: 'qcow2' }))
      .location;
  });

  test('rbd backend: a raw image of this cluster is cloned (no base fetched) and grown to the flavor', async () => {
    const b = backend();
    const uuid = newInstance();
    baseCalls = 0;
    const src = await b.create({
      instanceUuid: uuid,
      imageId: rawId,
      sizeBytes: 8 * MiB,
      base,
      imageLocations: ['rbd://x', rawLocation],
    });
    assert.equal(baseCalls, 0, 'clone in place needs no download');
    assert.equal(await parentOf(uuid), `images/${rawId}@snap`);
    assert.equal(await sizeOf(uuid), 8 * MiB);
    assert.deepEqual(src, {
      kind: 'rbd',
      pool: 'vms',
      image: `${uuid}_disk`,
      monitors: [{ host: '127.0.0.1', port: 6789 }],
      user: 'kestrel',
      secretUuid: 'a1b2c3d4-0000-4000-8000-000000000001',
    });
    assert.equal(await b.exists(uuid), true);
    assert.ok((await b.list()).includes(uuid));
    const out = join(dir, `${uuid}.raw`);
    await b.exportTo(uuid, out, 'raw');
    const exported = await readFile(out);
    assert.equal(exported.length, 8 * MiB);
    assert.ok(exported.subarray(0, rawData.length).equals(rawData), 'the clone reads through to the image');
    const q = join(dir, `${uuid}.qcow2`);
    await b.exportTo(uuid, q, 'qcow2');
    const cmp = await runChecked(['qemu-img', 'compare', '-f', 'qcow2', '-F', 'raw', q, out]);
    assert.match(cmp.stdout, /identical/);
    await b.delete(uuid);
    assert.equal(await b.exists(uuid), false);
    await b.delete(uuid); // nothing left: still fine
  });

  test('rbd backend: another cluster, a non-raw image or no location means importing the cached base', async () => {
    const b = backend();
    const foreign = rawLocation.replace(/^rbd:\/\/[^/]+/, 'rbd://00000000-0000-4000-8000-000000000000');
    for (const locations of [
      [foreign],
      [qcowLocation],
      [rawLocation.replace(/\/snap$/, '/missing')],
      undefined,
    ]) {
      const uuid = newInstance();
      baseCalls = 0;
      await b.create({ instanceUuid: uuid, imageId: rawId, sizeBytes: 0, base, imageLocations: locations });
      assert.equal(baseCalls, 1, `base fetched for ${JSON.stringify(locations)}`);
      assert.equal(await parentOf(uuid), undefined, 'imported, not cloned');
      assert.equal(await sizeOf(uuid), rawData.length, 'size 0 keeps the image size');
      await b.delete(uuid);
    }
  });

  test('rbd backend: never_download_image_if_on_rbd refuses instead of downloading; nothing is left', async () => {
    const b = backend({ neverDownloadImageIfOnRbd: true });
    const uuid = newInstance();
    baseCalls = 0;
    await assert.rejects(
      b.create({ instanceUuid: uuid, imageId: qcowId, sizeBytes: 0, base, imageLocations: [qcowLocation] }),
      ImageUnacceptableError,
    );
    assert.equal(baseCalls, 0);
    assert.equal(await b.exists(uuid), false);
  });

  test('rbd backend: a flavor smaller than the image is refused before anything is made', async () => {
    const b = backend();
    const uuid = newInstance();
    await assert.rejects(
      b.create({ instanceUuid: uuid, imageId: rawId, sizeBytes: MiB, base, imageLocations: [rawLocation] }),
      FlavorDiskSmallerThanImageError,
    );
    await assert.rejects(
      b.create({ instanceUuid: uuid, imageId: rawId, sizeBytes: MiB, base }),
      FlavorDiskSmallerThanImageError,
    );
    assert.equal(await b.exists(uuid), false);
  });

  test('rbd backend: refuses to start without raw images or a pool; registered as images_type=rbd', () => {
    assert.throws(() => new RbdDiskBackend({ forceRawImages: false }), /force_raw_images/);
    assert.throws(() => new RbdDiskBackend({ pool: '' }), /images_rbd_pool/);
    const viaRegistry = createDiskBackend('rbd', { pool: 'vms', user: 'kestrel' });
    assert.equal(viaRegistry.kind, 'rbd');
    assert.deepEqual(viaRegistry.capabilities, {
      usesLocalBase: false,
      copiesSnapshots: true,
      ownCapacity: true,
    });
    assert.throws(() => createDiskBackend('rbd', { forceRawImages: false }), /force_raw_images/);
  });

  test('rbd backend: capacity from the cluster; the client key for the libvirt secret', async () => {
    const cap = await backend().capacity();
    assert.ok(cap.totalBytes > 0 && cap.freeBytes > 0 && cap.freeBytes <= cap.totalBytes);
    const key = await cephClientKey({ cephConf: env().conf, user: 'kestrel' });
    const keyring = await readFile(join(env().conf, '..', 'ceph.client.kestrel.keyring'), 'utf8');
    assert.equal(/key = (\S+)/.exec(keyring)?.[1], key);
    await assert.rejects(
      cephClientKey({ cephConf: env().conf, user: 'kestrel', adminUser: 'kestrel' }),
      /get-key/,
    );
  });

  test('rbd backend: cleanup', async () => {
    const b = backend();
    for (const u of instances) await b.delete(u).catch(() => undefined);
    const store = new RbdImageStore({ cephConf: env().conf, user: env().user, pool: 'images' });
    await store.delete(rawId);
    await store.delete(qcowId);
    await rm(dir, { recursive: true, force: true });
  });
}
