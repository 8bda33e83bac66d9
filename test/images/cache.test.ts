// The compute image cache: one fetch per image under concurrency, conversion to raw,
// refusals and interruptions leave nothing, mtime touched on use, and the cache manager.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImageCache, cacheFileName, type ImageSource } from '../../src/images/cache.js';
import { ImageCacheManager } from '../../src/images/cache-manager.js';
import { ImageRefusedError } from '../../src/images/errors.js';
import { LockBusyError, withFileLock } from '../../src/images/file-lock.js';
import { inspectImage } from '../../src/images/inspect/index.js';
import { makeFixtures, type FixtureSet } from './fixtures.js';

let fx: FixtureSet;
let root: string;
before(async () => {
  fx = await makeFixtures();
  root = await mkdtemp(join(tmpdir(), 'kt-images-cache-'));
});
after(async () => {
  await fx.cleanup();
  await rm(root, { recursive: true, force: true });
});

const fixture = (name: string): string => [...fx.benign, ...fx.hostile].find((x) => x.name === name)!.path;

/** A source serving fixture files by image id, counting opens. */
function sourceOf(files: Record<string, string>): ImageSource & { opens: Record<string, number> } {
  const opens: Record<string, number> = {};
  return {
    opens,
    async open(id: string) {
      opens[id] = (opens[id] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 20)); // let concurrent callers pile up
      return createReadStream(files[id]);
    },
  };
}

async function newInstancesPath(): Promise<string> {
  return mkdtemp(join(root, 'instances-'));
}

describe('ImageCache', () => {
  test('many concurrent boots fetch an image once; the base is raw under _base/<sha1>', async () => {
    const instances = await newInstancesPath();
    const source = sourceOf({ 'img-q': fixture('qcow2 v3 with data') });
    const cache = new ImageCache({ instancesPath: instances, source });
    const bases = await Promise.all(
      Array.from({ length: 8 }, () => cache.ensure('img-q', { declaredFormat: 'qcow2' })),
    );
    assert.equal(source.opens['img-q'], 1);
    const expected = join(instances, '_base', createHash('sha1').update('img-q').digest('hex'));
    for (const b of bases)
      assert.deepEqual(b, { imageId: 'img-q', path: expected, format: 'raw', virtualSize: 8 * 1024 * 1024 });
    assert.equal((await inspectImage(expected)).format, 'raw');
    assert.deepEqual((await readdir(join(instances, '_base'))).sort(), [cacheFileName('img-q')]);
  });

  test('force_raw_images=false keeps qcow2, still converts other formats; the mtime is touched on use', async () => {
    const instances = await newInstancesPath();
    const source = sourceOf({ q: fixture('qcow2 v3 with data'), v: fixture('vmdk streamOptimized') });
    const cache = new ImageCache({ instancesPath: instances, source, forceRawImages: false });
    const q = await cache.ensure('q');
    assert.equal(q.format, 'qcow2');
    const v = await cache.ensure('v', { declaredFormat: 'vmdk' });
    assert.equal(v.format, 'raw');
    assert.equal(v.virtualSize, 8 * 1024 * 1024);
    const old = new Date(Date.now() - 3600_000);
    await utimes(q.path, old, old);
    await cache.ensure('q');
    assert.ok((await stat(q.path)).mtimeMs > Date.now() - 60_000, 'mtime touched');
    assert.equal(source.opens.q, 1);
  });

  test('a hostile or mislabelled image is refused and leaves no file', async () => {
    const instances = await newInstancesPath();
    const source = sourceOf({ bad: fixture('qcow2 backing file on a host file'), lie: fixture('qcow2 v3') });
    const cache = new ImageCache({ instancesPath: instances, source });
    await assert.rejects(cache.ensure('bad'), ImageRefusedError);
    await assert.rejects(cache.ensure('lie', { declaredFormat: 'raw' }), /format-mismatch/);
    assert.deepEqual(await readdir(join(instances, '_base')), []);
  });

  test('an interrupted download leaves no partial file, and a later ensure fetches again', async () => {
    const instances = await newInstancesPath();
    let fail = true;
    const source: ImageSource = {
      open() {
        if (!fail) return Readable.from([Buffer.alloc(1024 * 1024, 7)]);
        return Readable.from(
          (async function* () {
            yield Buffer.alloc(65536, 1);
            throw new Error('store connection lost');
          })(),
        );
      },
    };
    const cache = new ImageCache({ instancesPath: instances, source });
    await assert.rejects(cache.ensure('cut'), /store connection lost/);
    assert.deepEqual(await readdir(join(instances, '_base')), []);
    fail = false;
    const b = await cache.ensure('cut');
    assert.equal(b.virtualSize, 1024 * 1024);
  });
});

