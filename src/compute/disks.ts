// Root disks as the compute manager needs them: made from an image before spawn, removed on
// delete, exported for snapshots. The image cache (src/images/cache.ts) keeps one base per
// image; a qcow2 overlay per instance sits on it (Nova's default images_type).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DiskSource } from '../virt/driver.js';
import type { CachedBase } from '../images/backends/backend.js';
import { runChecked } from '../util/run.js';

export interface RootDiskImage {
  id: string;
  diskFormat: string;
  virtualSize: number | null;
}

export interface RootDisks {
  /** Creates the instance's root disk from the image; sizeBytes 0 = the image's own size. */
  create(instanceUuid: string, image: RootDiskImage, sizeBytes: number): Promise<DiskSource>;
  delete(instanceUuid: string): Promise<void>;
  /** Copies the root disk, flattened, to targetPath. */
  exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void>;
}

/** What the disks need from the image cache. */
export interface BaseImages {
  ensure(imageId: string, opts?: { declaredFormat?: string }): Promise<CachedBase>;
}

/** `<instances_path>/<uuid>/disk`: a qcow2 overlay on the cached base. */
export class Qcow2OverlayDisks implements RootDisks {
  constructor(
    private readonly instancesPath: string,
    private readonly bases: BaseImages,
  ) {}

  async create(instanceUuid: string, image: RootDiskImage, sizeBytes: number): Promise<DiskSource> {
    const base = await this.bases.ensure(image.id, { declaredFormat: image.diskFormat });
    const dir = join(this.instancesPath, instanceUuid);
    mkdirSync(dir, { recursive: true });
    const disk = join(dir, 'disk');
    const argv = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', base.format, '-b', base.path, disk];
    // Grow to the flavor's root disk; never shrink below the image (root_gb 0 = image size).
    if (sizeBytes > base.virtualSize) argv.push(String(sizeBytes));
    await runChecked(argv, { timeoutMs: 60_000 });
    return { kind: 'file', path: disk, format: 'qcow2' };
  }

  async delete(instanceUuid: string): Promise<void> {
    rmSync(join(this.instancesPath, instanceUuid), { recursive: true, force: true });
  }

  async exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    await runChecked(
      [
        'qemu-img',
        'convert',
        '-f',
        'qcow2',
        '-O',
        format,
        join(this.instancesPath, instanceUuid, 'disk'),
        targetPath,
      ],
      { timeoutMs: 30 * 60_000 },
    );
  }
}
