// The qcow2 and flat backends: the shared conformance suite, plus what is particular to each
// (the TypeScript overlay agrees with qemu-img; sparse copies; preallocation; the factory).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../src/util/run.js';
import {
  createDiskBackend,
  DISK_BACKEND_KINDS,
  FlatBackend,
  Qcow2Backend,
} from '../../src/images/backends/index.js';
import { ImageError } from '../../src/images/errors.js';
import { writeQcow2Overlay } from '../../src/images/backends/qcow2-overlay.js';
import { copySparse } from '../../src/images/backends/sparse-copy.js';
import { qemuImgCreateOverlay, qemuImgInfo } from '../../src/images/qemu-img.js';
import { inspectImage } from '../../src/images/inspect/index.js';
import { runBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;
const temps: string[] = [];
async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `kt-images-${tag}-`));
  temps.push(d);
  return d;
}
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

runBackendConformance('qcow2 (TypeScript overlay)', async () => ({
  backend: new Qcow2Backend({ instancesPath: await tempDir('q') }),
}));
runBackendConformance('qcow2 (qemu-img overlay)', async () => ({
  backend: new Qcow2Backend({ instancesPath: await tempDir('qq'), overlayWriter: 'qemu-img' }),
}));
runBackendConformance('flat', async () => ({
  backend: createDiskBackend('flat', { instancesPath: await tempDir('f') }),
}));
runBackendConformance('flat, force_raw_images=False', async () => ({
  backend: new FlatBackend({ instancesPath: await tempDir('fq'), forceRawImages: false }),
}));

describe('qcow2 overlay written in TypeScript', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('ov');
  });

  for (const [label, size, clusterBits] of [
    ['10 MiB', 10 * MiB, 16],
    ['10 GiB', 10 * 1024 * MiB, 16],
    ['3 TiB, odd size', 3 * 1024 * 1024 * MiB + 512, 16],
    ['1 GiB, 4 KiB clusters', 1024 * MiB, 12],
  ] as const) {
    test(`qemu-img check and info agree with it (${label})`, async () => {
      const base = join(dir, `base-${clusterBits}-${size}.raw`);
      await writeFile(base, '');
      await truncate(base, 10 * MiB);
      const ours = join(dir, `ours-${clusterBits}-${size}.qcow2`);
      await writeQcow2Overlay(ours, {
        backingFile: base,
        backingFormat: 'raw',
        sizeBytes: size,
        clusterBits,
      });
      await runChecked(['qemu-img', 'check', '-q', '-f', 'qcow2', ours]);
      const info = await qemuImgInfo(ours, 'qcow2', { limits: false });
      assert.equal(info['virtual-size'], size);
      assert.equal(info['backing-filename'], base);
      assert.equal(info['backing-filename-format'], 'raw');
      assert.equal(info['cluster-size'], 2 ** clusterBits);
      assert.equal(info['format-specific']?.data?.compat, '1.1');
      // And our own inspector reads it like qemu-img's overlay.
      const reference = join(dir, `ref-${clusterBits}-${size}.qcow2`);
      await qemuImgCreateOverlay(reference, base, 'raw', size);
      const [a, b] = [await inspectImage(ours), await inspectImage(reference)];
      assert.equal(a.virtualSize, b.virtualSize);
      assert.deepEqual(
        a.findings.map((f) => f.code),
        ['qcow2-backing-file'],
      );
      if (clusterBits === 16)
        assert.equal((await stat(ours)).size, (await stat(reference)).size, 'same layout as qemu-img');
    });
  }

  test('refuses to overwrite an existing file, and a name too long for the header', async () => {
    const p = join(dir, 'exists.qcow2');
    await writeFile(p, 'keep');
    await assert.rejects(
      writeQcow2Overlay(p, { backingFile: '/b', backingFormat: 'raw', sizeBytes: MiB }),
      /EEXIST/,
    );
    await assert.rejects(
      writeQcow2Overlay(join(dir, 'long.qcow2'), {
        backingFile: `/${'x'.repeat(2000)}`,
        backingFormat: 'raw',
        sizeBytes: MiB,
      }),
      /1\.\.1023/,
    );
  });
});

describe('local backends', () => {
  test('flat copies stay sparse', async () => {
    const dir = await tempDir('sp');
    const src = join(dir, 'sparse.raw');
    await writeFile(src, Buffer.alloc(4096, 1));
    await truncate(src, 256 * MiB);
    const dest = join(dir, 'copy.raw');
    await copySparse(src, dest);
    const st = await stat(dest);
    assert.equal(st.size, 256 * MiB);
    assert.ok(st.blocks * 512 < 4 * MiB, `copy allocated ${st.blocks * 512} bytes`);
  });

  test('preallocate_images=space reserves the disk', async () => {
    for (const kind of ['qcow2', 'flat'] as const) {
      const instancesPath = await tempDir(`pre-${kind}`);
      const base = join(instancesPath, 'base.raw');
      await writeFile(base, '');
      await truncate(base, 8 * MiB);
      const backend = createDiskBackend(kind, { instancesPath, preallocateImages: 'space' });
      const uuid = randomUUID();
      const src = await backend.create({
        instanceUuid: uuid,
        imageId: 'x',
        sizeBytes: 16 * MiB,
        base: () => Promise.resolve({ imageId: 'x', path: base, format: 'raw', virtualSize: 8 * MiB }),
      });
      assert.equal(src.kind, 'file');
      const st = await stat(src.kind === 'file' ? src.path : '');
      assert.ok(st.blocks * 512 >= 16 * MiB, `${kind}: ${st.blocks * 512} bytes allocated`);
      await backend.delete(uuid);
    }
  });

  test('the registry builds each kind from its own options and says what it does itself', async () => {
    const instancesPath = await tempDir('registry');
    const qcow2 = createDiskBackend('qcow2', { instancesPath, overlayWriter: 'qemu-img' });
    const flat = createDiskBackend('flat', { instancesPath });
    assert.equal(qcow2.kind, 'qcow2');
    assert.equal(flat.kind, 'flat');
    for (const b of [qcow2, flat]) {
      assert.deepEqual(b.capabilities, { usesLocalBase: true, copiesSnapshots: false, ownCapacity: false });
    }
    assert.deepEqual(DISK_BACKEND_KINDS, ['qcow2', 'flat', 'lvm', 'rbd']);
    assert.throws(
      () => createDiskBackend('ploop' as 'flat', { instancesPath }),
      (e: unknown) =>
        e instanceof ImageError &&
        e.code === 'storage-misconfigured' &&
        /use one of qcow2, flat, lvm, rbd/.test(e.message),
    );
  });
});
