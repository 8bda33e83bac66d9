// Storage from configuration: the Image v2 store ([image_store] backend file | rbd), the compute
// image cache and where it fetches from (the store, or `rbd export` first with [glance]
// enable_rbd_download), and the instance disk backend ([libvirt] images_type: qcow2, flat, lvm,
// rbd) wrapped as the compute manager's RootDisks. Also what the libvirt driver needs to define
// the ceph secret for RBD disks.
import { join } from 'node:path';
import { resolvedImagesType, type KestrelConfig } from '../config/index.js';
import { BackendDisks, type ImageLocations } from '../compute/disks.js';
import { createDiskBackend, type DiskBackend } from '../images/backends/index.js';
import { cephClientKey } from '../images/backends/rbd.js';
import type { LvDeviceResolver } from '../images/backends/lvm.js';
import { ImageCache, storeImageSource, type ImageSource } from '../images/cache.js';
import {
  RbdDirectDownload,
  RbdFirstImageSource,
  rbdDownloadOptionsFromNova,
} from '../images/rbd/download.js';
import { RbdImageStore } from '../images/rbd/store.js';
import { FileImageStore } from '../images/store/file.js';
import type { ImageStore } from '../images/store/store.js';
import type { CephSecretOptions } from '../virt/libvirt/ceph-secret.js';
import { silentLogger, type Logger } from '../util/log.js';

/** Test-only seams: this machine has no device-mapper, so LVs are stood in for by loop devices. */
export interface StorageTestHooks {
  lvDevices?: LvDeviceResolver;
  /** lvm.conf fragment for every lvm2 command (e.g. activation off, one PV in the filter). */
  lvmConfig?: string;
}

export interface Storage {
  imagesType: 'qcow2' | 'flat' | 'lvm' | 'rbd';
  imageStore: ImageStore;
  cache: ImageCache;
  /** Where the cache fetches images from (RbdFirstImageSource with direct download). */
  cacheSource: ImageSource;
  backend: DiskBackend;
  disks: BackendDisks;
}

export interface StorageOptions {
  config: KestrelConfig;
  /** The image's store locations (from the image records); the service binds it after start. */
  locationsOf: ImageLocations;
  logger?: Logger;
  hooks?: StorageTestHooks;
}

/** The Ceph connection of the image store: its own options, else the [libvirt] ones. */
function storeCeph(c: KestrelConfig): { cephConf?: string; user?: string; connectTimeoutSec: number } {
  return {
    cephConf: c.image_store.rbd_ceph_conf || c.libvirt.images_rbd_ceph_conf || undefined,
    user: c.image_store.rbd_user || c.libvirt.rbd_user || undefined,
    connectTimeoutSec: c.libvirt.rbd_connect_timeout,
  };
}

export function createImageStore(c: KestrelConfig, logger: Logger): ImageStore {
  if (c.image_store.backend === 'rbd') {
    return new RbdImageStore({ ...storeCeph(c), pool: c.image_store.rbd_pool, logger });
  }
  return new FileImageStore({ directory: join(c.DEFAULT.state_path, 'images'), logger });
}

/** The disk backend of [libvirt] images_type, from the options of that backend only. */
export function diskBackendFromConfig(
  c: KestrelConfig,
  logger: Logger,
  hooks: StorageTestHooks = {},
): DiskBackend {
  const local = {
    instancesPath: c.DEFAULT.instances_path,
    forceRawImages: c.DEFAULT.force_raw_images,
    preallocateImages: c.DEFAULT.preallocate_images,
    logger,
  };
  const kind = resolvedImagesType(c);
  switch (kind) {
    case 'qcow2':
      return createDiskBackend('qcow2', local);
    case 'flat':
      return createDiskBackend('flat', local);
    case 'lvm':
      return createDiskBackend('lvm', {
        volumeGroup: c.libvirt.images_volume_group ?? undefined,
        volumeClear: c.libvirt.volume_clear,
        volumeClearSizeMib: c.libvirt.volume_clear_size,
        lvmConfig: hooks.lvmConfig,
        devices: hooks.lvDevices,
        logger,
      });
    case 'rbd':
      return createDiskBackend('rbd', {
        pool: c.libvirt.images_rbd_pool,
        cephConf: c.libvirt.images_rbd_ceph_conf || undefined,
        user: c.libvirt.rbd_user || undefined,
        secretUuid: c.libvirt.rbd_secret_uuid || undefined,
        connectTimeoutSec: c.libvirt.rbd_connect_timeout,
        forceRawImages: c.DEFAULT.force_raw_images,
        neverDownloadImageIfOnRbd: c.workarounds.never_download_image_if_on_rbd,
        logger,
      });
  }
}

export function createStorage(o: StorageOptions): Storage {
  const c = o.config;
  const log = o.logger ?? silentLogger;
  const imagesType = resolvedImagesType(c);
  const imageStore = createImageStore(c, log);
  const fromStore = storeImageSource(imageStore);
  const backend = diskBackendFromConfig(c, log, o.hooks);
  // Direct download only helps a backend that needs a local base (rbd clones in Ceph instead).
  const cacheSource: ImageSource =
    c.glance.enable_rbd_download && backend.capabilities.usesLocalBase
      ? new RbdFirstImageSource(
          new RbdDirectDownload({
            ...rbdDownloadOptionsFromNova(
              {
                enable_rbd_download: true,
                rbd_user: c.glance.rbd_user,
                rbd_pool: c.glance.rbd_pool,
                rbd_ceph_conf: c.glance.rbd_ceph_conf,
                rbd_connect_timeout: c.glance.rbd_connect_timeout,
              },
              {
                rbd_user: c.libvirt.rbd_user,
                images_rbd_pool: c.libvirt.images_rbd_pool,
                images_rbd_ceph_conf: c.libvirt.images_rbd_ceph_conf,
                rbd_connect_timeout: c.libvirt.rbd_connect_timeout,
              },
            ),
            logger: log,
          }),
          o.locationsOf,
          fromStore,
        )
      : fromStore;
  const cache = new ImageCache({
    instancesPath: c.DEFAULT.instances_path,
    source: cacheSource,
    subdirectoryName: c.image_cache.subdirectory_name,
    forceRawImages: c.DEFAULT.force_raw_images,
    logger: log,
  });
  const disks = new BackendDisks(backend, cache, o.locationsOf, c.DEFAULT.default_ephemeral_format);
  return { imagesType, imageStore, cache, cacheSource, backend, disks };
}

/**
 * The ceph secret the libvirt driver defines when missing (images_type = rbd with
 * [libvirt] rbd_secret_uuid); undefined otherwise. The key is read only when it is needed.
 */
export function cephSecretFromConfig(c: KestrelConfig): CephSecretOptions | undefined {
  const uuid = c.libvirt.rbd_secret_uuid;
  if (resolvedImagesType(c) !== 'rbd' || !uuid) return undefined;
  const user = c.libvirt.rbd_user || 'admin';
  return {
    uuid,
    user,
    key: () => cephClientKey({ cephConf: c.libvirt.images_rbd_ceph_conf || undefined, user }),
  };
}
