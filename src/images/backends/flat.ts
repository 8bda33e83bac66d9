// The flat backend (images_type=flat, and its deprecated alias raw): the instance disk is a
// sparse copy of the cached base (a reflink where the filesystem allows), then grown to the
// flavor's root disk. Raw, unless force_raw_images=False and the base is qcow2.
import { randomBytes } from 'node:crypto';
import { link, rm, stat, truncate } from 'node:fs/promises';
import type { DiskSource } from '../../disks/source.js';
import { FlavorDiskSmallerThanImageError } from '../errors.js';
import { qemuImgConvert, qemuImgResize } from '../qemu-img.js';
import type { CreateDiskRequest, DiskBackend } from './backend.js';
import { DiskExistsError, LocalDiskBackend } from './local.js';
import { copySparse } from './sparse-copy.js';

export class FlatBackend extends LocalDiskBackend implements DiskBackend {
  readonly kind = 'flat' as const;
  readonly capabilities = { usesLocalBase: true, copiesSnapshots: false, ownCapacity: false };

  async create(req: CreateDiskRequest): Promise<DiskSource> {
    const name = req.name ?? 'disk';
    const path = this.diskPath(req.instanceUuid, name);
    const part = `${path}.${randomBytes(4).toString('hex')}.part`;
    const base = await req.base();
    const size = req.sizeBytes > 0 ? req.sizeBytes : base.virtualSize;
    if (base.virtualSize > size) throw new FlavorDiskSmallerThanImageError(base.virtualSize, size);
    const madeDirectory = await this.prepareDirectory(req.instanceUuid, name);
    const format: 'raw' | 'qcow2' = base.format === 'qcow2' && !this.forceRawImages ? 'qcow2' : 'raw';
    try {
      if (base.format === format) {
        await copySparse(base.path, part);
      } else {
        await qemuImgConvert(base.path, base.format, part, 'raw');
      }
      if (format === 'raw') {
        if ((await stat(part)).size < size) await truncate(part, size); // a sparse extension
      } else {
        await qemuImgResize(part, 'qcow2', size);
      }
      await this.preallocateSpace(part, size);
      // link, not rename: it never replaces a disk that a concurrent create made meanwhile.
      await link(part, path);
      await rm(part, { force: true });
    } catch (e) {
      await rm(part, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DiskExistsError(path);
      await this.cleanup(req.instanceUuid, madeDirectory, false, name); // the disk appears only by the final link
      throw e;
    }
    return { kind: 'file', path, format };
  }
}
