// One conformance suite for every DiskBackend (qcow2 and flat here; LVM and RBD call it too).
// It makes its own cached bases (raw and qcow2, with a known pattern), and checks the backend
// only through the DiskBackend interface and exportTo, so it needs no knowledge of where a
// backend keeps its disks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runChecked } from '../../src/util/run.js';
import type { CachedBase, DiskBackend } from '../../src/images/backends/backend.js';
import { FlavorDiskSmallerThanImageError } from '../../src/images/errors.js';
import { qemuImgInfo } from '../../src/images/qemu-img.js';

export interface BackendUnderTest {
  backend: DiskBackend;
  /** Removes whatever the backend itself needs (a volume group, a pool …). */
  cleanup?: () => Promise<void>;
}

export type ConformanceCheck =
  | 'raw-base'
  | 'qcow2-base'
  | 'size-zero'
  | 'too-small'
  | 'delete'
  | 'list-exists'
  | 'export-qcow2'
  | 'failure'
  | 'twice'
  | 'capacity'
  | 'local-disks';

export interface ConformanceOptions {
  /** Checks a backend cannot pass here, each with the reason (skips are explicit). */
  skip?: Partial<Record<ConformanceCheck, string>>;
  /** The base formats the backend takes (default both raw and qcow2). */
  baseFormats?: ('raw' | 'qcow2')[];
}

const MiB = 1024 * 1024;
const BASE_SIZE = 16 * MiB;
const FLAVOR_SIZE = 32 * MiB;

