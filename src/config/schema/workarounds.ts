// [workarounds]: switches for known problems (nova/conf/workarounds.py).
import { bool, group } from './option.js';

export const workaroundsGroup = group(
  'workarounds',
  'Switches that work around known problems; leave them at their defaults unless a problem calls for one.',
  {
    reserve_disk_resource_for_image_cache: bool({
      default: false,
      help: "Count the image cache's disk usage as reserved DISK_GB, so the scheduler does not overcommit the disk.",
    }),
    never_download_image_if_on_rbd: bool({
      default: false,
      help: 'With images_type = rbd, fail instead of downloading an image that cannot be cloned in Ceph.',
      related: ['libvirt.images_type'],
    }),
    disable_deep_image_inspection: bool({
      default: false,
      help: 'Skip the format-inspector safety checks on images. Dangerous: hostile images can read host files.',
    }),
    skip_cpu_compare_at_startup: bool({
      default: false,
      help: 'Do not compare cpu_models and extra flags with the host CPU at start.',
    }),
    skip_cpu_compare_on_dest: bool({
      default: false,
      help: 'Do not compare the guest CPU with the destination host during live migration.',
    }),
    allow_nested_suspend: bool({
      default: false,
      help:
        'Kestrel option. Allow suspend and live migration of instances whose CPU exposes vmx/svm. KVM cannot ' +
        'save a nested guest reliably, so these are refused by default (Nova lets them fail inside QEMU).',
    }),
    handle_virt_lifecycle_events: bool({
      default: true,
      help: 'Update power states from libvirt lifecycle events (not only the periodic sync).',
    }),
  },
);
