// The qcow2 backend (images_type=qcow2, the default): `<instances_path>/<uuid>/disk` is a qcow2
// overlay on the cached base with an explicit backing format, sized to the flavor's root disk.
// The overlay is written in TypeScript (qcow2-overlay.ts): a few hundred bytes of header, far
// quicker than spawning qemu-img (bench/images.ts measures both).
import type { DiskSource } from '../../disks/source.js';
import { FlavorDiskSmallerThanImageError } from '../errors.js';
import { qemuImgCreateOverlay } from '../qemu-img.js';
import type { CreateDiskRequest, DiskBackend } from './backend.js';
import { DiskExistsError, LocalDiskBackend, type LocalBackendOptions } from './local.js';
import { writeQcow2Overlay } from './qcow2-overlay.js';

export interface Qcow2BackendOptions extends LocalBackendOptions {
  /** How the overlay is made: written directly (default) or by `qemu-img create`. */
  overlayWriter?: 'typescript' | 'qemu-img';
}

export class Qcow2Backend extends LocalDiskBackend implements DiskBackend {
  readonly kind = 'qcow2' as const;
  readonly capabilities = { usesLocalBase: true, copiesSnapshots: false, ownCapacity: false };
  private readonly writer: 'typescript' | 'qemu-img';

  constructor(opts: Qcow2BackendOptions) {
    super(opts);
    this.writer = opts.overlayWriter ?? 'typescript';
  }

  async create(req: CreateDiskRequest): Promise<DiskSource> {
    const name = req.name ?? 'disk';
    const path = this.diskPath(req.instanceUuid, name);
    const base = await req.base();
    const size = req.sizeBytes > 0 ? req.sizeBytes : base.virtualSize;
    if (base.virtualSize > size) throw new FlavorDiskSmallerThanImageError(base.virtualSize, size);
    const madeDirectory = await this.prepareDirectory(req.instanceUuid, name);
    try {
      if (this.writer === 'typescript') {
        await writeQcow2Overlay(path, {
          backingFile: base.path,
          backingFormat: base.format,
          sizeBytes: size,
        });
      } else {
        await qemuImgCreateOverlay(path, base.path, base.format, size);
      }
      await this.preallocateSpace(path, size);
    } catch (e) {
      // Another create of the same instance won the race: its disk is not ours to remove.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DiskExistsError(path);
      await this.cleanup(req.instanceUuid, madeDirectory, true, name);
      throw e;
    }
    this.log.debug({ instance: req.instanceUuid, base: base.path, size }, 'qcow2 overlay created');
    return { kind: 'file', path, format: 'qcow2' };
  }
}