describe('ImageCache across processes', () => {
  test('three processes booting the same image fetch it once', async () => {
    const instances = await newInstancesPath();
    const counter = join(instances, 'fetches.log');
    await writeFile(counter, '');
    const child = join(import.meta.dirname, 'helpers', 'cache-child.ts');
    const runChild = (): Promise<string> =>
      new Promise((resolvePromise, reject) => {
        const p = spawn(
          process.execPath,
          ['--import', 'tsx', child, instances, fixture('qcow2 v3 with data'), counter, 'shared-img'],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.on('close', (code) =>
          code === 0 ? resolvePromise(out) : reject(new Error(`child exit ${code}: ${err}`)),
        );
      });
    const outs = await Promise.all([runChild(), runChild(), runChild()]);
    const fetches = (await readFile(counter, 'utf8')).trim().split('\n');
    assert.equal(fetches.length, 1, `fetched ${fetches.length} times`);
    const paths = new Set(outs.map((o) => (JSON.parse(o) as { path: string }).path));
    assert.deepEqual([...paths], [join(instances, '_base', cacheFileName('shared-img'))]);
  });
});

describe('file lock', () => {
  test('excludes other holders, in and across processes, and frees on release', async () => {
    const lock = join(root, 'locks', 'kestrel-test');
    await withFileLock(lock, async () => {
      await assert.rejects(
        withFileLock(lock, () => Promise.resolve(1), { timeoutMs: 0 }),
        LockBusyError,
      );
      const other = spawnSync('flock', ['--nonblock', lock, 'true']);
      assert.equal(other.status, 1, 'another process could take the lock');
    });
    assert.equal(spawnSync('flock', ['--nonblock', lock, 'true']).status, 0);
    assert.equal(await withFileLock(lock, () => Promise.resolve(42), { timeoutMs: 0 }), 42);
  });
});

describe('ImageCacheManager', () => {
  test('touches bases in use, removes old unused ones, keeps young ones and removes stale parts', async () => {
    const instances = await newInstancesPath();
    const cache = new ImageCache({ instancesPath: instances, source: sourceOf({}) });
    const base = join(instances, '_base');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(base, { recursive: true });
    const day = 86400_000;
    const files: Record<string, number> = {
      [cacheFileName('used')]: 3 * day,
      [cacheFileName('old')]: 2 * day,
      [cacheFileName('young')]: 3600_000,
      [`${cacheFileName('crashed')}.part`]: 2 * 3600_000,
      'not-a-cache-file': 10 * day,
    };
    for (const [name, age] of Object.entries(files)) {
      await writeFile(join(base, name), 'x');
      const t = new Date(Date.now() - age);
      await utimes(join(base, name), t, t);
    }
    const manager = new ImageCacheManager({ cache, inUseImageIds: () => ['used'] });
    const sweep = await manager.runOnce();
    assert.deepEqual(sweep.inUse, [cacheFileName('used')]);
    assert.deepEqual(sweep.removed, [cacheFileName('old')]);
    assert.deepEqual(sweep.kept, [cacheFileName('young')]);
    assert.deepEqual(sweep.staleParts, [`${cacheFileName('crashed')}.part`]);
    assert.deepEqual(
      (await readdir(base)).sort(),
      [cacheFileName('used'), cacheFileName('young'), 'not-a-cache-file'].sort(),
    );
    assert.ok((await stat(join(base, cacheFileName('used')))).mtimeMs > Date.now() - 60_000);

    const keepAll = new ImageCacheManager({ cache, inUseImageIds: () => [], removeUnusedBaseImages: false });
    assert.deepEqual((await keepAll.runOnce()).removed, []);
    const short = new ImageCacheManager({
      cache,
      inUseImageIds: () => [],
      removeUnusedOriginalMinimumAgeSeconds: 60,
    });
    // 'used' was touched by the first sweep, so only 'young' (an hour old) passes a 60 s minimum.
    assert.deepEqual((await short.runOnce()).removed, [cacheFileName('young')]);
  });

  test('manager_interval: 0 means 60 s, -1 disables', () => {
    const cache = new ImageCache({ instancesPath: root, source: sourceOf({}) });
    assert.equal(
      new ImageCacheManager({ cache, inUseImageIds: () => [], managerInterval: 0 }).intervalMs,
      60_000,
    );
    assert.equal(
      new ImageCacheManager({ cache, inUseImageIds: () => [], managerInterval: -1 }).intervalMs,
      undefined,
    );
    assert.equal(new ImageCacheManager({ cache, inUseImageIds: () => [] }).intervalMs, 2400_000);
  });
});
