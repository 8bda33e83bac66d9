// [glance]: how this compute host reaches the Image service, and direct RBD download
// (nova/conf/glance.py). An empty rbd_* value falls back to the [libvirt] equivalent.
import { bool, group, int, list, str } from './option.js';

export const glanceGroup = group(
  'glance',
  'The Image service as seen from the compute host, including direct download from Ceph.',
  {
    api_servers: list({
      default: [],
      defaultDoc: "empty (Kestrel's own Image API)",
      help: 'Image API endpoints, e.g. http://controller:9292; empty means the Image API this Kestrel serves.',
    }),
    num_retries: int({ default: 3, min: 0, help: 'Retries of a failed image download.' }),
    verify_glance_signatures: bool({ default: false, help: 'Verify image signatures before use.' }),
    enable_rbd_download: bool({
      default: false,
      help: 'Download images stored in Ceph with `rbd export` instead of over HTTP. Only useful when [libvirt] images_type is not rbd.',
      related: ['libvirt.images_type', 'glance.rbd_pool', 'glance.rbd_user', 'glance.rbd_ceph_conf'],
    }),
    rbd_user: str({
      default: '',
      defaultDoc: 'empty ([libvirt] rbd_user)',
      help: 'Ceph client id for direct download.',
    }),
    rbd_connect_timeout: int({
      default: 5,
      min: 1,
      help: 'Seconds to wait for the Ceph cluster when connecting.',
    }),
    rbd_pool: str({
      default: '',
      defaultDoc: 'empty ([libvirt] images_rbd_pool)',
      help: 'Default pool for the connection (the pool in the image location URL is the one exported).',
    }),
    rbd_ceph_conf: str({
      default: '',
      defaultDoc: 'empty ([libvirt] images_rbd_ceph_conf)',
      help: 'Path to ceph.conf for direct download.',
    }),
  },
);
