// `npm run bench -- images`: qcow2 overlay creation (TypeScript writer vs qemu-img create) on a
// 10 MiB and a 10 GiB sparse base; a flat copy of a 1 GiB filled image against
// `cp --sparse=always` in the same run; the flavor's ephemeral disk (a qcow2 overlay on the
// cached, formatted blank base) at 1 GiB and 100 GiB, first and cached; inspector throughput.
// Cleans up what it makes.
import { execFileSync } from 'node:child_process';
import { randomFillSync, randomUUID } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlatBackend, Qcow2Backend } from '../src/images/backends/index.js';
import type { CachedBase, DiskBackend } from '../src/images/backends/backend.js';
import { inspectBuffer, inspectImage } from '../src/images/inspect/index.js';
import { BackendDisks } from '../src/compute/disks.js';
import { ImageCache } from '../src/images/cache.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d;

const dir = await mkdtemp(join(tmpdir(), 'kt-images-bench-'));
try {
  // ---- overlays ----
  const sparseBase = async (name: string, size: number): Promise<CachedBase> => {
    const path = join(dir, name);
    await writeFile(path, '');
    await truncate(path, size);
    return { imageId: name, path, format: 'raw', virtualSize: size };
  };
  const base10m = await sparseBase('base-10m.raw', 10 * MiB);
  const base10g = await sparseBase('base-10g.raw', 10 * GiB);
  const instances = join(dir, 'instances');

  // The two bases alternate, so both see the same background noise (the machine is shared).
  async function overlayMs(backend: DiskBackend, n: number): Promise<[number, number]> {
    const times: [number[], number[]] = [[], []];
    for (let i = 0; i < 2 * n; i++) {
      const base = i % 2 === 0 ? base10m : base10g;
      const uuid = randomUUID();
      const t0 = performance.now();
      await backend.create({
        instanceUuid: uuid,
        imageId: base.imageId,
        sizeBytes: base.virtualSize,
        base: () => Promise.resolve(base),
      });
      times[i % 2].push(performance.now() - t0);
      await backend.delete(uuid);
    }
    return [median(times[0]), median(times[1])];
  }
  const ts = new Qcow2Backend({ instancesPath: instances });
  const qi = new Qcow2Backend({ instancesPath: instances, overlayWriter: 'qemu-img' });
  await overlayMs(ts, 20); // warm-up
  const [overlay10m, overlay10g] = await overlayMs(ts, 200);
  const [qemu10m, qemu10g] = await overlayMs(qi, 30);
  console.log(
    `qcow2 overlay (TypeScript): 10 MiB base ${overlay10m.toFixed(3)} ms, 10 GiB base ${overlay10g.toFixed(3)} ms (median of 200)`,
  );
  console.log(
    `qcow2 overlay (qemu-img create): 10 MiB base ${qemu10m.toFixed(2)} ms, 10 GiB base ${qemu10g.toFixed(2)} ms (median of 30)`,
  );
  console.log(
    `  10 GiB vs 10 MiB: ${((overlay10g / overlay10m - 1) * 100).toFixed(1)} %; TypeScript is ${(qemu10m / overlay10m).toFixed(0)}x faster than qemu-img`,
  );

  // ---- ephemeral disks: the first makes the formatted blank base, the rest overlay it ----
  const ephemeralCache = new ImageCache({
    instancesPath: instances,
    source: { open: () => Promise.reject(new Error('no image is fetched here')) } as never,
  });
  const ephemeralDisks = new BackendDisks(ts, ephemeralCache);
  async function ephemeralMs(gib: number, n: number): Promise<{ first: number; cached: number }> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const uuid = randomUUID();
      const t0 = performance.now();
      await ephemeralDisks.createLocal(uuid, { ephemeralGb: gib, swapMb: 0 });
      times.push(performance.now() - t0);
      await ephemeralDisks.delete(uuid);
    }
    return { first: times[0], cached: median(times.slice(1)) };
  }
  const eph1 = await ephemeralMs(1, 51);
  const eph100 = await ephemeralMs(100, 51);
  console.log(
    `ephemeral disk (ext4 blank base + qcow2 overlay): 1 GiB first ${eph1.first.toFixed(1)} ms, then ${eph1.cached.toFixed(3)} ms; ` +
      `100 GiB first ${eph100.first.toFixed(1)} ms, then ${eph100.cached.toFixed(3)} ms (medians of 50); ` +
      `100 GiB vs 1 GiB cached: ${((eph100.cached / eph1.cached - 1) * 100).toFixed(1)} %`,
  );

  // ---- flat copy of a 1 GiB filled image vs cp --sparse=always ----
  const filled = join(dir, 'filled.raw');
  const fd = openSync(filled, 'w');
  const chunk = randomFillSync(Buffer.alloc(16 * MiB));
  for (let i = 0; i < GiB / chunk.length; i++) {
    chunk.writeUInt32LE(i, 0); // every chunk differs
    writeSync(fd, chunk);
  }
  closeSync(fd);
  execFileSync('sync');
  const flat = new FlatBackend({ instancesPath: instances });
  const filledBase: CachedBase = { imageId: 'filled', path: filled, format: 'raw', virtualSize: GiB };
  const cpTimes: number[] = [];
  const flatTimes: number[] = [];
  for (let r = 0; r < 3; r++) {
    const target = join(dir, 'cp-copy.raw');
    let t0 = performance.now();
    execFileSync('cp', ['--sparse=always', filled, target]);
    cpTimes.push(performance.now() - t0);
    await rm(target);
    execFileSync('sync');
    const uuid = randomUUID();
    t0 = performance.now();
    await flat.create({
      instanceUuid: uuid,
      imageId: 'filled',
      sizeBytes: GiB,
      base: () => Promise.resolve(filledBase),
    });
    flatTimes.push(performance.now() - t0);
    await flat.delete(uuid);
    execFileSync('sync');
  }
  const cpMs = Math.min(...cpTimes);
  const flatMs = Math.min(...flatTimes);
  const ratio = cpMs / flatMs; // throughput ratio: ours / cp
  console.log(
    `flat copy of 1 GiB filled: ${flatTimes.map((t) => t.toFixed(0)).join(', ')} ms; cp --sparse=always: ${cpTimes.map((t) => t.toFixed(0)).join(', ')} ms`,
  );
  console.log(
    `  best of 3: flat ${(GiB / MiB / (flatMs / 1000)).toFixed(0)} MiB/s, cp ${(GiB / MiB / (cpMs / 1000)).toFixed(0)} MiB/s, ratio ${ratio.toFixed(2)}`,
  );
  await rm(filled);

  // ---- inspector ----
  const samples: string[] = [];
  for (const [fmt, name, extra] of [
    ['qcow2', 'i.qcow2', []],
    ['vmdk', 'i.vmdk', ['-o', 'subformat=streamOptimized']],
    ['vpc', 'i.vhd', []],
    ['vhdx', 'i.vhdx', []],
    ['qed', 'i.qed', []],
    ['raw', 'i.raw', []],
  ] as const) {
    execFileSync('qemu-img', ['create', '-q', '-f', fmt, ...extra, join(dir, name), '64M']);
    samples.push(join(dir, name));
  }
  let n = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    await inspectImage(samples[n % samples.length]);
    n++;
  }
  const perS = n / ((performance.now() - t0) / 1000);
  const qcowHeader = (await readFile(samples[0])).subarray(0, 256 * 1024);
  let m = 0;
  t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    await inspectBuffer(qcowHeader);
    m++;
  }
  const bufPerS = m / ((performance.now() - t0) / 1000);
  console.log(
    `inspector: ${perS.toFixed(0)} files/s (open, read headers, close; 6 formats), ${bufPerS.toFixed(0)} in-memory qcow2 headers/s`,
  );

  console.log(
    `BENCH ${JSON.stringify({
      bench: 'images',
      overlay_ms_10mib: round(overlay10m),
      overlay_ms_10gib: round(overlay10g),
      qemu_img_create_ms_10mib: round(qemu10m, 2),
      qemu_img_create_ms_10gib: round(qemu10g, 2),
      ephemeral_first_ms_1gib: round(eph1.first, 1),
      ephemeral_ms_1gib: round(eph1.cached),
      ephemeral_first_ms_100gib: round(eph100.first, 1),
      ephemeral_ms_100gib: round(eph100.cached),
      flat_copy_vs_cp: round(ratio, 2),
      flat_copy_mib_s: Math.round(GiB / MiB / (flatMs / 1000)),
      cp_mib_s: Math.round(GiB / MiB / (cpMs / 1000)),
      inspect_per_s: Math.round(perS),
      inspect_buffer_per_s: Math.round(bufPerS),
    })}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
