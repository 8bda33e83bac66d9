// [DEFAULT]: paths, image handling and host resources (nova/conf/compute.py, paths.py).
import { hostname } from 'node:os';
import { bool, choice, float, group, int, multiDict, str } from './option.js';

export const defaultGroup = group(
  'DEFAULT',
  'Options outside any group: paths, image handling and host resources.',
  {
    compute_driver: choice({
      default: 'libvirt.LibvirtDriver',
      choices: [
        {
          value: 'libvirt.LibvirtDriver',
          help: 'The libvirt driver (KVM or QEMU), the only driver Kestrel implements.',
        },
      ],
      refused: {
        'fake.FakeDriver': 'Kestrel has no fake driver to select here (tests construct it directly)',
        'vmwareapi.VMwareVCDriver': 'Kestrel is the libvirt/KVM compute service only',
        'ironic.IronicDriver': 'Kestrel is the libvirt/KVM compute service only',
        'zvm.ZVMDriver': 'Kestrel is the libvirt/KVM compute service only',
        'hyperv.HyperVDriver': 'Kestrel is the libvirt/KVM compute service only',
        'powervm.PowerVMDriver': 'Kestrel is the libvirt/KVM compute service only',
      },
      help: 'Hypervisor driver. The guide sets compute_driver = libvirt.LibvirtDriver; it is the only value Kestrel accepts.',
      related: ['libvirt.virt_type'],
    }),
    host: str({
      default: hostname(),
      defaultDoc: "this machine's host name",
      help: 'Name of this compute host, as reported by the hypervisor and services APIs.',
    }),
    my_ip: str({
      default: '127.0.0.1',
      help: "This host's IP address, used for consoles and migration.",
    }),
    transport_url: str({
      default: null,
      secret: true,
      defaultDoc: 'unset (all-in-one: no message bus)',
      help: 'The NATS servers between the controller and the compute hosts: nats://user:password@host:4222, several servers comma-separated (nats://u:p@a:4222,u:p@b:4222), tls:// to require TLS. Needed by kestrel serve --role controller and --role compute.',
      related: ['DEFAULT.report_interval', 'database.connection'],
    }),
    report_interval: int({
      default: 10,
      min: 1,
      help: 'Seconds between the heartbeats each service sends (a compute host over transport_url).',
      related: ['DEFAULT.service_down_time'],
    }),
    service_down_time: int({
      default: 60,
      min: 1,
      help: 'Seconds without a heartbeat after which a service is reported down and the scheduler passes its host over. Keep it several times report_interval.',
      related: ['DEFAULT.report_interval'],
    }),
    state_path: str({
      default: '/var/lib/kestrel',
      help: "Top-level directory for Kestrel's state; other paths default to places under it ($state_path).",
      related: ['DEFAULT.instances_path', 'database.connection'],
    }),
    instances_path: str({
      default: '$state_path/instances',
      help: 'Where instance disks and the image cache (subdirectory image_cache.subdirectory_name) live.',
      related: ['DEFAULT.state_path', 'image_cache.subdirectory_name'],
    }),
    use_cow_images: bool({
      default: true,
      help: 'With [libvirt] images_type = default: true uses qcow2 overlays on cached bases, false uses flat copies.',
      related: ['libvirt.images_type'],
    }),
    force_raw_images: bool({
      default: true,
      help: 'Convert every downloaded non-raw image to raw in the image cache. Must stay true with [libvirt] images_type = rbd.',
      related: ['libvirt.images_type'],
    }),
    preallocate_images: choice({
      default: 'none',
      choices: [
        { value: 'none', help: 'Allocate disk space as the guest writes (sparse).' },
        { value: 'space', help: 'Reserve the whole disk with fallocate at creation and use io=native.' },
      ],
      help: 'Preallocation of instance disks on file backends (flat, qcow2).',
    }),
    default_ephemeral_format: choice({
      default: 'ext4',
      choices: [
        { value: 'ext4', help: 'ext4 (what Nova uses for Linux guests).' },
        { value: 'ext3', help: 'ext3.' },
        { value: 'ext2', help: 'ext2.' },
        { value: 'xfs', help: 'XFS (needs Debian xfsprogs on the compute host).' },
        { value: 'vfat', help: 'FAT (needs Debian dosfstools), readable by any guest.' },
      ],
      help: "Filesystem of the flavor's ephemeral disk (disk.local, the guest's second disk), labelled ephemeral0. Swap disks are made with mkswap.",
    }),
    resume_guests_state_on_host_boot: bool({
      default: false,
      help: 'At service start, bring guests that the database says were running back to running (by a hard reboot).',
    }),
    shelved_offload_time: int({
      default: 0,
      min: -1,
      help: 'Seconds before a shelved instance is offloaded from the host: 0 at once, -1 never.',
    }),
    reclaim_instance_interval: int({
      default: 0,
      help: 'Seconds a deleted server is kept SOFT_DELETED (restorable, its guest powered off) before it is really deleted; 0 or less deletes at once.',
    }),
    instance_name_template: str({
      default: 'instance-%08x',
      help: 'Template for libvirt domain names; %08x (or %d, %x) is replaced by the instance number.',
    }),
    cpu_allocation_ratio: float({
      default: 4.0,
      min: 0,
      defaultDoc: 'initial_cpu_allocation_ratio (4.0)',
      help: 'Virtual CPUs per physical CPU for scheduling. When unset, initial_cpu_allocation_ratio is used.',
      related: ['DEFAULT.initial_cpu_allocation_ratio'],
    }),
    ram_allocation_ratio: float({
      default: 1.0,
      min: 0,
      defaultDoc: 'initial_ram_allocation_ratio (1.0)',
      help: 'Virtual RAM per physical RAM for scheduling. Use 1.0 with AMD SEV (guest memory is pinned). When unset, initial_ram_allocation_ratio is used.',
      related: ['DEFAULT.initial_ram_allocation_ratio'],
    }),
    disk_allocation_ratio: float({
      default: 1.0,
      min: 0,
      defaultDoc: 'initial_disk_allocation_ratio (1.0)',
      help: 'Virtual disk per physical disk for scheduling. When unset, initial_disk_allocation_ratio is used.',
      related: ['DEFAULT.initial_disk_allocation_ratio'],
    }),
    initial_cpu_allocation_ratio: float({
      default: 4.0,
      min: 0,
      help: 'The CPU allocation ratio when cpu_allocation_ratio is not set.',
    }),
    initial_ram_allocation_ratio: float({
      default: 1.0,
      min: 0,
      help: 'The RAM allocation ratio when ram_allocation_ratio is not set.',
    }),
    initial_disk_allocation_ratio: float({
      default: 1.0,
      min: 0,
      help: 'The disk allocation ratio when disk_allocation_ratio is not set.',
    }),
    reserved_host_memory_mb: int({
      default: 512,
      min: 0,
      help: 'Memory (MiB) kept for the host, not offered to guests.',
    }),
    reserved_host_disk_mb: int({
      default: 0,
      min: 0,
      help: 'Disk (MiB) kept for the host, not offered to guests.',
    }),
    reserved_host_cpus: int({
      default: 0,
      min: 0,
      help: 'Physical CPUs kept for the host, not offered to guests.',
    }),
    reserved_huge_pages: multiDict({
      default: [],
      check: (d) => {
        const keys = Object.keys(d).sort().join(',');
        if (keys !== 'count,node,size')
          return 'expected exactly node, size and count, e.g. node:0,size:2048,count:64';
        if (!/^\d+$/.test(d.node) || !/^\d+$/.test(d.count)) return 'node and count must be whole numbers';
        if (!/^\d+\s*([kKmMgG]i?[bB]?)?$/.test(d.size))
          return 'size is the page size in KiB (2048) or with a unit (2MB, 1GB)';
        return null;
      },
      help: 'Huge pages kept for the host, one line per NUMA node and page size, e.g. reserved_huge_pages = node:0,size:2048,count:64 (repeat the key for more).',
    }),
    sync_power_state_interval: int({
      default: 600,
      help: "Seconds between syncs of the database's power states with the hypervisor's; negative disables.",
    }),
    sync_power_state_pool_size: int({
      default: 5,
      min: 1,
      help: 'How many instances are synced at once during a power-state sync.',
    }),
    force_config_drive: bool({
      default: true,
      help:
        "Give every guest a config drive, asked for or not. Kestrel's default is true (Nova's is false): " +
        'the drive carries the SSH key, user data and host name with no network path to a metadata ' +
        'service, so a cloud image is never left without its key. false: only servers created with ' +
        '--config-drive true (or from an image with img_config_drive=mandatory) get one.',
      related: ['DEFAULT.config_drive_format'],
    }),
    config_drive_format: choice({
      default: 'iso9660',
      choices: [
        {
          value: 'iso9660',
          help: 'An ISO 9660 image labelled config-2, attached as a cdrom (what cloud-init expects first).',
        },
        {
          value: 'vfat',
          help:
            "A 64 MiB VFAT image labelled config-2, attached as a read-only disk on the root disk's bus " +
            "(virtio): for q35 guests whose kernel has no AHCI (SATA) driver, such as Debian's cloud kernel.",
        },
      ],
      help: 'Filesystem of the config drive.',
      related: ['DEFAULT.force_config_drive', 'DEFAULT.mkisofs_cmd'],
    }),
    mkisofs_cmd: str({
      default: 'genisoimage',
      help: "The ISO 9660 builder for config drives; it must take genisoimage's flags (xorriso's mkisofs does).",
      related: ['DEFAULT.config_drive_format'],
    }),
    debug: bool({ default: false, help: 'Log at debug level.' }),
    log_format: choice({
      default: 'auto',
      choices: [
        {
          value: 'auto',
          help: 'Readable lines on a terminal, JSON lines when the log goes to a file or a pipe.',
        },
        { value: 'text', help: 'Readable lines (time, level, message, fields) always.' },
        {
          value: 'json',
          help: "JSON lines always (pino's format, one object per line), for log collectors.",
        },
      ],
      help: 'How kestrel serve writes its log on standard error.',
    }),
  },
);
