// The image cache manager (Nova's imagecache.py): every manager_interval it
// touches the bases of images in use and removes originals nobody has used for
// remove_unused_original_minimum_age_seconds (when remove_unused_base_images is set).
// Removal takes the same locks as a fetch and re-checks the age inside them.
import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../util/log.js';
import { cacheFileName, type ImageCache } from './cache.js';
import { LockBusyError } from './file-lock.js';

export interface ImageCacheManagerOptions {
  cache: ImageCache;
  /** The image ids instances on this host use (image_ref, kernel_id, ramdisk_id). */
  inUseImageIds: () => Iterable<string> | Promise<Iterable<string>>;
  /** `[image_cache] manager_interval` seconds: 0 means 60, -1 disables (default 2400). */
  managerInterval?: number;
  /** `[image_cache] remove_unused_base_images` (default true). */
  removeUnusedBaseImages?: boolean;
  /** `[image_cache] remove_unused_original_minimum_age_seconds` (default 86400). */
  removeUnusedOriginalMinimumAgeSeconds?: number;
  /** Part files older than this are leftovers of a crashed fetch (default 3600 s). */
  stalePartSeconds?: number;
  logger?: Logger;
  now?: () => number;
}

export interface CacheSweep {
  inUse: string[];
  removed: string[];
  /** Unused originals still younger than the minimum age (or locked by a fetch). */
  kept: string[];
  staleParts: string[];
}

const ORIGINAL = /^[0-9a-f]{40}$/;
const PART = /^([0-9a-f]{40})\.(part|converted)$/;

export class ImageCacheManager {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CacheSweep> | undefined;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: ImageCacheManagerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  /** The interval in milliseconds, or undefined when the manager is disabled. */
  get intervalMs(): number | undefined {
    const s = this.opts.managerInterval ?? 2400;
    if (s < 0) return undefined;
    return (s === 0 ? 60 : s) * 1000;
  }

  start(): void {
    const ms = this.intervalMs;
    if (ms === undefined || this.timer) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((e: unknown) => this.log.warn({ err: e }, 'image cache sweep failed'));
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep; concurrent calls share the sweep in progress. */
  runOnce(): Promise<CacheSweep> {
    this.running ??= this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweep(): Promise<CacheSweep> {
    const { cache } = this.opts;
    const result: CacheSweep = { inUse: [], removed: [], kept: [], staleParts: [] };
    const used = new Set<string>();
    for (const id of await this.opts.inUseImageIds()) used.add(cacheFileName(id));
    let names: string[];
    try {
      names = await readdir(cache.baseDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return result;
      throw e;
    }
    const minAgeMs = (this.opts.removeUnusedOriginalMinimumAgeSeconds ?? 86400) * 1000;
    const remove = this.opts.removeUnusedBaseImages ?? true;
    for (const name of names) {
      const path = join(cache.baseDir, name);
      const part = PART.exec(name);
      if (part) {
        if (await this.removeIfOld(part[1], path, (this.opts.stalePartSeconds ?? 3600) * 1000))
          result.staleParts.push(name);
        continue;
      }
      if (!ORIGINAL.test(name)) continue; // not ours (resized or ephemeral bases are not made here)
      if (used.has(name)) {
        const t = new Date(this.now());
        await utimes(path, t, t).catch(() => undefined);
        result.inUse.push(name);
        continue;
      }
      if (remove && (await this.removeIfOld(name, path, minAgeMs))) {
        result.removed.push(name);
        this.log.info({ base: name }, 'removed unused cached image');
      } else result.kept.push(name);
    }
    return result;
  }

  /** Removes path when older than minAgeMs, checked again under the cache's locks. */
  private async removeIfOld(lockName: string, path: string, minAgeMs: number): Promise<boolean> {
    const old = async (): Promise<boolean> => {
      const st = await stat(path).catch(() => undefined);
      return st !== undefined && this.now() - st.mtimeMs >= minAgeMs;
    };
    if (!(await old())) return false;
    try {
      // Non-blocking: a base being fetched right now is not unused.
      return await this.opts.cache.withImageLock(
        lockName,
        async () => {
          if (!(await old())) return false;
          await rm(path, { force: true });
          return true;
        },
        0,
      );
    } catch (e) {
      if (e instanceof LockBusyError) return false;
      throw e;
    }
  }
}
