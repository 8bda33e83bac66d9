// Validation of flavor extra specs and image properties that Kestrel interprets, so that a
// typo is a 400 when the flavor or image is written, not a failed boot later.
import { badRequest } from '../errors/index.js';
import { osloBool } from '../rules/boolean.js';
import { parsePageSize } from '../virt/numa/request.js';

/** oslo's strict boolean parsing (oslo_utils.strutils.bool_from_string(strict=True)). */
export function parseOsloBool(v: string): boolean {
  const b = osloBool(v);
  if (b === undefined)
    throw badRequest(`"${v}" is not a boolean. Use one of true/false, yes/no, on/off, 1/0.`);
  return b;
}

const isOsloBool = (v: string) => osloBool(v) !== undefined;
const TRAIT_NAME = /^[A-Z0-9_]{1,255}$/;
const RESOURCE_CLASS = /^[A-Z0-9_]{1,255}$/;

type Check = (v: string) => string | undefined; // an error text, or undefined

const bool: Check = (v) =>
  isOsloBool(v) ? undefined : 'must be a boolean (true/false, yes/no, on/off, 1/0)';
const positiveInt: Check = (v) => (/^[1-9][0-9]{0,5}$/.test(v) ? undefined : 'must be a whole number ≥ 1');
const oneOf =
  (...choices: string[]): Check =>
  (v) =>
    choices.includes(v) ? undefined : `must be one of ${choices.join(', ')}`;
const cpuSet: Check = (v) =>
  /^\^?[0-9]+(-[0-9]+)?(,\^?[0-9]+(-[0-9]+)?)*$/.test(v) ? undefined : 'must be a CPU set such as 0-1,^0';

/** hw:cpu_* extra specs (Nova's hw namespace) and their checks. */
const FLAVOR_CPU: Record<string, Check> = {
  'hw:cpu_policy': oneOf('shared', 'dedicated', 'mixed'),
  'hw:cpu_thread_policy': oneOf('prefer', 'isolate', 'require'),
  'hw:cpu_sockets': positiveInt,
  'hw:cpu_cores': positiveInt,
  'hw:cpu_threads': positiveInt,
  'hw:cpu_max_sockets': positiveInt,
  'hw:cpu_max_cores': positiveInt,
  'hw:cpu_max_threads': positiveInt,
  'hw:cpu_realtime': bool,
  'hw:cpu_realtime_mask': cpuSet,
  'hw:cpu_dedicated_mask': cpuSet,
  'hw:cpu_emulator_threads': oneOf('share', 'isolate'),
};

const IMAGE_CPU: Record<string, Check> = {
  hw_cpu_policy: FLAVOR_CPU['hw:cpu_policy'],
  hw_cpu_thread_policy: FLAVOR_CPU['hw:cpu_thread_policy'],
  hw_cpu_sockets: positiveInt,
  hw_cpu_cores: positiveInt,
  hw_cpu_threads: positiveInt,
  hw_cpu_max_sockets: positiveInt,
  hw_cpu_max_cores: positiveInt,
  hw_cpu_max_threads: positiveInt,
  hw_cpu_realtime_mask: cpuSet,
};

const IMAGE_HW: Record<string, Check> = {
  hw_mem_encryption: bool,
  hw_firmware_type: oneOf('bios', 'uefi'),
  hw_machine_type: (v) =>
    /^[a-z0-9._-]{1,64}$/i.test(v) ? undefined : 'must be a machine type such as q35 or pc',
  hw_disk_bus: oneOf('virtio', 'scsi', 'sata', 'ide', 'usb', 'fdc'),
  hw_scsi_model: oneOf('virtio-scsi', 'lsilogic', 'lsisas1068', 'buslogic', 'vmpvscsi'),
  hw_qemu_guest_agent: bool,
  hw_video_model: oneOf('vga', 'cirrus', 'vmvga', 'qxl', 'virtio', 'gop', 'none', 'bochs'),
  hw_vif_model: oneOf('virtio', 'e1000', 'e1000e', 'rtl8139', 'ne2k_pci', 'pcnet'),
  hw_serial_port_count: positiveInt,
  os_secure_boot: oneOf('required', 'disabled', 'optional'),
  os_shutdown_timeout: (v) => (/^[0-9]{1,5}$/.test(v) ? undefined : 'must be a whole number of seconds'),
};

