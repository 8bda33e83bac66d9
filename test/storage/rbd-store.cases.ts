// RbdImageStore against the real single-node Ceph (called from ceph.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { RbdImageStore, ImageInUseError } from '../../src/images/rbd/store.js';
import { parseRbdUrl } from '../../src/images/rbd/location.js';
import { CephCli } from '../../src/images/rbd/cli.js';
import { ImageAlreadyStoredError, ImageNotFoundError, ImageRefusedError } from '../../src/images/errors.js';
import { makeFixtures } from '../images/fixtures.js';
import type { CephEnv } from './ceph-env.js';

export function rbdStoreCases(env: () => CephEnv, prefix: string): void {
  const store = (tempDirectory?: string): RbdImageStore =>
    new RbdImageStore({ cephConf: env().conf, user: env().user, pool: 'images', tempDirectory });
  const ids: string[] = [];
  const newId = (): string => {
    const id = `${prefix}-img-${randomBytes(4).toString('hex')}`;
    ids.push(id);
    return id;
  };
  const cleanupImages = async (): Promise<void> => {
    const s = store();
    for (const id of ids) await s.delete(id).catch(() => undefined);
  };

  test('rbd store: put keeps the data as pool/id with a protected snap and an rbd:// location', async (t) => {
    t.after(cleanupImages);
    const s = store();
    const id = newId();
    const data = Buffer.concat([randomBytes(3 * 1024 * 1024 + 512)]);
    const facts = await s.put(id, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), {
      declaredFormat: 'raw',
    });
    assert.equal(facts.size, data.length);
    assert.equal(facts.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(facts.osHashValue, createHash('sha512').update(data).digest('hex'));
    assert.equal(facts.detectedFormat, 'raw');
    assert.deepEqual(parseRbdUrl(facts.location), {
      fsid: env().fsid,
      pool: 'images',
      image: id,
      snapshot: 'snap',
    });
    const cli = new CephCli({ cephConf: env().conf, user: env().user });
    const snaps = await cli.rbdJson<{ name: string; protected: string }[]>(['snap', 'ls', `images/${id}`]);
    assert.deepEqual(
      snaps.map((x) => [x.name, x.protected]),
      [['snap', 'true']],
    );
    assert.equal(await s.exists(id), true);
    assert.equal(s.localPath(), undefined);
    const back = await buffer(await s.get(id));
    assert.ok(back.equals(data), 'get returns the stored bytes');
    await assert.rejects(
      s.put(id, Readable.from([Buffer.alloc(512)]), { declaredFormat: 'raw' }),
      ImageAlreadyStoredError,
    );
  });

  test('rbd store: hostile and mismatched images are refused and leave nothing in RBD or temp', async (t) => {
    const fx = await makeFixtures();
    const tmp = await mkdtemp(join(tmpdir(), `${prefix}-tmp-`));
    t.after(async () => {
      await fx.cleanup();
      await rm(tmp, { recursive: true, force: true });
      await cleanupImages();
    });
    const s = store(tmp);
    const cli = new CephCli({ cephConf: env().conf, user: env().user });
    const cases = fx.hostile.filter((h) =>
      [
        'qcow2 backing file on a host file',
        'qcow2 external data file',
        'vmdk descriptor with a FLAT extent on a host file',
        'qcow2 declared raw',
      ].includes(h.name),
    );
    assert.ok(cases.length >= 3, `hostile fixtures found: ${cases.map((c) => c.name).join(', ')}`);
    for (const h of cases) {
      const id = newId();
      await assert.rejects(
        s.put(id, createReadStream(h.path), {
          declaredFormat: h.declared ?? 'qcow2',
          maxVirtualSize: h.maxVirtualSize,
        }),
        (e: unknown) =>
          (e instanceof ImageRefusedError && e.findings.some((f) => f.code === h.refusedFor)) ||
          e instanceof ImageRefusedError,
        h.name,
      );
      assert.equal(await s.exists(id), false, `${h.name}: no image kept`);
    }
    const left = (await cli.rbdJson<string[]>(['ls', 'images'])).filter((n) => n.startsWith(prefix));
    assert.deepEqual(left, [], 'no temporary RBD image left');
    assert.deepEqual(await readdir(tmp), [], 'no temporary copy left');
  });

  test('rbd store: an interrupted upload leaves nothing', async (t) => {
    t.after(cleanupImages);
    const s = store();
    const id = newId();
    const broken = new Readable({
      read() {
        this.push(randomBytes(1024 * 1024));
        setImmediate(() => this.destroy(new Error('client went away')));
      },
    });
    await assert.rejects(s.put(id, broken, { declaredFormat: 'raw' }), /interrupted|client went away/);
    const cli = new CephCli({ cephConf: env().conf, user: env().user });
    const left = (await cli.rbdJson<string[]>(['ls', 'images'])).filter((n) => n.startsWith(id));
    assert.deepEqual(left, []);
  });

  test('rbd store: delete refuses while clones exist, then removes everything; missing is fine', async (t) => {
    t.after(cleanupImages);
    const s = store();
    const id = newId();
    const tmp = await mkdtemp(join(tmpdir(), `${prefix}-`));
    t.after(() => rm(tmp, { recursive: true, force: true }));
    await writeFile(join(tmp, 'a.raw'), randomBytes(1024 * 1024));
    await s.put(id, createReadStream(join(tmp, 'a.raw')), { declaredFormat: 'raw' });
    const cli = new CephCli({ cephConf: env().conf, user: env().user });
    const child = `vms/${id}-child`;
    await cli.rbd(['clone', `images/${id}@snap`, child]);
    try {
      await assert.rejects(s.delete(id), ImageInUseError);
      assert.equal(await s.exists(id), true);
    } finally {
      await cli.rbd(['rm', '--no-progress', child]);
    }
    await s.delete(id);
    assert.equal(await s.exists(id), false);
    await s.delete(id); // nothing to remove: still succeeds
    await assert.rejects(s.get(id), ImageNotFoundError);
  });
}