export function runBackendConformance(
  name: string,
  makeBackend: () => Promise<BackendUnderTest>,
  opts: ConformanceOptions = {},
): void {
  describe(`DiskBackend conformance: ${name}`, () => {
    let dir: string;
    let under: BackendUnderTest;
    let backend: DiskBackend;
    const bases: Partial<Record<'raw' | 'qcow2', CachedBase>> = {};
    const made = new Set<string>();
    const baseFormats = opts.baseFormats ?? ['raw', 'qcow2'];
    const newUuid = (): string => {
      const u = randomUUID();
      made.add(u);
      return u;
    };
    const check = (id: ConformanceCheck, title: string, fn: () => Promise<void>): void => {
      const reason = opts.skip?.[id];
      test(title, reason ? { skip: reason } : {}, fn);
    };
    const baseOf =
      (fmt: 'raw' | 'qcow2'): (() => Promise<CachedBase>) =>
      () =>
        Promise.resolve(bases[fmt]!);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kt-images-conf-'));
      const raw = join(dir, 'base.raw');
      const data = Buffer.alloc(BASE_SIZE);
      randomBytes(MiB).copy(data, MiB); // a recognisable region, the rest zero
      randomBytes(4096).copy(data, BASE_SIZE - 4096); // data up to the very end
      await writeFile(raw, data);
      bases.raw = {
        imageId: `kt-images-raw-${randomUUID()}`,
        path: raw,
        format: 'raw',
        virtualSize: BASE_SIZE,
      };
      const qcow2 = join(dir, 'base.qcow2');
      await runChecked(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
      bases.qcow2 = {
        imageId: `kt-images-qcow2-${randomUUID()}`,
        path: qcow2,
        format: 'qcow2',
        virtualSize: BASE_SIZE,
      };
      under = await makeBackend();
      backend = under.backend;
    });

    after(async () => {
      for (const u of made) await backend.delete(u).catch(() => undefined);
      await under?.cleanup?.();
      await rm(dir, { recursive: true, force: true });
    });

    /** The disk's content, flattened to raw through exportTo. */
    async function exportRaw(uuid: string): Promise<string> {
      const out = join(dir, `${uuid}.export.raw`);
      await backend.exportTo(uuid, out, 'raw');
      return out;
    }

    async function assertSameContentAsBase(exported: string, sizeBytes: number): Promise<void> {
      assert.equal((await stat(exported)).size, sizeBytes, 'exported disk size');
      // qemu-img compare: the base's data must be there, and the extension must read as zeros.
      const r = await run(['qemu-img', 'compare', '-q', '-f', 'raw', '-F', 'raw', bases.raw!.path, exported]);
      assert.equal(r.code, 0, `disk content differs from the base: ${r.stdout}${r.stderr}`);
    }

    for (const fmt of baseFormats) {
      check(`${fmt}-base`, `creates a disk from a ${fmt} base, sized to the flavor`, async () => {
        const uuid = newUuid();
        const source = await backend.create({
          instanceUuid: uuid,
          imageId: bases[fmt]!.imageId,
          sizeBytes: FLAVOR_SIZE,
          base: baseOf(fmt),
        });
        assert.ok(['file', 'block', 'rbd'].includes(source.kind));
        assert.equal(await backend.exists(uuid), true);
        const exported = await exportRaw(uuid);
        await assertSameContentAsBase(exported, FLAVOR_SIZE);
        await rm(exported);
      });
    }

    check(
      'local-disks',
      'ephemeral and swap disks beside the root disk; delete removes all three',
      async () => {
        const uuid = newUuid();
        const req = (name?: 'disk.local' | 'disk.swap') => ({
          instanceUuid: uuid,
          imageId: bases.raw!.imageId,
          sizeBytes: FLAVOR_SIZE,
          base: baseOf('raw'),
          ...(name ? { name } : {}),
        });
        const root = await backend.create(req());
        const local = await backend.create(req('disk.local'));
        const swap = await backend.create(req('disk.swap'));
        const sources = [root, local, swap].map((x) => JSON.stringify(x));
        assert.equal(new Set(sources).size, 3, `three distinct disks: ${sources.join(' ')}`);
        assert.deepEqual(await backend.source(uuid, 'disk.local'), local);
        assert.deepEqual(await backend.source(uuid, 'disk.swap'), swap);
        await assert.rejects(backend.create(req('disk.local')), /already exists/);
        await backend.delete(uuid);
        assert.equal(await backend.exists(uuid), false);
        // Gone, all of them: each can be made again.
        await backend.create(req('disk.local'));
        await backend.create(req('disk.swap'));
        await backend.delete(uuid);
      },
    );

    check('size-zero', 'a flavor root disk of 0 means the image’s own size', async () => {
      const uuid = newUuid();
      await backend.create({
        instanceUuid: uuid,
        imageId: bases.raw!.imageId,
        sizeBytes: 0,
        base: baseOf(baseFormats[0]),
      });
      const exported = await exportRaw(uuid);
      await assertSameContentAsBase(exported, BASE_SIZE);
      await rm(exported);
    });

    check(
      'too-small',
      'refuses a flavor disk smaller than the image, naming both sizes, and leaves nothing',
      async () => {
        const uuid = newUuid();
        const err = await backend
          .create({
            instanceUuid: uuid,
            imageId: bases.raw!.imageId,
            sizeBytes: 8 * MiB,
            base: baseOf(baseFormats[0]),
          })
          .catch((e: unknown) => e);
        assert.ok(err instanceof FlavorDiskSmallerThanImageError, String(err));
        assert.match(err.message, new RegExp(`${8 * MiB} bytes`));
        assert.match(err.message, new RegExp(`${BASE_SIZE} bytes`));
        assert.equal(await backend.exists(uuid), false);
        assert.ok(!(await backend.list()).includes(uuid));
      },
    );

    check('list-exists', 'list and exists see exactly the disks that exist', async () => {
      const a = newUuid();
      const b = newUuid();
      await backend.create({
        instanceUuid: a,
        imageId: 'x',
        sizeBytes: FLAVOR_SIZE,
        base: baseOf(baseFormats[0]),
      });
      await backend.create({
        instanceUuid: b,
        imageId: 'x',
        sizeBytes: FLAVOR_SIZE,
        base: baseOf(baseFormats[0]),
      });
      const listed = await backend.list();
      assert.ok(listed.includes(a) && listed.includes(b));
      await backend.delete(a);
      assert.equal(await backend.exists(a), false);
      assert.equal(await backend.exists(b), true);
      assert.ok(!(await backend.list()).includes(a));
    });

    check('delete', 'delete is idempotent, also for a disk that never existed', async () => {
      const uuid = newUuid();
      await backend.create({
        instanceUuid: uuid,
        imageId: 'x',
        sizeBytes: FLAVOR_SIZE,
        base: baseOf(baseFormats[0]),
      });
      await backend.delete(uuid);
      await backend.delete(uuid);
      await backend.delete(newUuid());
      assert.equal(await backend.exists(uuid), false);
    });

    check('export-qcow2', 'exportTo qcow2 gives a standalone image qemu-img reads', async () => {
      const uuid = newUuid();
      await backend.create({
        instanceUuid: uuid,
        imageId: 'x',
        sizeBytes: FLAVOR_SIZE,
        base: baseOf(baseFormats[baseFormats.length - 1]),
      });
      const out = join(dir, `${uuid}.export.qcow2`);
      await backend.exportTo(uuid, out, 'qcow2');
      const info = await qemuImgInfo(out, 'qcow2', { limits: false });
      assert.equal(info.format, 'qcow2');
      assert.equal(info['virtual-size'], FLAVOR_SIZE);
      assert.equal(info['backing-filename'], undefined, 'the export must be flattened');
      const r = await run(['qemu-img', 'compare', '-q', '-f', 'raw', '-F', 'qcow2', bases.raw!.path, out]);
      assert.equal(r.code, 0, 'exported content differs from the base');
      await rm(out);
    });

    check('failure', 'a failed create (the base cannot be had) leaves nothing', async () => {
      const uuid = newUuid();
      await assert.rejects(
        backend.create({
          instanceUuid: uuid,
          imageId: 'x',
          sizeBytes: FLAVOR_SIZE,
          base: () => Promise.reject(new Error('image store down')),
        }),
        /image store down/,
      );
      assert.equal(await backend.exists(uuid), false);
      assert.ok(!(await backend.list()).includes(uuid));
      await assert.rejects(backend.exportTo(uuid, join(dir, 'none.raw'), 'raw'));
    });

    check('twice', 'a second create of the same instance is refused and keeps the first disk', async () => {
      const uuid = newUuid();
      await backend.create({
        instanceUuid: uuid,
        imageId: 'x',
        sizeBytes: FLAVOR_SIZE,
        base: baseOf(baseFormats[0]),
      });
      await assert.rejects(
        backend.create({
          instanceUuid: uuid,
          imageId: 'x',
          sizeBytes: FLAVOR_SIZE,
          base: baseOf(baseFormats[0]),
        }),
      );
      assert.equal(await backend.exists(uuid), true);
      const exported = await exportRaw(uuid);
      await assertSameContentAsBase(exported, FLAVOR_SIZE);
      await rm(exported);
    });

    check('capacity', 'capacity reports total and free bytes', async () => {
      const c = await backend.capacity();
      assert.ok(c.totalBytes > 0 && c.freeBytes >= 0 && c.freeBytes <= c.totalBytes);
    });
  });
}
