// images_type=lvm with real lvm2 commands on a loop-backed VG made for this run. This kernel has
// no device-mapper, so LVs cannot be activated: lvm2 runs in metadata mode and a loop device
// over each LV's extents stands in for /dev/<vg>/<lv> (test/storage/lvm-lab.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LvmDiskBackend, type LvmBackendOptions } from '../../src/images/backends/lvm.js';
import { createDiskBackend, type CachedBase } from '../../src/images/backends/index.js';
import { FlavorDiskSmallerThanImageError } from '../../src/images/errors.js';
import { runChecked } from '../../src/util/run.js';
import { lvmLabUnavailable, makeLvmLab, type LvmLab } from './lvm-lab.js';
import { runBackendConformance, type ConformanceCheck } from '../images/backend-conformance.js';

const MiB = 1024 * 1024;
const prefix = `kt-storage-${randomBytes(3).toString('hex')}`;
const unavailable = await lvmLabUnavailable();
const NOT_EXERCISED =
  'not exercised on this kernel (no device-mapper): LV activation and /dev/<vg>/<lv> nodes, lvcreate zeroing, ' +
  'udev; each LV device is a loop device over its extents instead';

describe(
  'images_type=lvm backend',
  { skip: unavailable ? `LVM lab unavailable: ${unavailable}` : false },
  () => {
    let lab: LvmLab;
    let dir = '';
    let rawPath = '';
    let qcowPath = '';
    let raw = Buffer.alloc(0);
    const backend = (extra: Partial<LvmBackendOptions> = {}): LvmDiskBackend =>
      new LvmDiskBackend({ volumeGroup: lab.vg, lvmConfig: lab.config, devices: lab.devices, ...extra });
    const rawBase = (): Promise<CachedBase> =>
      Promise.resolve({ imageId: 'img-raw', path: rawPath, format: 'raw', virtualSize: raw.length });
    const qcowBase = (): Promise<CachedBase> =>
      Promise.resolve({ imageId: 'img-q', path: qcowPath, format: 'qcow2', virtualSize: 6 * MiB });
    /** Reads bytes of the PV file where an LV's data lives. */
    const readLv = async (path: string, length: number, offset = 0): Promise<Buffer> => {
      const fh = await open(path, 'r');
      try {
        const b = Buffer.alloc(length);
        await fh.read(b, 0, length, offset);
        return b;
      } finally {
        await fh.close();
      }
    };

    before(async () => {
      lab = await makeLvmLab(prefix);
      dir = await mkdtemp(join(tmpdir(), `${prefix}-lvmimg-`));
      raw = randomBytes(3 * MiB);
      rawPath = join(dir, 'base.raw');
      await writeFile(rawPath, raw);
      qcowPath = join(dir, 'base.qcow2');
      await runChecked(['qemu-img', 'create', '-q', '-f', 'qcow2', qcowPath, '6M']);
      await runChecked(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 1M 64k', qcowPath]);
    });
    after(async () => {
      await lab?.teardown();
      await rm(dir, { recursive: true, force: true });
    });

    test('what this machine cannot exercise', (t) => {
      t.diagnostic(NOT_EXERCISED);
      assert.ok(lab.vg.startsWith('kt_storage_'));
    });

    test('an image is written raw into an LV of max(image, flavor), and listed', async () => {
      const b = backend();
      const uuid = randomUUID();
      const src = await b.create({
        instanceUuid: uuid,
        imageId: 'img-raw',
        sizeBytes: 8 * MiB,
        base: rawBase,
      });
      assert.equal(src.kind, 'block');
      const path = (src as { path: string }).path;
      const lv = (await b.lvm.lvs(lab.vg)).find((x) => x.name === `${uuid}_disk`);
      assert.equal(lv?.sizeBytes, 8 * MiB);
      assert.ok((await readLv(path, raw.length)).equals(raw), 'the image bytes are in the LV');
      assert.deepEqual(await b.list(), [uuid]);
      assert.equal(await b.exists(uuid), true);
      const out = join(dir, 'export.qcow2');
      await b.exportTo(uuid, out, 'qcow2');
      const info = JSON.parse((await runChecked(['qemu-img', 'info', '--output', 'json', out])).stdout) as {
        'virtual-size': number;
      };
      assert.equal(info['virtual-size'], 8 * MiB);
      await b.delete(uuid);
    });

    test('a qcow2 base is converted to raw; flavor 0 keeps the image size; too-small flavors are refused', async () => {
      const b = backend({ volumeClear: 'none' });
      const uuid = randomUUID();
      const src = await b.create({ instanceUuid: uuid, imageId: 'img-q', sizeBytes: 0, base: qcowBase });
      const path = (src as { path: string }).path;
      assert.ok((await readLv(path, 64 * 1024, MiB)).equals(Buffer.alloc(64 * 1024, 0x5a)));
      // lvm2 rounds up to whole extents (4 MiB here): the LV is at least the image's size.
      const { extentBytes } = await b.lvm.vg(lab.vg);
      assert.equal(
        (await b.lvm.lvs(lab.vg)).find((x) => x.name === `${uuid}_disk`)?.sizeBytes,
        Math.ceil((6 * MiB) / extentBytes) * extentBytes,
      );
      await b.delete(uuid);
      const other = randomUUID();
      await assert.rejects(
        b.create({ instanceUuid: other, imageId: 'img-raw', sizeBytes: MiB, base: rawBase }),
        FlavorDiskSmallerThanImageError,
      );
      assert.equal(await b.exists(other), false);
    });

    test('volume_clear zero (whole or volume_clear_size MiB) and shred clear the data before lvremove', async () => {
      for (const [clear, sizeMib, expectZeroMiB] of [
        ['zero', 0, 8],
        ['zero', 1, 1],
        ['shred', 1, 0],
      ] as const) {
        const b = backend({ volumeClear: clear, volumeClearSizeMib: sizeMib });
        const uuid = randomUUID();
        const src = await b.create({
          instanceUuid: uuid,
          imageId: 'img-raw',
          sizeBytes: 8 * MiB,
          base: rawBase,
        });
        const path = (src as { path: string }).path;
        // Where the LV lives in the PV file, so it can be read after the loop device is gone.
        const { stdout } = await runChecked(['losetup', '--list', '--json', '-O', 'NAME,OFFSET', path]);
        const offset = Number(
          (JSON.parse(stdout) as { loopdevices: { offset: string | number }[] }).loopdevices[0].offset,
        );
        await b.delete(uuid);
        assert.equal(await b.exists(uuid), false);
        assert.equal(lab.mapped().size, 0, 'the stand-in loop device is released');
        const firstMiB = await readLv(lab.pvFile, MiB, offset);
        assert.ok(
          !firstMiB.subarray(0, 4096).equals(raw.subarray(0, 4096)),
          `${clear}: the image bytes are gone`,
        );
        if (expectZeroMiB > 0) {
          assert.ok(
            (await readLv(lab.pvFile, expectZeroMiB * MiB, offset)).equals(Buffer.alloc(expectZeroMiB * MiB)),
            `${clear}/${sizeMib}: zeroed`,
          );
        }
        if (sizeMib === 1 && clear === 'zero') {
          const second = await readLv(lab.pvFile, 4096, offset + MiB);
          assert.ok(
            second.equals(raw.subarray(MiB, MiB + 4096)),
            'volume_clear_size=1 clears only the first MiB',
          );
        }
      }
    });

    test('capacity comes from vgs; failures leave no LV behind; a missing VG is a clear error', async () => {
      const b = backend();
      const cap = await b.capacity();
      assert.ok(cap.totalBytes > 200 * MiB && cap.freeBytes === cap.totalBytes, JSON.stringify(cap));
      const uuid = randomUUID();
      const brokenBase = (): Promise<CachedBase> =>
        Promise.resolve({ imageId: 'x', path: join(dir, 'missing.raw'), format: 'raw', virtualSize: MiB });
      await assert.rejects(
        b.create({ instanceUuid: uuid, imageId: 'x', sizeBytes: 0, base: brokenBase }),
        /qemu-img/,
      );
      assert.equal(await b.exists(uuid), false, 'the LV was removed on failure');
      assert.equal(lab.mapped().size, 0);
      await assert.rejects(
        b.create({ instanceUuid: randomUUID(), imageId: 'x', sizeBytes: 1024 * MiB, base: rawBase }),
        /free/,
      );
      const missing = new LvmDiskBackend({
        volumeGroup: `${lab.vg}_nope`,
        lvmConfig: lab.config,
        devices: lab.devices,
      });
      await assert.rejects(
        missing.create({ instanceUuid: randomUUID(), imageId: 'x', sizeBytes: 0, base: rawBase }),
        /images_volume_group|not found|not usable/,
      );
    });

    test('images_volume_group is required; the factory builds images_type=lvm', () => {
      assert.throws(() => new LvmDiskBackend({}), /images_volume_group/);
      assert.throws(() => createDiskBackend('lvm', {}), /images_volume_group/);
      assert.throws(
        () => new LvmDiskBackend({ volumeGroup: 'vg', volumeClear: 'wipe' as 'zero' }),
        /volume_clear/,
      );
      const b = createDiskBackend('lvm', {
        volumeGroup: lab.vg,
        lvmConfig: lab.config,
        devices: lab.devices,
      });
      assert.deepEqual(b.capabilities, { usesLocalBase: true, copiesSnapshots: false, ownCapacity: true });
      assert.equal(b.kind, 'lvm');
    });
  },
);

const allChecks: ConformanceCheck[] = [
  'raw-base',
  'qcow2-base',
  'size-zero',
  'too-small',
  'delete',
  'list-exists',
  'export-qcow2',
  'failure',
  'twice',
  'capacity',
];
runBackendConformance(
  'lvm (loop-backed VG, activation off, loop stand-ins for LVs)',
  async () => {
    if (unavailable) return { backend: new LvmDiskBackend({ volumeGroup: 'unused' }) };
    const lab = await makeLvmLab(`${prefix}c`, 512 * MiB);
    return {
      backend: new LvmDiskBackend({ volumeGroup: lab.vg, lvmConfig: lab.config, devices: lab.devices }),
      cleanup: () => lab.teardown(),
    };
  },
  {
    skip: unavailable
      ? Object.fromEntries(allChecks.map((c) => [c, `LVM lab unavailable: ${unavailable}`]))
      : {},
  },
);
