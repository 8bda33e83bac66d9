// The RBD image store (Glance's rbd layout): an image's data is the RBD image `<pool>/<image id>`
// with a protected snapshot `snap`, and its location is `rbd://<fsid>/<pool>/<image id>/snap`,
// from which compute hosts clone instance disks (images_type=rbd) or export into their cache.
//
// An upload is streamed into `rbd import -` (under a temporary name) and, at the same time, into a
// local temporary copy that the format inspector reads (it needs random access: footers, tables).
// Only when the inspector and qemu-img accept it is the RBD image renamed into place, snapshotted
// and protected. Any failure removes the temporary RBD image and the temporary copy.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import { HashingCounter } from '../store/hashing.js';
import type { ImageStore, PutImageOptions, StoredImageFacts } from '../store/store.js';
import { CephCli, describe, isBusy, isNotFound, type CephConnection } from './cli.js';
import { formatRbdUrl } from './location.js';

/** Glance's snapshot name for the image data clones are made from. */
export const GLANCE_SNAPSHOT = 'snap';

export interface RbdImageStoreOptions extends CephConnection {
  /** The pool image data lives in (Glance's `rbd_store_pool`, default `images`). */
  pool?: string;
  /** Where the inspector's temporary copy of an upload goes (default the OS temp dir). */
  tempDirectory?: string;
  logger?: Logger;
  /** Replaces the qemu-img second opinion (tests). */
  qemuImgInfo?: CheckOptions['qemuImgInfo'];
}

export class ImageInUseError extends ImageError {
  constructor(imageId: string, where: string) {
    super(
      'image-in-use',
      `image ${imageId} cannot be deleted: ${where} still has clones of it (instance disks); delete or flatten those first`,
    );
  }
}

export class RbdImageStore implements ImageStore {
  readonly kind = 'rbd' as const;
  readonly pool: string;
  readonly cli: CephCli;
  private readonly log: Logger;
  private readonly perImage = new KeyedMutex();

  constructor(private readonly opts: RbdImageStoreOptions = {}) {
    this.pool = opts.pool || 'images';
    this.cli = new CephCli(opts);
    this.log = opts.logger ?? silentLogger;
  }

  localPath(): string | undefined {
    return undefined;
  }

  private spec(imageId: string, snap?: string): string {
    assertValidImageId(imageId);
    return `${this.pool}/${imageId}${snap ? `@${snap}` : ''}`;
  }

  /** The location of an image's data (what Glance shows as direct_url / locations). */
  async location(imageId: string): Promise<string> {
    return formatRbdUrl({
      fsid: await this.cli.fsid(),
      pool: this.pool,
      image: imageId,
      snapshot: GLANCE_SNAPSHOT,
    });
  }

  async put(imageId: string, data: Readable, opts: PutImageOptions): Promise<StoredImageFacts> {
    const finalSpec = this.spec(imageId);
    return this.perImage.run(imageId, async () => {
      if (await this.exists(imageId)) {
        data.destroy();
        throw new ImageAlreadyStoredError(imageId);
      }
      const suffix = randomBytes(6).toString('hex');
      const tempImage = `${imageId}.importing-${suffix}`;
      const tempCopy = join(this.opts.tempDirectory ?? tmpdir(), `kestrel-rbd-${imageId}.${suffix}.part`);
      let imported = false;
      try {
        const started = performance.now();
        const counter = await this.receive(imageId, data, opts, tempImage, tempCopy, () => (imported = true));
        const result = await checkUpload(tempCopy, {
          declaredFormat: opts.declaredFormat,
          maxVirtualSize: opts.maxVirtualSize,
          qemuImgInfo: this.opts.qemuImgInfo,
        });
        if (!result.safe) throw new ImageRefusedError(`image ${imageId}`, result);
        await this.cli.rbd(['rename', `${this.pool}/${tempImage}`, finalSpec]);
        imported = false; // the temp name is gone; from here a failure removes the final image
        try {
          await this.cli.rbd(['snap', 'create', this.spec(imageId, GLANCE_SNAPSHOT)]);
          await this.cli.rbd(['snap', 'protect', this.spec(imageId, GLANCE_SNAPSHOT)]);
        } catch (e) {
          await this.removeImage(imageId).catch(() => undefined);
          throw e;
        }
        const facts: StoredImageFacts = {
          size: counter.bytes,
          checksum: counter.md5.digest('hex'),
          osHashAlgo: 'sha512',
          osHashValue: counter.sha512.digest('hex'),
          detectedFormat: result.format,
          virtualSize: result.virtualSize,
          location: await this.location(imageId),
        };
        this.log.info(
          {
            imageId,
            size: facts.size,
            format: facts.detectedFormat,
            ms: Math.round(performance.now() - started),
          },
          'image data stored in RBD',
        );
        return facts;
      } finally {
        await rm(tempCopy, { force: true }).catch(() => undefined);
        if (imported) {
          await this.cli
            .rbd(['rm', '--no-progress', `${this.pool}/${tempImage}`])
            .catch((e: unknown) =>
              this.log.warn(
                { image: `${this.pool}/${tempImage}`, err: describe(e) },
                'could not remove a refused upload from RBD; remove it with rbd rm',
              ),
            );
        }
      }
    });
  }

