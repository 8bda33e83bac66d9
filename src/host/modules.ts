// The kvm kernel modules, as the guide checks them with `lsmod | grep kvm`. lsmod reads
// /proc/modules; modules built into the kernel appear only under /sys/module (with no
// `initstate` file), so both are read.
import { listHostDir, readHostFile } from './host-files.js';
import type { CpuFlags } from './cpu.js';
import { check, type Check } from './types.js';

export interface KvmModule {
  name: string;
  /** loaded: a loadable module that is live; builtin: compiled into the kernel. */
  state: 'loaded' | 'builtin';
}

/** The hardware-virtualisation modules the guide names, per CPU kind. */
export const HARDWARE_KVM_MODULES = ['kvm_intel', 'kvm_amd', 'kvm_hv'] as const;

/** Every module whose name starts with kvm, sorted by name. */
export async function readKvmModules(hostRoot = '/'): Promise<KvmModule[]> {
  const found = new Map<string, KvmModule>();
  const procModules = await readHostFile(hostRoot, '/proc/modules');
  for (const line of (procModules ?? '').split('\n')) {
    const name = line.split(/\s+/)[0];
    if (name && /^kvm(_|$)/.test(name)) found.set(name, { name, state: 'loaded' });
  }
  for (const name of (await listHostDir(hostRoot, '/sys/module')) ?? []) {
    if (!/^kvm(_|$)/.test(name) || found.has(name)) continue;
    const initstate = await readHostFile(hostRoot, `/sys/module/${name}/initstate`);
    if (initstate === undefined) found.set(name, { name, state: 'builtin' });
    else if (initstate.trim() === 'live') found.set(name, { name, state: 'loaded' });
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The hardware module this CPU needs (kvm_intel, kvm_amd, kvm_hv), or undefined when unknown. */
export function expectedHardwareModule(cpu: CpuFlags): string | undefined {
  if (cpu.arch === 'power') return 'kvm_hv';
  if (cpu.arch !== 'x86') return undefined;
  if (cpu.vmx || cpu.vendor === 'GenuineIntel') return 'kvm_intel';
  if (cpu.svm || cpu.vendor === 'AuthenticAMD' || cpu.vendor === 'HygonGenuine') return 'kvm_amd';
  return undefined;
}

/** The guide's commands that load the modules and the /etc/modules lines that persist them. */
export function moduleFix(hwModule: string | undefined): string {
  const variants = hwModule ? [hwModule] : ['kvm_intel', 'kvm_amd'];
  const parts = variants.map((m) => {
    const dashed = m.replace(/_/g, '-');
    const cpu = m === 'kvm_intel' ? 'Intel' : m === 'kvm_amd' ? 'AMD' : 'PowerNV';
    return (
      `For ${cpu}, run as root: modprobe kvm && modprobe ${dashed}; add these lines to the ` +
      `/etc/modules file so that these modules load on reboot: "kvm" and "${dashed}".`
    );
  });
  return (
    parts.join(' ') +
    ' Because a KVM installation can change user group membership, you might need to log in again ' +
    'for changes to take effect.'
  );
}

export function checkKvmModules(modules: KvmModule[], cpu: CpuFlags): Check {
  const title = 'kvm kernel modules';
  const list = modules.length
    ? modules.map((m) => (m.state === 'builtin' ? `${m.name} (built in)` : m.name)).join(', ')
    : 'no kvm modules';
  const names = new Set(modules.map((m) => m.name));
  const expected = expectedHardwareModule(cpu);
  const hardware = HARDWARE_KVM_MODULES.filter((m) => names.has(m));
  const fix = moduleFix(expected);
  if (!names.has('kvm')) {
    return check(
      'kvm.modules',
      title,
      'warn',
      `${list} in /proc/modules or /sys/module`,
      `The kvm module is not loaded (libvirt then fails with "no supported architecture for os type 'hvm'"). ${fix}`,
    );
  }
  if (hardware.length > 0) {
    return check('kvm.modules', title, 'pass', list);
  }
  const others = modules.filter((m) => m.name !== 'kvm').map((m) => m.name);
  const via = others.length
    ? `; KVM is provided by ${others.join(', ')}, which the guide does not cover`
    : '';
  return check(
    'kvm.modules',
    title,
    'warn',
    `${list}: no ${expected ?? 'kvm_intel/kvm_amd/kvm_hv'}${via}`,
    `${fix} Whether this KVM runs ordinary guests is decided by the functional KVM probe.`,
  );
}
