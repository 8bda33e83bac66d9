// `npm run bench -- rbd`: a 512 MiB raw image into the compute image cache by `rbd export`
// (direct download, enable_rbd_download) against an HTTP download of the same file from a local
// node http server on 127.0.0.1, and an instance disk by RBD clone (images_type=rbd, image in the
// same cluster) against download + `rbd import`. Both go through the real cache (inspection,
// fsync, rename). The page cache is dropped before each timed step; each pair alternates, and
// the best of the runs counts. Brings Ceph up with scripts/ceph-up (and down again if it started it).
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { ensureCeph } from '../test/storage/ceph-env.js';
import { RbdImageStore } from '../src/images/rbd/store.js';
import { RbdDirectDownload, RbdFirstImageSource } from '../src/images/rbd/download.js';
import { RbdDiskBackend } from '../src/images/backends/rbd.js';
import { ImageCache, type ImageSource } from '../src/images/cache.js';

const MiB = 1024 * 1024;
const SIZE = 512 * MiB;
const RUNS = 2;

async function dropCaches(): Promise<void> {
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  await dropCaches();
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function main(): Promise<void> {
  const up = await ensureCeph();
  if ('skip' in up) {
    console.log(`rbd bench: Ceph unavailable: ${up.skip}`);
    console.log(`BENCH ${JSON.stringify({ bench: 'rbd', skipped: up.skip })}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'kt-storage-bench-'));
  const imageId = `kt-storage-bench-${randomBytes(3).toString('hex')}`;
  const file = join(dir, 'image.raw');
  const store = new RbdImageStore({ cephConf: up.conf, user: up.user, pool: 'images' });
  const backend = new RbdDiskBackend({ cephConf: up.conf, user: up.user, pool: 'vms' });
  const instances: string[] = [];
  let server: Server | undefined;
  try {
    // Random data: RBD skips zero blocks on import, which would flatter it.
    const fh = await open(file, 'w');
    for (let off = 0; off < SIZE; off += 16 * MiB) await fh.write(randomBytes(16 * MiB));
    await fh.close();
    const [putMs, facts] = await timed(() =>
      store.put(imageId, createReadStream(file), { declaredFormat: 'raw' }),
    );
    console.log(`stored ${SIZE / MiB} MiB in RBD (streamed import + inspection): ${putMs.toFixed(0)} ms`);

    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
      createReadStream(file, { highWaterMark: MiB }).pipe(res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const http: ImageSource = {
      open: () =>
        new Promise<Readable>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: `/v2/images/${imageId}/file` }, resolve).on('error', reject);
        }),
    };
    const rbd = new RbdFirstImageSource(
      new RbdDirectDownload({ enabled: true, cephConf: up.conf, user: up.user }),
      () => Promise.resolve([facts.location]),
      { open: () => Promise.reject(new Error('the bench expects the RBD export to work')) },
    );
    const intoCache = async (source: ImageSource): Promise<number> => {
      const cache = new ImageCache({ instancesPath: await mkdtemp(join(dir, 'inst-')), source });
      const [ms] = await timed(() => cache.ensure(imageId, { declaredFormat: 'raw' }));
      await rm(cache.instancesPath, { recursive: true, force: true });
      return ms;
    };

    const exportRuns: number[] = [];
    const httpRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      exportRuns.push(await intoCache(rbd));
      httpRuns.push(await intoCache(http));
      console.log(
        `into the cache, run ${i + 1}: rbd export ${exportRuns[i].toFixed(0)} ms, HTTP ${httpRuns[i].toFixed(0)} ms`,
      );
    }

    const cloneRuns: number[] = [];
    const importRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = randomUUID();
      instances.push(a);
      const [cms] = await timed(() =>
        backend.create({
          instanceUuid: a,
          imageId,
          sizeBytes: SIZE,
          imageLocations: [facts.location],
          base: () => Promise.reject(new Error('a clone must not download')),
        }),
      );
      cloneRuns.push(cms);
      // Download + import: the HTTP download into a fresh cache, then rbd import of the base.
      const b = randomUUID();
      instances.push(b);
      const cache = new ImageCache({ instancesPath: await mkdtemp(join(dir, 'inst-')), source: http });
      const [ims] = await timed(() =>
        backend.create({
          instanceUuid: b,
          imageId,
          sizeBytes: SIZE,
          base: () => cache.ensure(imageId, { declaredFormat: 'raw' }),
        }),
      );
      importRuns.push(ims);
      await rm(cache.instancesPath, { recursive: true, force: true });
      console.log(
        `instance disk, run ${i + 1}: RBD clone ${cms.toFixed(0)} ms, download + rbd import ${ims.toFixed(0)} ms`,
      );
    }
    const best = (xs: number[]): number => Math.round(Math.min(...xs));
    const result = {
      bench: 'rbd',
      image_mib: SIZE / MiB,
      export_ms: best(exportRuns),
      http_ms: best(httpRuns),
      download_speedup: Number((best(httpRuns) / best(exportRuns)).toFixed(2)),
      clone_ms: best(cloneRuns),
      import_ms: best(importRuns),
      clone_speedup: Number((best(importRuns) / best(cloneRuns)).toFixed(1)),
    };
    console.log(
      `best of ${RUNS}: cache fill by rbd export ${result.export_ms} ms vs HTTP ${result.http_ms} ms (x${result.download_speedup}); ` +
        `instance disk by clone ${result.clone_ms} ms vs download + import ${result.import_ms} ms (x${result.clone_speedup})`,
    );
    console.log(`BENCH ${JSON.stringify(result)}`);
  } finally {
    server?.close();
    for (const u of instances) await backend.delete(u).catch(() => undefined);
    await store.delete(imageId).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await up.release();
  }
}

await main();
