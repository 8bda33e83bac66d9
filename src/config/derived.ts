// Values other areas need that follow from several options, computed in one place so that
// every caller applies Nova's rules the same way.
import type { KestrelConfig } from './schema/index.js';

/** The disk backend images_type selects: `default` is qcow2 with use_cow_images, else flat. */
export function resolvedImagesType(config: KestrelConfig): 'flat' | 'qcow2' | 'lvm' | 'rbd' {
  const t = config.libvirt.images_type;
  if (t === 'default') return config.DEFAULT.use_cow_images ? 'qcow2' : 'flat';
  return t;
}

/** The catalog URLs of the APIs (identity with /v3, compute with /v2.1, image and network unversioned). */
export function apiEndpoints(config: KestrelConfig): {
  identity: string;
  compute: string;
  image: string;
  network: string;
} {
  const api = config.api;
  const wildcard = api.listen_host === '0.0.0.0' || api.listen_host === '::' || api.listen_host === '';
  let host = api.public_host ?? (wildcard ? '127.0.0.1' : api.listen_host);
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return {
    identity: `http://${host}:${api.identity_port}/v3`,
    compute: `http://${host}:${api.compute_port}/v2.1`,
    image: `http://${host}:${api.image_port}`,
    network: `http://${host}:${api.network_port}`,
  };
}
