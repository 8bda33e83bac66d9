// Disk backends: how an instance's root disk is made from a cached base image
// (`[libvirt] images_type`: qcow2 default, flat (alias raw), lvm, rbd). Every backend passes
// the same conformance suite (test/images/backend-conformance.ts).
import type { DiskSource } from '../../disks/source.js';

/** A base image in the compute host's cache (`<instances_path>/_base/<sha1(image id)>`). */
export interface CachedBase {
  imageId: string;
  path: string;
  format: 'raw' | 'qcow2';
  virtualSize: number;
}

/**
 * An instance's disks, by Nova's names: the root disk, the flavor's ephemeral disk and its
 * swap disk (files `<uuid>/disk.local`; LVs and RBD images `<uuid>_disk.local`).
 */
export type DiskName = 'disk' | 'disk.local' | 'disk.swap';
export const DISK_NAMES: readonly DiskName[] = ['disk', 'disk.local', 'disk.swap'];

export interface CreateDiskRequest {
  instanceUuid: string;
  /** Which of the instance's disks (default the root disk). */
  name?: DiskName;
  /** The flavor's root disk in bytes (0 = the image's own size, as Nova does for root_gb=0). */
  sizeBytes: number;
  /** Resolves the cached base; a backend that can clone in place (RBD) may not call it. */
  base: () => Promise<CachedBase>;
  /** The image's store locations (e.g. rbd://fsid/pool/image/snap) for clone-in-place. */
  imageLocations?: string[];
  imageId: string;
}

/** What a backend does itself, so callers need not know which backend it is. */
export interface DiskBackendCapabilities {
  /** Builds disks from a base in the local image cache (false: clones inside its own store). */
  usesLocalBase: boolean;
  /**
   * Copies its own disks for snapshots, shelve and backup while the guest is paused (true: RBD,
   * which has no image lock and alone knows its ceph.conf and keyring; false: the driver copies
   * the file or device with `qemu-img convert -U`).
   */
  copiesSnapshots: boolean;
  /** Its space is its own (a volume group, a Ceph pool), not instances_path's filesystem. */
  ownCapacity: boolean;
}

export interface DiskBackend {
  readonly kind: 'qcow2' | 'flat' | 'lvm' | 'rbd';
  readonly capabilities: DiskBackendCapabilities;
  /** Creates the instance's root disk; on failure nothing is left behind. */
  create(req: CreateDiskRequest): Promise<DiskSource>;
  /** Removes all of the instance's disks (root, ephemeral, swap); succeeds when there is nothing to remove. */
  delete(instanceUuid: string, keep?: readonly DiskName[]): Promise<void>;
  exists(instanceUuid: string): Promise<boolean>;
  /** Where one of the instance's disks is, as the driver attaches it (the disk must exist). */
  source(instanceUuid: string, name: DiskName): Promise<DiskSource>;
  /** Instance uuids that have a disk in this backend (to find orphans). */
  list(): Promise<string[]>;
  /** Copies the root disk, flattened, into targetPath (snapshot / shelve / backup). */
  exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void>;
  capacity(): Promise<{ totalBytes: number; freeBytes: number }>;
}
