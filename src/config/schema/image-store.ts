// [image_store] (Kestrel's own group): where the Image v2 service this Kestrel serves keeps image
// data, and what its responses reveal about it. Glance's names are kept where Glance has one
// (rbd_store_pool → rbd_pool, show_image_direct_url, show_multiple_locations).
import { bool, choice, group, str } from './option.js';

export const imageStoreGroup = group(
  'image_store',
  "Where Kestrel's Image API keeps image data (a directory, or a Ceph RBD pool).",
  {
    backend: choice({
      default: 'file',
      choices: [
        { value: 'file', help: 'Files under $state_path/images.' },
        {
          value: 'rbd',
          help: 'RBD images in rbd_pool with a protected snapshot, so images_type = rbd clones instead of downloading.',
        },
      ],
      help: 'Where image data is stored.',
      related: ['image_store.rbd_pool', 'libvirt.images_type', 'glance.enable_rbd_download'],
    }),
    rbd_pool: str({
      default: 'images',
      help: "Ceph pool for image data with backend = rbd (Glance's rbd_store_pool).",
      related: ['image_store.backend'],
    }),
    rbd_ceph_conf: str({
      default: '',
      defaultDoc: 'empty ([libvirt] images_rbd_ceph_conf)',
      help: 'Path to ceph.conf for the image store.',
    }),
    rbd_user: str({
      default: '',
      defaultDoc: 'empty ([libvirt] rbd_user)',
      help: 'Ceph client id (without "client.") for the image store.',
    }),
    show_image_direct_url: bool({
      default: false,
      help: "Show the image data's location (file:// or rbd://) as direct_url in Image v2 responses. Compute hosts need it to clone or export images from Ceph; it reveals the store layout to users.",
      related: ['image_store.show_multiple_locations'],
    }),
    show_multiple_locations: bool({
      default: false,
      help: "Show the image's locations list (url and metadata) in Image v2 responses.",
    }),
  },
);
