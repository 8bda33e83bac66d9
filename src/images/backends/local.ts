// What the file-based backends (qcow2, flat) share: the instance directory layout
// `<instances_path>/<uuid>/disk`, listing, deletion, export and capacity.
import { mkdir, open, readdir, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runChecked } from '../../util/run.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { ImageError } from '../errors.js';
import { qemuImgConvert } from '../qemu-img.js';
import { DISK_NAMES, type DiskName } from './backend.js';
import type { DiskSource } from '../../disks/source.js';

export interface LocalBackendOptions {
  /** `[DEFAULT] instances_path`. */
  instancesPath: string;
  /** `[DEFAULT] force_raw_images` (default true). */
  forceRawImages?: boolean;
  /** `[DEFAULT] preallocate_images`: `space` reserves the whole disk with fallocate. */
  preallocateImages?: 'none' | 'space';
  logger?: Logger;
}

export const DISK_FILE = 'disk';
const INSTANCE_UUID = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;

export class DiskExistsError extends ImageError {
  constructor(path: string) {
    super('disk-exists', `a disk already exists at ${path}; delete the instance's disk first`);
  }
}

export function assertValidInstanceUuid(uuid: string): void {
  if (!INSTANCE_UUID.test(uuid) || uuid.includes('..') || uuid === 'locks') {
    throw new ImageError(
      'invalid-instance-uuid',
      `instance uuid ${JSON.stringify(uuid.slice(0, 80))} is not a valid directory name`,
    );
  }
}

/** The on-disk format of a disk this backend wrote (trusted: our own file). */
export async function diskFormatOf(path: string): Promise<'qcow2' | 'raw'> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

export abstract class LocalDiskBackend {
  readonly instancesPath: string;
  protected readonly log: Logger;
  protected readonly forceRawImages: boolean;
  protected readonly preallocate: 'none' | 'space';

  constructor(opts: LocalBackendOptions) {
    this.instancesPath = resolve(opts.instancesPath);
    this.log = opts.logger ?? silentLogger;
    this.forceRawImages = opts.forceRawImages ?? true;
    this.preallocate = opts.preallocateImages ?? 'none';
  }

  diskPath(instanceUuid: string, name: DiskName = DISK_FILE): string {
    assertValidInstanceUuid(instanceUuid);
    return join(this.instancesPath, instanceUuid, name);
  }

  /** Creates the instance directory; says whether it made it (so a failure can remove it). */
  protected async prepareDirectory(instanceUuid: string, name: DiskName = DISK_FILE): Promise<boolean> {
    const dir = join(this.instancesPath, instanceUuid);
    const made = await mkdir(dir, { recursive: true, mode: 0o755 });
    const disk = join(dir, name);
    if (await exists(disk)) throw new DiskExistsError(disk);
    return made !== undefined;
  }

  /** Undo of a failed create: the disk (and its part file), and the directory if we made it. */
  protected async cleanup(
    instanceUuid: string,
    madeDirectory: boolean,
    diskIsOurs = true,
    name: DiskName = DISK_FILE,
  ): Promise<void> {
    if (diskIsOurs) await rm(this.diskPath(instanceUuid, name), { force: true });
    if (madeDirectory) await rmdir(join(this.instancesPath, instanceUuid)).catch(() => undefined);
  }

  /** `preallocate_images=space`: reserve the disk's full size without changing the file size. */
  protected async preallocateSpace(path: string, sizeBytes: number): Promise<void> {
    if (this.preallocate !== 'space') return;
    await runChecked(['fallocate', '--keep-size', '--length', String(sizeBytes), path], {
      timeoutMs: 120_000,
    });
  }

  async delete(instanceUuid: string, keep: readonly DiskName[] = []): Promise<void> {
    for (const name of DISK_NAMES) {
      if (!keep.includes(name)) await rm(this.diskPath(instanceUuid, name), { force: true });
    }
    await this.removePartFiles(instanceUuid);
    // The directory may hold other files (console log): remove it only when empty.
    await rmdir(join(this.instancesPath, instanceUuid)).catch(() => undefined);
  }

  private async removePartFiles(instanceUuid: string): Promise<void> {
    const dir = join(this.instancesPath, instanceUuid);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names)
      if (n.startsWith(`${DISK_FILE}.`) && n.endsWith('.part')) await rm(join(dir, n), { force: true });
  }

  async exists(instanceUuid: string): Promise<boolean> {
    return exists(this.diskPath(instanceUuid));
  }

  async source(instanceUuid: string, name: DiskName): Promise<DiskSource> {
    const path = this.diskPath(instanceUuid, name);
    return { kind: 'file', path, format: await diskFormatOf(path) };
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.instancesPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: string[] = [];
    for (const name of names) {
      if (name.startsWith('_') || name === 'locks' || !INSTANCE_UUID.test(name)) continue;
      if (await exists(join(this.instancesPath, name, DISK_FILE))) out.push(name);
    }
    return out.sort();
  }

  async exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    const disk = this.diskPath(instanceUuid);
    if (!(await exists(disk))) {
      throw new ImageError(
        'disk-not-found',
        `instance ${instanceUuid} has no disk at ${disk}; nothing to export`,
      );
    }
    const part = `${targetPath}.part`;
    try {
      // Flattened: convert reads through the backing chain (our own base) into one image.
      await qemuImgConvert(disk, await diskFormatOf(disk), part, format);
      await rename(part, targetPath);
    } catch (e) {
      await rm(part, { force: true });
      throw e;
    }
  }

  async capacity(): Promise<{ totalBytes: number; freeBytes: number }> {
    await mkdir(this.instancesPath, { recursive: true });
    const s = await statfs(this.instancesPath);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
