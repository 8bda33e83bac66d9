// Direct download from RBD (enable_rbd_download) against the real Ceph (called from ceph.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import { RbdImageStore } from '../../src/images/rbd/store.js';
import { RbdDirectDownload, RbdFirstImageSource } from '../../src/images/rbd/download.js';
import { ImageCache } from '../../src/images/cache.js';
import type { CephEnv } from './ceph-env.js';

/** A pino logger that records the level of each line. */
function recordingLogger(): { logger: pino.Logger; warnings: () => string[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return {
    logger: pino({ level: 'info' }, sink),
    warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg),
  };
}

export function rbdDownloadCases(env: () => CephEnv, prefix: string): void {
  let dir = '';
  let location = '';
  let data = Buffer.alloc(0);
  const imageId = `${prefix}-dl-${randomBytes(3).toString('hex')}`;
  const store = (): RbdImageStore =>
    new RbdImageStore({ cephConf: env().conf, user: env().user, pool: 'images' });
  const downloader = (
    extra: Partial<ConstructorParameters<typeof RbdDirectDownload>[0]> = {},
  ): RbdDirectDownload =>
    new RbdDirectDownload({
      enabled: true,
      cephConf: env().conf,
      user: env().user,
      connectTimeoutSec: 2,
      ...extra,
    });

  test('rbd download: setup an image in the images pool', async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-dl-`));
    data = randomBytes(2 * 1024 * 1024);
    location = (await store().put(imageId, Readable.from([data]), { declaredFormat: 'raw' })).location;
  });

  test('rbd download: bad locations are skipped, the good one is exported, nothing partial is left', async () => {
    const rec = recordingLogger();
    const d = downloader({ logger: rec.logger });
    const missingSnap = location.replace(/\/snap$/, '/nosuchsnap');
    const dest = join(dir, 'base1');
    const used = await d.downloadToPath(
      imageId,
      ['rbd://only/three/parts', missingSnap, 'file:///etc/passwd', location],
      dest,
    );
    assert.equal(used, location);
    assert.ok((await readFile(dest)).equals(data));
    assert.deepEqual(await readdir(dir), ['base1']);
    assert.deepEqual(rec.warnings(), [], 'a success logs no fallback');
  });

  test('rbd download: every location failing (also an unreachable cluster) falls back once, no file', async () => {
    const unreachableConf = join(dir, 'unreachable.conf');
    await writeFile(
      unreachableConf,
      (await readFile(env().conf, 'utf8')).replace(/^mon host = .*$/m, 'mon host = 127.0.0.1:1'),
    );
    const rec = recordingLogger();
    const far = downloader({ cephConf: unreachableConf, connectTimeoutSec: 1, logger: rec.logger });
    const started = Date.now();
    const dest = join(dir, 'base2');
    assert.equal(await far.downloadToPath(imageId, ['rbd://a/b', location], dest), undefined);
    assert.ok(Date.now() - started < 20_000, 'the connect timeout bounds the attempt');
    assert.equal(rec.warnings().length, 1, 'the fallback is logged once');
    assert.deepEqual((await readdir(dir)).sort(), ['base1', 'unreachable.conf']);
    // Disabled: not even tried.
    const off = downloader({ enabled: false });
    assert.equal(await off.downloadToPath(imageId, [location], dest), undefined);
  });

  test('rbd download: the image cache fetches through RBD first, then through the normal source', async () => {
    const rec = recordingLogger();
    let fallbackOpens = 0;
    const fallback = {
      open: (): Readable => {
        fallbackOpens++;
        return Readable.from([data]);
      },
    };
    const locations = new Map<string, string[]>();
    const source = new RbdFirstImageSource(
      downloader({ logger: rec.logger }),
      async (id) => locations.get(id) ?? [],
      fallback,
    );
    const cache = new ImageCache({ instancesPath: join(dir, 'instances'), source });
    locations.set(imageId, [location.replace(/\/snap$/, '/gone'), location]);
    const base = await cache.ensure(imageId, { declaredFormat: 'raw' });
    assert.ok((await readFile(base.path)).equals(data));
    assert.equal(fallbackOpens, 0, 'fetched from RBD');
    // A second image whose only location is broken: the normal source serves it.
    const other = `${imageId}-b`;
    locations.set(other, [location.replace(/\/snap$/, '/gone')]);
    const base2 = await cache.ensure(other, { declaredFormat: 'raw' });
    assert.ok((await readFile(base2.path)).equals(data));
    assert.equal(fallbackOpens, 1);
    assert.equal(rec.warnings().length, 1);
    const left = (await readdir(join(dir, 'instances', '_base'))).filter((n) => n.includes('.'));
    assert.deepEqual(left, [], 'no part files');
  });

  test('rbd download: cleanup', async () => {
    await store().delete(imageId);
    await rm(dir, { recursive: true, force: true });
  });
}
