// The compute host's image cache: `<instances_path>/_base/<sha1(image id)>`.
// One fetch per image however many boots ask at once: an in-process KeyedMutex, then an
// inter-process flock on `<instances_path>/locks/kestrel-<sha1>`, and a second look inside the
// lock. A fetch streams into `<base>.part`, is inspected (headers, then qemu-img), converted
// to raw when force_raw_images is set, and renamed into place; a failure leaves no file.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { KeyedMutex } from '../util/lock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { checkImage, inspectImage, type CheckOptions } from './inspect/index.js';
import type { CachedBase } from './backends/backend.js';
import { assertValidImageId, ImageError, ImageRefusedError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { qemuImgConvert } from './qemu-img.js';
import { ensureBlankBase, type BlankKind } from './blank-bases.js';

/** Where the cache gets image bytes: the Image service's store today, an RBD export later. */
export interface ImageSource {
  open(imageId: string): Readable | Promise<Readable>;
}

export interface ImageCacheOptions {
  instancesPath: string;
  source: ImageSource;
  /** `[image_cache] subdirectory_name` (default `_base`). */
  subdirectoryName?: string;
  /** `[DEFAULT] force_raw_images` (default true): convert non-raw images to raw after fetch. */
  forceRawImages?: boolean;
  /** Refuse images whose virtual size is larger than this. */
  maxVirtualSize?: number;
  /** How long a boot waits for another process's fetch of the same image (default 30 min). */
  lockTimeoutMs?: number;
  logger?: Logger;
  /** Replaces the qemu-img second opinion (tests). */
  qemuImgInfo?: CheckOptions['qemuImgInfo'];
}

export interface EnsureOptions {
  /** The image's disk_format in the Image service; the content must match it. */
  declaredFormat?: string;
}

export class CachedBaseError extends ImageError {
  constructor(message: string) {
    super('image-cache', message);
  }
}

/** Nova's cache file name: the SHA-1 hex digest of the image id. */
export function cacheFileName(imageId: string): string {
  return createHash('sha1').update(imageId).digest('hex');
}

export class ImageCache {
  readonly instancesPath: string;
  readonly baseDir: string;
  readonly lockDir: string;
  readonly forceRawImages: boolean;
  private readonly mutex = new KeyedMutex();
  private readonly log: Logger;

  constructor(private readonly opts: ImageCacheOptions) {
    this.instancesPath = resolve(opts.instancesPath);
    this.baseDir = join(this.instancesPath, opts.subdirectoryName ?? '_base');
    this.lockDir = join(this.instancesPath, 'locks');
    this.forceRawImages = opts.forceRawImages ?? true;
    this.log = opts.logger ?? silentLogger;
  }

  basePath(imageId: string): string {
    return join(this.baseDir, cacheFileName(imageId));
  }

  lockPath(fileName: string): string {
    return join(this.lockDir, `kestrel-${fileName}`);
  }

  /**
   * The cached base of an image, fetched first when missing. Its mtime is touched on every
   * use (the cache manager ages bases by mtime).
   */
  async ensure(imageId: string, opts: EnsureOptions = {}): Promise<CachedBase> {
    assertValidImageId(imageId);
    const name = cacheFileName(imageId);
    return this.mutex.run(name, async () => {
      // A base is renamed into place only when complete, so finding it needs no file lock.
      const cached = await this.lookup(imageId);
      if (cached) return cached;
      return withFileLock(
        this.lockPath(name),
        async () => {
          const fetchedMeanwhile = await this.lookup(imageId); // by another process
          if (fetchedMeanwhile) return fetchedMeanwhile;
          await this.fetch(imageId, opts);
          const fetched = await this.lookup(imageId);
          if (!fetched)
            throw new CachedBaseError(`image ${imageId} vanished from ${this.baseDir} right after its fetch`);
          return fetched;
        },
        { timeoutMs: this.opts.lockTimeoutMs },
      );
    });
  }

  /** The cached base if present (touched and re-checked), else undefined. */
  async lookup(imageId: string): Promise<CachedBase | undefined> {
    const path = this.basePath(imageId);
    try {
      await stat(path);
    } catch {
      return undefined;
    }
    const now = new Date();
    await utimes(path, now, now);
    // Re-check what is already cached before anyone layers on it (Nova M does the same).
    const r = await inspectImage(path);
    if (!r.safe || !['raw', 'iso', 'qcow2'].includes(r.format)) {
      throw new CachedBaseError(
        `cached base ${path} of image ${imageId} failed its safety check (${r.format}: ` +
          `${r.findings.map((f) => f.message).join(' ') || 'not raw or qcow2'}); delete it so that it is fetched again`,
      );
    }
    return {
      imageId,
      path,
      format: r.format === 'qcow2' ? 'qcow2' : 'raw',
      virtualSize: r.format === 'qcow2' ? r.virtualSize : r.fileSize,
    };
  }

  /** The blank ephemeral or swap base (blank-bases.ts), made once under the cache's locks. */
  ensureBlank(kind: BlankKind, sizeBytes: number, fs?: string): Promise<CachedBase> {
    return ensureBlankBase(
      this.baseDir,
      (name, fn) => withMkdir(this.baseDir, () => this.withImageLock(name, fn)),
      kind,
      sizeBytes,
      fs,
    );
  }

  /** Both locks for one cache file: in-process first, then across processes. */
  withImageLock<T>(fileName: string, fn: () => Promise<T>, timeoutMs = this.opts.lockTimeoutMs): Promise<T> {
    return this.mutex.run(fileName, () => withFileLock(this.lockPath(fileName), fn, { timeoutMs }));
  }

  private async fetch(imageId: string, opts: EnsureOptions): Promise<void> {
    const base = this.basePath(imageId);
    const part = `${base}.part`;
    const converted = `${base}.converted`;
    await mkdir(this.baseDir, { recursive: true });
    const started = performance.now();
    try {
      await rm(part, { force: true }); // we hold the lock: any part file is a crashed fetch's
      await rm(converted, { force: true });
      const data = await this.opts.source.open(imageId);
      await pipeline(data, createWriteStream(part, { flags: 'wx', mode: 0o644 }));
      const r = await checkImage(part, {
        declaredFormat: opts.declaredFormat,
        maxVirtualSize: this.opts.maxVirtualSize,
        qemuImgInfo: this.opts.qemuImgInfo,
      });
      if (!r.safe) throw new ImageRefusedError(`image ${imageId}`, r);
      const keep = r.format === 'raw' || r.format === 'iso' || (r.format === 'qcow2' && !this.forceRawImages);
      if (keep) {
        await fsyncFile(part);
        await rename(part, base);
      } else {
        // Formats other than raw and qcow2 are always converted: backends layer only on those.
        await qemuImgConvert(part, r.format, converted, 'raw');
        const after = await inspectImage(converted);
        if (after.format !== 'raw') {
          throw new CachedBaseError(
            `image ${imageId} was converted to raw, but its format is now ${after.format}`,
          );
        }
        await fsyncFile(converted);
        await rename(converted, base);
        await rm(part, { force: true });
      }
      this.log.info(
        { imageId, format: r.format, converted: !keep, ms: Math.round(performance.now() - started) },
        'image cached',
      );
    } catch (e) {
      await rm(part, { force: true }).catch(() => undefined);
      await rm(converted, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** Removes an image's cached base (under both locks). */
  async remove(imageId: string): Promise<void> {
    const name = cacheFileName(imageId);
    await this.withImageLock(name, () => rm(this.basePath(imageId), { force: true }));
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** An ImageSource that reads from an Image service store (the all-in-one set-up). */
export function storeImageSource(store: { get(imageId: string): Promise<Readable> }): ImageSource {
  return { open: (imageId) => store.get(imageId) };
}

async function withMkdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  return fn();
}
