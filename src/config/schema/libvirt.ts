// [libvirt]: the hypervisor, CPU model, machine type and instance disk backends
// (nova/conf/libvirt.py, as the KVM guide uses it).
import { archMap, bool, choice, group, int, list, str } from './option.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CPU_FLAG = /^[+-]?[a-z0-9][a-z0-9_.-]*$/;
const ONLY_KVM =
  'Kestrel supports only the kvm and qemu virt_types (KVM acceleration, or QEMU emulation where KVM is unusable)';

export const libvirtGroup = group(
  'libvirt',
  'The libvirt driver: hypervisor type, guest CPU, machine type and instance disks.',
  {
    virt_type: choice({
      default: 'auto',
      choices: [
        {
          value: 'auto',
          help: "Kestrel's default: `kestrel doctor` runs a probe guest and uses kvm when it really works, qemu otherwise.",
        },
        { value: 'kvm', help: 'Hardware-accelerated guests through /dev/kvm (the guide: virt_type = kvm).' },
        { value: 'qemu', help: 'Software emulation (QEMU TCG): slow, but works without KVM.' },
      ],
      refused: { xen: ONLY_KVM, lxc: ONLY_KVM, uml: ONLY_KVM, parallels: ONLY_KVM },
      help: 'Which libvirt domain type guests use. Nova never falls back from kvm to qemu by itself; with auto, Kestrel decides once by a functional probe.',
      related: ['libvirt.cpu_mode', 'DEFAULT.compute_driver'],
    }),
    connection_uri: str({
      default: '',
      defaultDoc: 'empty (qemu:///system)',
      help: 'libvirt URI to connect to; empty means qemu:///system.',
    }),
    cpu_mode: choice({
      default: null,
      choices: [
        {
          value: 'host-model',
          help: "The named CPU model closest to the host's, plus flags to complete the match (the default for kvm and qemu).",
        },
        {
          value: 'host-passthrough',
          help: 'The host CPU exactly: fastest, but live migration needs identical hosts.',
        },
        { value: 'custom', help: 'The first model of cpu_models that provides the requested traits.' },
        { value: 'none', help: "No CPU model: the hypervisor's default (qemu64)." },
      ],
      defaultDoc: 'unset (host-model; host-passthrough on AArch64)',
      help: 'CPU model exposed to guests.',
      related: ['libvirt.cpu_models', 'libvirt.cpu_model_extra_flags'],
    }),
    cpu_models: list({
      default: [],
      deprecatedNames: [{ name: 'cpu_model' }],
      help: 'With cpu_mode = custom: the CPU models to choose from, oldest first, e.g. Penryn,IvyBridge,Haswell. Names as in /usr/share/libvirt/cpu_map/.',
      related: ['libvirt.cpu_mode'],
    }),
    cpu_model_extra_flags: list({
      default: [],
      lowercase: true,
      item: (v) =>
        CPU_FLAG.test(v)
          ? null
          : 'a CPU flag name such as pcid or vmx, optionally prefixed with + (require) or - (disable)',
      help: 'CPU flags added to every mode, e.g. vmx for nested guests or pcid; +flag requires, -flag disables. Lowercased.',
      related: ['libvirt.cpu_mode'],
    }),
    hw_machine_type: archMap({
      default: {},
      defaultDoc:
        'unset (x86_64 and i686: pc; aarch64, armv7l: virt; ppc64le: pseries; s390x: s390-ccw-virtio)',
      help: 'Default machine type per guest architecture, as arch=type items, e.g. x86_64=q35,armv7l=virt. AMD SEV needs x86_64=q35.',
      related: ['libvirt.num_memory_encrypted_guests'],
    }),
    num_memory_encrypted_guests: int({
      default: null,
      min: 0,
      defaultDoc: 'unset (no limit)',
      help: 'How many AMD SEV guests this host may run at once (memory-encryption key slots, e.g. 15 on first-generation EPYC); 0 disables SEV here.',
      related: ['libvirt.hw_machine_type'],
    }),
    images_type: choice({
      default: 'default',
      choices: [
        { value: 'default', help: 'qcow2 when use_cow_images is true, flat otherwise.' },
        {
          value: 'flat',
          help: 'A full copy of the image per instance disk (raw unless force_raw_images is false and the image is qcow2).',
        },
        { value: 'qcow2', help: 'A copy-on-write qcow2 overlay on the cached base image.' },
        { value: 'lvm', help: 'A logical volume in images_volume_group per disk.' },
        {
          value: 'rbd',
          help: 'An RBD image in the Ceph pool images_rbd_pool per disk (cloned from Glance when possible).',
        },
      ],
      aliases: { raw: 'flat' },
      refused: { ploop: 'ploop is for Virtuozzo containers, which Kestrel does not support' },
      help: 'Backing storage of instance disks. raw is accepted as a deprecated alias of flat.',
      related: [
        'DEFAULT.use_cow_images',
        'DEFAULT.force_raw_images',
        'libvirt.images_volume_group',
        'libvirt.images_rbd_pool',
      ],
    }),
    images_volume_group: str({
      default: null,
      help: 'LVM volume group for instance disks; required with images_type = lvm.',
      related: ['libvirt.images_type'],
    }),
    sparse_logical_volumes: bool({
      default: false,
      deprecatedReason: 'deprecated since Nova 18.0.0; sparse LVs can run out of space under the guest',
      help: 'Create thin (sparse) logical volumes with images_type = lvm.',
    }),
    volume_clear: choice({
      default: 'zero',
      choices: [
        { value: 'zero', help: 'Overwrite with zeros.' },
        { value: 'shred', help: 'Overwrite several times with random data.' },
        { value: 'none', help: 'Do not clear.' },
      ],
      help: 'How a deleted instance LVM volume is wiped (images_type = lvm only).',
      related: ['libvirt.volume_clear_size'],
    }),
    volume_clear_size: int({
      default: 0,
      min: 0,
      help: 'MiB to wipe at the start of a deleted volume; 0 wipes it all.',
      related: ['libvirt.volume_clear'],
    }),
    images_rbd_pool: str({
      default: 'rbd',
      help: 'Ceph pool for instance disks with images_type = rbd.',
      related: ['libvirt.images_type'],
    }),
    images_rbd_ceph_conf: str({
      default: '',
      defaultDoc: "empty (Ceph's default /etc/ceph/ceph.conf)",
      help: 'Path to ceph.conf for instance disks.',
    }),
    images_rbd_glance_store_name: str({
      default: '',
      help: 'Glance store to copy an image into when it is not in the instance pool, so it can be cloned instead of downloaded.',
    }),
    images_rbd_glance_copy_poll_interval: int({
      default: 15,
      min: 1,
      help: 'Seconds between polls while Glance copies an image into images_rbd_glance_store_name.',
    }),
    images_rbd_glance_copy_timeout: int({ default: 600, min: 1, help: 'Seconds to wait for that copy.' }),
    rbd_user: str({ default: null, help: 'Ceph client id (without "client.") for RBD disks and volumes.' }),
    rbd_secret_uuid: str({
      default: null,
      check: (v) =>
        UUID.test(v)
          ? null
          : 'expected the UUID of a libvirt secret holding the Ceph key, e.g. 457eb676-33da-42ec-9a8c-9293d545c337',
      help: 'UUID of the libvirt secret with the key of rbd_user.',
      related: ['libvirt.rbd_user'],
    }),
    rbd_connect_timeout: int({
      default: 5,
      min: 1,
      help: 'Seconds to wait for the Ceph cluster when connecting.',
    }),
    hw_disk_discard: choice({
      default: null,
      choices: [
        { value: 'ignore', help: 'Ignore guest discard (TRIM) requests.' },
        { value: 'unmap', help: 'Pass discard requests to the backing storage.' },
      ],
      help: 'Discard (TRIM) handling for instance disks.',
    }),
    images_cpu_time_limit: int({
      default: 30,
      min: 1,
      help: 'CPU seconds allowed to one qemu-img run on an untrusted image.',
    }),
    images_address_space_limit: int({
      default: 2,
      min: 1,
      help: 'Address space (GiB) allowed to one qemu-img run on an untrusted image.',
    }),
    live_migration_tunnelled: bool({
      default: false,
      help: 'Tunnel live migration through the libvirtd connection.',
      related: ['libvirt.live_migration_with_native_tls'],
    }),
    live_migration_with_native_tls: bool({
      default: false,
      help: "Use QEMU's native TLS for live migration (cannot be combined with live_migration_tunnelled).",
      related: ['libvirt.live_migration_tunnelled'],
    }),
  },
);
