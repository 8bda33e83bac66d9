// Blank bases for the flavor's ephemeral and swap disks, cached beside the image bases as Nova
// names them (`_base/ephemeral_<GiB>_<fs>`, `_base/swap_<MiB>`): a sparse raw file formatted
// once with mkfs / mkswap, so each instance's disk is then an overlay (qcow2) or a copy of it
// and making one costs the same whatever its size.
import { rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from '../util/run.js';
import type { CachedBase } from './backends/backend.js';
import { ImageError } from './errors.js';

export type BlankKind = 'ephemeral' | 'swap';

/** Filesystems an ephemeral disk may be formatted with, and the command that does it. */
const MKFS: Record<string, (label: string, path: string) => string[]> = {
  ext4: (l, p) => ['mkfs.ext4', '-F', '-q', '-L', l, p],
  ext3: (l, p) => ['mkfs.ext3', '-F', '-q', '-L', l, p],
  ext2: (l, p) => ['mkfs.ext2', '-F', '-q', '-L', l, p],
  xfs: (l, p) => ['mkfs.xfs', '-f', '-q', '-L', l, p],
  vfat: (l, p) => ['mkfs.vfat', '-n', l.toUpperCase().slice(0, 11), p],
};
export const EPHEMERAL_FORMATS = Object.keys(MKFS);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function blankBaseName(kind: BlankKind, sizeBytes: number, fs: string): string {
  return kind === 'swap'
    ? `swap_${Math.ceil(sizeBytes / MiB)}`
    : `ephemeral_${Math.ceil(sizeBytes / GiB)}_${fs}`;
}

async function present(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The cached blank base (made when missing). `lock` serialises makers of one name within and
 * across processes (the image cache's locks); the file appears only complete (rename).
 */
export async function ensureBlankBase(
  baseDir: string,
  lock: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
  kind: BlankKind,
  sizeBytes: number,
  fs = 'ext4',
): Promise<CachedBase> {
  const mkfs = MKFS[fs];
  if (kind === 'ephemeral' && !mkfs) {
    throw new ImageError(
      'storage-misconfigured',
      `cannot format an ephemeral disk as ${fs}: Kestrel formats ${EPHEMERAL_FORMATS.join(', ')}. Fix: set [DEFAULT] default_ephemeral_format to one of them`,
    );
  }
  const name = blankBaseName(kind, sizeBytes, fs);
  const path = join(baseDir, name);
  const base: CachedBase = { imageId: name, path, format: 'raw', virtualSize: sizeBytes };
  const reuse = async (): Promise<boolean> => {
    if (!(await present(path))) return false;
    const now = new Date();
    await utimes(path, now, now); // the cache manager ages bases by mtime
    return true;
  };
  // A base is renamed into place only when complete, so finding it needs no lock.
  if (await reuse()) return base;
  return lock(name, async () => {
    if (await reuse()) return base; // made meanwhile by another boot or process
    const part = `${path}.part`;
    try {
      await writeFile(part, '');
      await truncate(part, sizeBytes); // sparse: only what mkfs writes takes space
      const argv = kind === 'swap' ? ['mkswap', '-L', 'swap0', part] : mkfs(`ephemeral0`, part);
      await runChecked(argv, { timeoutMs: 10 * 60_000 }).catch((e: unknown) => {
        throw new ImageError(
          'storage-unavailable',
          `formatting the ${kind} base ${name} with ${argv[0]} failed: ${e instanceof Error ? e.message : String(e)}. ` +
            `Fix: install the tool (${argv[0].startsWith('mkfs.ext') ? 'e2fsprogs' : argv[0] === 'mkfs.xfs' ? 'xfsprogs' : argv[0] === 'mkfs.vfat' ? 'dosfstools' : 'util-linux'})`,
        );
      });
      await rename(part, path);
    } catch (e) {
      await rm(part, { force: true });
      throw e;
    }
    return base;
  });
}