  /** Streams the upload into `rbd import -` and the inspector's temporary copy at once. */
  private async receive(
    imageId: string,
    data: Readable,
    opts: PutImageOptions,
    tempImage: string,
    tempCopy: string,
    onImportStarted: () => void,
  ): Promise<HashingCounter> {
    const counter = new HashingCounter(
      opts.maxSize,
      () => new ImageTooLargeError(imageId, opts.maxSize ?? 0),
    );
    const file = createWriteStream(tempCopy, { flags: 'wx', mode: 0o600 });
    const child = this.cli.rbdSpawn([
      'import',
      '--no-progress',
      '--image-format',
      '2',
      '-',
      `${this.pool}/${tempImage}`,
    ]);
    onImportStarted();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.on('error', () => undefined); // reported through exited / the stdin write
    child.stdin.on('error', () => undefined); // EPIPE after rbd exits: reported by the write callback
    const importFailed = (why: string): Error =>
      new Error(
        `rbd import into ${this.pool}/${tempImage} failed (${why}): ${stderr.trim().split('\n').slice(-3).join(' ')}; ` +
          `check the cluster and that ${this.cli.describeConn()} may write to pool ${this.pool}`,
      );
    const both = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(chunk: Buffer, _enc, cb) {
        let pending = 2;
        let failed = false;
        const done = (err?: Error | null): void => {
          if (failed) return;
          if (err) {
            failed = true;
            cb(err);
          } else if (--pending === 0) cb();
        };
        file.write(chunk, done);
        child.stdin.write(chunk, done);
      },
      final(cb) {
        file.end(() => undefined);
        child.stdin.end();
        Promise.all([new Promise<void>((r, j) => file.once('close', r).once('error', j)), exited]).then(
          ([, code]) => cb(code === 0 ? null : importFailed(`exit ${code}`)),
          (e: Error) => cb(e),
        );
      },
    });
    try {
      await pipeline(data, counter, both);
    } catch (e) {
      child.kill('SIGKILL');
      file.destroy();
      await exited;
      if (e instanceof ImageError) throw e;
      if (e instanceof Error && e.message.startsWith('rbd import')) throw e;
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') throw importFailed('it stopped reading');
      throw new ImageUploadInterruptedError(imageId, e);
    }
    return counter;
  }

  async get(imageId: string): Promise<Readable> {
    const snap = this.spec(imageId, GLANCE_SNAPSHOT);
    // Look first so that a missing image fails here, not in the middle of a response.
    if (!(await this.exists(imageId))) throw new ImageNotFoundError(imageId, `RBD pool ${this.pool}`);
    const child = this.cli.rbdSpawn(['export', '--no-progress', snap, '-']);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.on('close', (code) => {
      if (code !== 0 && !child.stdout.destroyed) {
        child.stdout.destroy(new Error(`rbd export ${snap} failed (exit ${code}): ${stderr.trim()}`));
      }
    });
    // A reader that stops early must not leave rbd running.
    child.stdout.on('close', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    return child.stdout;
  }

  async delete(imageId: string): Promise<void> {
    await this.perImage.run(imageId, () => this.removeImage(imageId));
  }

  private async removeImage(imageId: string): Promise<void> {
    try {
      await this.cli.rbd(['snap', 'unprotect', this.spec(imageId, GLANCE_SNAPSHOT)]);
    } catch (e) {
      if (isBusy(e)) throw new ImageInUseError(imageId, `RBD pool ${this.pool}`);
      // Not protected, no such snapshot or no image: the next steps find out which.
    }
    try {
      await this.cli.rbd(['snap', 'purge', '--no-progress', this.spec(imageId)]);
      await this.cli.rbd(['rm', '--no-progress', this.spec(imageId)]);
    } catch (e) {
      if (isNotFound(e)) return;
      throw new ImageError(
        'storage-unavailable',
        `cannot delete RBD image ${this.spec(imageId)}: ${describe(e)}`,
      );
    }
  }

  async exists(imageId: string): Promise<boolean> {
    try {
      await this.cli.rbd(['info', this.spec(imageId, GLANCE_SNAPSHOT)]);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw new ImageError(
        'storage-unavailable',
        `cannot look up RBD image ${this.spec(imageId)}: ${describe(e)}`,
      );
    }
  }
}
