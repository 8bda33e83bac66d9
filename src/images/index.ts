// The images area's public face, for the service (control/compute) and the CLI.
export * from './inspect/index.js';
export * from './errors.js';
export { FileImageStore, type FileImageStoreOptions } from './store/file.js';
export type { ImageStore, PutImageOptions, StoredImageFacts } from './store/store.js';
export {
  ImageCache,
  CachedBaseError,
  cacheFileName,
  storeImageSource,
  type ImageSource,
  type ImageCacheOptions,
  type EnsureOptions,
} from './cache.js';
export { ImageCacheManager, type ImageCacheManagerOptions, type CacheSweep } from './cache-manager.js';
export { withFileLock, LockBusyError } from './file-lock.js';
export {
  createDiskBackend,
  DISK_BACKEND_KINDS,
  FlatBackend,
  Qcow2Backend,
  type DiskBackendOptions,
  type DiskBackendKind,
  type DiskBackendCapabilities,
  type Qcow2BackendOptions,
  type LocalBackendOptions,
  type CreateDiskRequest,
  type CachedBase,
  type DiskBackend,
} from './backends/index.js';
export { DiskExistsError } from './backends/local.js';
export { writeQcow2Overlay } from './backends/qcow2-overlay.js';
export { qemuImgInfo, qemuImgConvert, QEMU_IMG_LIMITS, type QemuImgInfo } from './qemu-img.js';
