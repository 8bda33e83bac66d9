// The file image store: one file per image under a directory (the service passes
// `<state_path>/images`). An upload streams into `<id>.<random>.part` while it is hashed and
// counted, is inspected (headers, then qemu-img), fsynced, and renamed into place; any failure
// removes the part file, so a refused or interrupted upload leaves nothing.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { KeyedMutex } from '../../util/lock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { checkUpload, type CheckOptions } from '../inspect/index.js';
import {
  assertValidImageId,
  ImageAlreadyStoredError,
  ImageError,
  ImageNotFoundError,
  ImageRefusedError,
  ImageTooLargeError,
  ImageUploadInterruptedError,
} from '../errors.js';
import { HashingCounter } from './hashing.js';
import type { ImageStore, PutImageOptions, StoredImageFacts } from './store.js';

export interface FileImageStoreOptions {
  /** Where image files live; created when missing. */
  directory: string;
  logger?: Logger;
  /** fsync data and directory before an upload counts as stored (default true). */
  fsync?: boolean;
  /** Replaces the qemu-img second opinion (tests). */
  qemuImgInfo?: CheckOptions['qemuImgInfo'];
}

const PART_SUFFIX = '.part';

export class FileImageStore implements ImageStore {
  readonly kind = 'file' as const;
  readonly directory: string;
  private readonly log: Logger;
  private readonly fsync: boolean;
  private readonly perImage = new KeyedMutex();
  private dirReady: Promise<void> | undefined;

  constructor(private readonly opts: FileImageStoreOptions) {
    this.directory = resolve(opts.directory);
    this.log = opts.logger ?? silentLogger;
    this.fsync = opts.fsync ?? true;
  }

  localPath(imageId: string): string {
    assertValidImageId(imageId);
    return join(this.directory, imageId);
  }

  async put(imageId: string, data: Readable, opts: PutImageOptions): Promise<StoredImageFacts> {
    const finalPath = this.localPath(imageId);
    await this.ensureDirectory();
    // Only uploads of the same image wait for each other.
    return this.perImage.run(imageId, async () => {
      if (await this.exists(imageId)) {
        data.destroy();
        throw new ImageAlreadyStoredError(imageId);
      }
      const partPath = join(this.directory, `${imageId}.${randomBytes(6).toString('hex')}${PART_SUFFIX}`);
      try {
        return await this.receive(imageId, data, opts, partPath, finalPath);
      } catch (e) {
        await rm(partPath, { force: true }).catch(() => undefined);
        throw e;
      }
    });
  }

  private async receive(
    imageId: string,
    data: Readable,
    opts: PutImageOptions,
    partPath: string,
    finalPath: string,
  ): Promise<StoredImageFacts> {
    const counter = new HashingCounter(
      opts.maxSize,
      () => new ImageTooLargeError(imageId, opts.maxSize ?? 0),
    );
    const started = performance.now();
    try {
      await pipeline(data, counter, createWriteStream(partPath, { flags: 'wx', mode: 0o640 }));
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageUploadInterruptedError(imageId, e);
    }
    const result = await checkUpload(partPath, {
      declaredFormat: opts.declaredFormat,
      maxVirtualSize: opts.maxVirtualSize,
      qemuImgInfo: this.opts.qemuImgInfo,
    });
    if (!result.safe) throw new ImageRefusedError(`image ${imageId}`, result);
    if (this.fsync) await fsyncPath(partPath);
    await rename(partPath, finalPath);
    if (this.fsync) await fsyncPath(this.directory);
    const facts: StoredImageFacts = {
      size: counter.bytes,
      checksum: counter.md5.digest('hex'),
      osHashAlgo: 'sha512',
      osHashValue: counter.sha512.digest('hex'),
      detectedFormat: result.format,
      virtualSize: result.virtualSize,
      location: pathToFileURL(finalPath).href,
    };
    this.log.info(
      {
        imageId,
        size: facts.size,
        format: facts.detectedFormat,
        ms: Math.round(performance.now() - started),
      },
      'image data stored',
    );
    return facts;
  }

  async get(imageId: string): Promise<Readable> {
    const path = this.localPath(imageId);
    // Open first so that a missing image fails here, not in the middle of a response.
    const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new ImageNotFoundError(imageId, this.directory);
      throw e;
    });
    return createReadStream(path, { fd: fh, highWaterMark: 1024 * 1024 });
  }

  async delete(imageId: string): Promise<void> {
    await unlink(this.localPath(imageId)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async exists(imageId: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(imageId))).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Removes part files a crashed process left behind. Call it at start-up, before any upload;
   * with minAgeMs it only removes parts older than that (safe while uploads run).
   */
  async sweepPartials(minAgeMs = 0): Promise<string[]> {
    await this.ensureDirectory();
    const removed: string[] = [];
    for (const name of await readdir(this.directory)) {
      if (!name.endsWith(PART_SUFFIX)) continue;
      const p = join(this.directory, name);
      const st = await stat(p).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs >= minAgeMs) {
        await rm(p, { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  private ensureDirectory(): Promise<void> {
    this.dirReady ??= mkdir(this.directory, { recursive: true, mode: 0o750 }).then(
      () => undefined,
      (e: unknown) => {
        this.dirReady = undefined;
        throw new ImageError(
          'storage-misconfigured',
          `cannot create the image directory ${this.directory}: ${String(e)}; check its parent's permissions`,
        );
      },
    );
    return this.dirReady;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
