// [image_cache]: the compute-side cache of base images under $instances_path/_base
// (nova/conf/imagecache.py). Several options used to live in [DEFAULT] or [libvirt].
import { bool, group, int, str } from './option.js';

export const imageCacheGroup = group(
  'image_cache',
  'The cache of base images on this host, and its cleanup.',
  {
    subdirectory_name: str({
      default: '_base',
      deprecatedNames: [{ group: 'DEFAULT', name: 'image_cache_subdirectory_name' }],
      check: (v) =>
        v === '' || v.includes('/') || v === '.' || v === '..'
          ? 'expected one directory name, e.g. _base'
          : null,
      help: 'Directory under instances_path that holds cached base images.',
      related: ['DEFAULT.instances_path'],
    }),
    manager_interval: int({
      default: 2400,
      min: -1,
      deprecatedNames: [{ group: 'DEFAULT', name: 'image_cache_manager_interval' }],
      help: 'Seconds between cache cleanups: 0 means every 60 s, -1 disables cleanup.',
    }),
    remove_unused_base_images: bool({
      default: true,
      deprecatedNames: [{ group: 'DEFAULT', name: 'remove_unused_base_images' }],
      help: 'Delete cached base images that no instance uses once they are old enough.',
    }),
    remove_unused_original_minimum_age_seconds: int({
      default: 86400,
      min: 0,
      deprecatedNames: [{ group: 'DEFAULT', name: 'remove_unused_original_minimum_age_seconds' }],
      help: 'Age (seconds since last use) before an unused original, swap or ephemeral base is deleted.',
    }),
    remove_unused_resized_minimum_age_seconds: int({
      default: 3600,
      min: 0,
      deprecatedNames: [{ group: 'libvirt', name: 'remove_unused_resized_minimum_age_seconds' }],
      help: 'Age (seconds since last use) before an unused resized base is deleted.',
    }),
    precache_concurrency: int({
      default: 1,
      min: 1,
      help: 'Images downloaded at once when an aggregate pre-caches images.',
    }),
  },
);