const pageSize: Check = (v) => {
  try {
    parsePageSize(v, 'page size');
    return undefined;
  } catch {
    return 'must be small, large, any, or a page size such as 2048 (KiB), 2MB or 1GB';
  }
};
const megabytes: Check = (v) =>
  /^[1-9][0-9]{0,8}$/.test(v) ? undefined : 'must be a whole number of MB ≥ 1';

/**
 * The check for a guest NUMA key (hw:numa_nodes, hw:numa_cpus.N, hw:numa_mem.N,
 * hw:mem_page_size, or the image's hw_* spelling), or undefined for other keys. Values only:
 * whether the cells add up is checked with the flavor and image together at boot.
 */
function numaCheck(key: string, sep: ':' | '_'): Check | undefined {
  const p = `hw${sep}`;
  if (key === `${p}numa_nodes`) return positiveInt;
  if (key === `${p}mem_page_size`) return pageSize;
  if (key.startsWith(`${p}numa_cpus.`) || key.startsWith(`${p}numa_mem.`)) {
    if (!/\.[0-9]{1,3}$/.test(key)) return () => `the node number after the dot must be 0, 1, …`;
    return key.startsWith(`${p}numa_cpus.`) ? cpuSet : megabytes;
  }
  return undefined;
}

function checkTrait(key: string, value: string, what: string): void {
  const name = key.slice('trait:'.length);
  if (!TRAIT_NAME.test(name)) {
    throw badRequest(
      `${what} ${key}: trait names are upper-case letters, digits and _ (e.g. trait:HW_CPU_X86_AVX2).`,
    );
  }
  if (value !== 'required' && value !== 'forbidden') {
    throw badRequest(`${what} ${key}=${value}: the value must be "required" or "forbidden".`);
  }
}

/** Validates one flavor extra spec; throws a 400 that names the key and the accepted values. */
export function validateExtraSpec(key: string, value: string): void {
  if (key.length === 0 || key.length > 255) throw badRequest('extra spec keys are 1 to 255 characters.');
  if (value.length > 255) throw badRequest(`extra spec ${key}: values are at most 255 characters.`);
  if (key.startsWith('trait:')) return checkTrait(key, value, 'extra spec');
  if (key === 'hw:mem_encryption') {
    if (!isOsloBool(value)) throw badRequest(`extra spec hw:mem_encryption=${value}: ${bool(value)}.`);
    return;
  }
  const numa = numaCheck(key, ':');
  if (numa) {
    const err = numa(value);
    if (err) throw badRequest(`extra spec ${key}=${value}: ${err}.`);
    return;
  }
  if (key.startsWith('hw:cpu_')) {
    const check = FLAVOR_CPU[key];
    if (!check) {
      throw badRequest(
        `extra spec ${key} is not a known CPU option; known: ${Object.keys(FLAVOR_CPU).join(', ')}.`,
      );
    }
    const err = check(value);
    if (err) throw badRequest(`extra spec ${key}=${value}: ${err}.`);
    return;
  }
  if (key.startsWith('resources:')) {
    const rc = key.slice('resources:'.length);
    if (!RESOURCE_CLASS.test(rc))
      throw badRequest(`extra spec ${key}: resource classes are upper-case (e.g. resources:VCPU).`);
    if (!/^[0-9]{1,9}$/.test(value))
      throw badRequest(`extra spec ${key}=${value}: the amount must be a whole number ≥ 0.`);
  }
}

/** Validates the image properties Kestrel interprets (hw_*, os_secure_boot, trait:*). */
export function validateImageProperty(key: string, value: string): void {
  if (key.startsWith('trait:')) return checkTrait(key, value, 'image property');
  const check = IMAGE_HW[key] ?? IMAGE_CPU[key] ?? numaCheck(key, '_');
  if (check) {
    const err = check(value);
    if (err) throw badRequest(`image property ${key}=${value}: ${err}.`);
    return;
  }
  if (key.startsWith('hw_cpu_')) {
    throw badRequest(
      `image property ${key} is not a known CPU option; known: ${Object.keys(IMAGE_CPU).join(', ')}.`,
    );
  }
}
