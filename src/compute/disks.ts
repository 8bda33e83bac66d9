// Root disks as the compute manager needs them: made from an image before spawn, removed on
// delete, exported for snapshots. The disk backend `[libvirt] images_type` selects does the work
// (src/images/backends: qcow2 overlay, flat copy, LVM volume, RBD image); the image cache
// (src/images/cache.ts) keeps one base per image for the backends that need a local copy.
import type { DiskSource } from '../disks/source.js';
import type { LocalDisk } from '../virt/driver.js';
import type { BlankKind } from '../images/blank-bases.js';
import type { CachedBase, DiskBackend, DiskName } from '../images/backends/backend.js';
import { Qcow2Backend } from '../images/backends/qcow2.js';
import { KestrelError } from '../errors/index.js';
import { FlavorDiskSmallerThanImageError } from '../images/errors.js';

export interface RootDiskImage {
  id: string;
  diskFormat: string;
  virtualSize: number | null;
}

export type DiskCopier = (targetPath: string, format: 'qcow2' | 'raw') => Promise<void>;

export interface RootDisks {
  /** Creates the instance's root disk from the image; sizeBytes 0 = the image's own size. */
  create(instanceUuid: string, image: RootDiskImage, sizeBytes: number): Promise<DiskSource>;
  /** Removes the instance's disks (root, ephemeral, swap), but those named in keep. */
  delete(instanceUuid: string, opts?: { keep?: readonly DiskName[] }): Promise<void>;
  /** Copies the root disk, flattened, to targetPath. */
  exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void>;
  /**
   * How a snapshot copies this instance's disk when the driver's own file/block copy cannot
   * reach it (RBD: ceph.conf, keyring); undefined = let the driver copy it (driver.snapshot).
   */
  snapshotCopier?(instanceUuid: string): DiskCopier | undefined;
  /**
   * Instance uuids that have a root disk in the backend (DiskBackend.list), so start-up
   * reconciliation can find orphans that live outside instances_path (LVM volumes, RBD images).
   */
  list?(): Promise<string[]>;
  /**
   * Creates the flavor's ephemeral and swap disks (Nova's disk.local and disk.swap) from the
   * cached blank bases; none when the flavor has neither.
   */
  createLocal?(instanceUuid: string, flavor: LocalDiskFlavor, existing?: readonly DiskName[]): Promise<void>;
  /** The ephemeral and swap disks of an instance of this flavor, as the guest attaches them. */
  localSources?(instanceUuid: string, flavor: LocalDiskFlavor): Promise<LocalDisk[]>;
}

/** What decides an instance's ephemeral and swap disks. */
export interface LocalDiskFlavor {
  ephemeralGb: number;
  swapMb: number;
}

/** What the disks need from the image cache. */
export interface BaseImages {
  ensure(imageId: string, opts?: { declaredFormat?: string }): Promise<CachedBase>;
  /** A formatted blank base for ephemeral / swap disks (ImageCache.ensureBlank). */
  ensureBlank?(kind: BlankKind, sizeBytes: number, fs?: string): Promise<CachedBase>;
}

/** The image's store locations (rbd://…), so a backend can clone instead of download. */
export type ImageLocations = (imageId: string) => Promise<readonly string[]>;

/** The flavor's ephemeral disk (disk.local, GiB) and swap disk (disk.swap, MiB), in that order. */
export function localDisksOf(
  flavor: LocalDiskFlavor,
): { role: BlankKind; name: 'disk.local' | 'disk.swap'; sizeBytes: number }[] {
  const out: { role: BlankKind; name: 'disk.local' | 'disk.swap'; sizeBytes: number }[] = [];
  if (flavor.ephemeralGb > 0)
    out.push({ role: 'ephemeral', name: 'disk.local', sizeBytes: flavor.ephemeralGb * 1024 ** 3 });
  if (flavor.swapMb > 0) out.push({ role: 'swap', name: 'disk.swap', sizeBytes: flavor.swapMb * 1024 ** 2 });
  return out;
}

