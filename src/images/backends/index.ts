// Disk backends by `[libvirt] images_type`: an explicit registry from each kind to its backend,
// built from that backend's own typed options (qcow2 and flat: the local file options; lvm: the
// volume group; rbd: the pool and Ceph connection). Config's `default` and `raw` are resolved
// before this (resolvedImagesType). Callers ask a backend's capabilities, never its kind.
import type { DiskBackend } from './backend.js';
import { FlatBackend } from './flat.js';
import type { LocalBackendOptions } from './local.js';
import { LvmDiskBackend, type LvmBackendOptions } from './lvm.js';
import { Qcow2Backend, type Qcow2BackendOptions } from './qcow2.js';
import { RbdDiskBackend, type RbdBackendOptions } from './rbd.js';
import { ImageError } from '../errors.js';

export type { CreateDiskRequest, CachedBase, DiskBackend, DiskBackendCapabilities } from './backend.js';
export { FlatBackend } from './flat.js';
export { Qcow2Backend, type Qcow2BackendOptions } from './qcow2.js';
export type { LocalBackendOptions } from './local.js';

/** Each backend kind's own options. */
export interface DiskBackendOptions {
  qcow2: Qcow2BackendOptions;
  flat: LocalBackendOptions;
  lvm: LvmBackendOptions;
  rbd: RbdBackendOptions;
}

export type DiskBackendKind = keyof DiskBackendOptions;

const REGISTRY: { readonly [K in DiskBackendKind]: (opts: DiskBackendOptions[K]) => DiskBackend } = {
  qcow2: (o) => new Qcow2Backend(o),
  flat: (o) => new FlatBackend(o),
  lvm: (o) => new LvmDiskBackend(o),
  rbd: (o) => new RbdDiskBackend(o),
};

export const DISK_BACKEND_KINDS = Object.keys(REGISTRY) as DiskBackendKind[];

/** The backend of `kind`, from its own options; an unknown kind is an error naming the known ones. */
export function createDiskBackend<K extends DiskBackendKind>(
  kind: K,
  opts: DiskBackendOptions[K],
): DiskBackend {
  const factory = REGISTRY[kind] as ((o: DiskBackendOptions[K]) => DiskBackend) | undefined;
  if (!factory) {
    throw new ImageError(
      'storage-misconfigured',
      `unknown disk backend ${String(kind)}; use one of ${DISK_BACKEND_KINDS.join(', ')} ([libvirt] images_type)`,
    );
  }
  return factory(opts);
}
