// Disk backends by `[libvirt] images_type`: qcow2 (and `default` with
// use_cow_images), flat (and its deprecated alias raw). LVM and RBD register themselves with
// registerDiskBackend so that this file need not know them.
import type { DiskBackend } from './backend.js';
import { FlatBackend } from './flat.js';
import { Qcow2Backend, type Qcow2BackendOptions } from './qcow2.js';
import { ImageError } from '../errors.js';

export type { CreateDiskRequest, CachedBase, DiskBackend } from './backend.js';
export { FlatBackend } from './flat.js';
export { Qcow2Backend, type Qcow2BackendOptions } from './qcow2.js';
export type { LocalBackendOptions } from './local.js';

export interface DiskBackendOptions extends Qcow2BackendOptions {
  /** `[DEFAULT] use_cow_images` (default true): what images_type=default means. */
  useCowImages?: boolean;
  /** Options of other backends (volume group, pool …), read by their own factories. */
  [key: string]: unknown;
}

export type DiskBackendFactory = (opts: DiskBackendOptions) => DiskBackend;

const factories = new Map<string, DiskBackendFactory>([
  ['qcow2', (o) => new Qcow2Backend(o)],
  ['flat', (o) => new FlatBackend(o)],
]);

/** Adds a backend kind (e.g. lvm, rbd); its module calls this when imported. */
export function registerDiskBackend(kind: string, factory: DiskBackendFactory): void {
  factories.set(kind, factory);
}

/** Nova's images_type mapping; an unknown kind is an error naming the known ones. */
export function createDiskBackend(kind: string, opts: DiskBackendOptions): DiskBackend {
  let resolved = kind;
  if (kind === 'default') resolved = (opts.useCowImages ?? true) ? 'qcow2' : 'flat';
  if (kind === 'raw') {
    opts.logger?.warn('[libvirt] images_type=raw is deprecated; it means flat, so write images_type=flat');
    resolved = 'flat';
  }
  const factory = factories.get(resolved);
  if (!factory) {
    throw new ImageError(
      'storage-misconfigured',
      `unknown [libvirt] images_type=${kind}; use one of default, ${[...factories.keys(), 'raw'].join(', ')}` +
        (kind === 'lvm' || kind === 'rbd' ? ` (the ${kind} backend is not loaded)` : ''),
    );
  }
  return factory(opts);
}