/** Nova's FlavorDiskSmallerThanImage, worded as Nova words the fault, with the fix. */
export class FlavorDiskTooSmallFault extends KestrelError {
  constructor(cause: FlavorDiskSmallerThanImageError) {
    const gib = Math.ceil(cause.imageVirtualSize / 1024 ** 3);
    super(
      'flavor-disk-too-small',
      `Flavor's disk is too small for requested image. Flavor disk is ${cause.flavorDiskSize} bytes, ` +
        `image is ${cause.imageVirtualSize} bytes.`,
      {
        cause,
        fix: `boot with a flavor whose root disk is at least ${gib} GiB, or with root disk 0 (the image's own size)`,
      },
    );
  }
}

/** Root disks through a DiskBackend (diskBackendFromConfig in src/service/storage.ts). */
export class BackendDisks implements RootDisks {
  constructor(
    readonly backend: DiskBackend,
    private readonly bases: BaseImages,
    private readonly locations?: ImageLocations,
    /** `[DEFAULT] default_ephemeral_format` (ext4 when unset). */
    private readonly ephemeralFormat = 'ext4',
  ) {}

  async createLocal(
    instanceUuid: string,
    flavor: LocalDiskFlavor,
    existing: readonly DiskName[] = [],
  ): Promise<void> {
    for (const d of localDisksOf(flavor)) {
      if (existing.includes(d.name)) continue;
      const ensureBlank = this.bases.ensureBlank?.bind(this.bases);
      if (!ensureBlank)
        throw new KestrelError('storage-misconfigured', 'this image cache cannot make blank disks');
      await this.backend.create({
        instanceUuid,
        name: d.name,
        imageId: d.role,
        sizeBytes: d.sizeBytes,
        base: () => ensureBlank(d.role, d.sizeBytes, this.ephemeralFormat),
      });
    }
  }

  async localSources(instanceUuid: string, flavor: LocalDiskFlavor): Promise<LocalDisk[]> {
    const out: LocalDisk[] = [];
    for (const d of localDisksOf(flavor)) {
      out.push({ role: d.role, source: await this.backend.source(instanceUuid, d.name) });
    }
    return out;
  }

  async create(instanceUuid: string, image: RootDiskImage, sizeBytes: number): Promise<DiskSource> {
    const imageLocations = this.locations
      ? [...(await this.locations(image.id).catch(() => [] as string[]))]
      : undefined;
    try {
      return await this.backend.create({
        instanceUuid,
        imageId: image.id,
        sizeBytes,
        imageLocations,
        base: () => this.bases.ensure(image.id, { declaredFormat: image.diskFormat }),
      });
    } catch (e) {
      if (e instanceof FlavorDiskSmallerThanImageError) throw new FlavorDiskTooSmallFault(e);
      throw e;
    }
  }

  delete(instanceUuid: string, opts: { keep?: readonly DiskName[] } = {}): Promise<void> {
    return this.backend.delete(instanceUuid, opts.keep);
  }

  list(): Promise<string[]> {
    return this.backend.list();
  }

  exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    return this.backend.exportTo(instanceUuid, targetPath, format);
  }

  snapshotCopier(instanceUuid: string): DiskCopier | undefined {
    // File and block disks: the driver copies them with `qemu-img convert -U` while the guest is
    // paused (the backends' own export would trip over QEMU's image lock).
    if (!this.backend.capabilities.copiesSnapshots) return undefined;
    return (target, format) => this.backend.exportTo(instanceUuid, target, format);
  }
}

/** `<instances_path>/<uuid>/disk`: a qcow2 overlay on the cached base (the default backend). */
export class Qcow2OverlayDisks extends BackendDisks {
  constructor(instancesPath: string, bases: BaseImages) {
    super(new Qcow2Backend({ instancesPath }), bases);
  }
}
