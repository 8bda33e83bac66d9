// CPU virtualisation support, as the guide's "Enable KVM" section checks it:
// x86: `grep -E 'svm|vmx' /proc/cpuinfo`; POWER: `cat /proc/cpuinfo | grep PowerNV`.
import { readHostFile } from './host-files.js';
import { check, type Check, type HostArch } from './types.js';

export interface CpuFlags {
  arch: HostArch;
  /** x86 vendor_id (GenuineIntel, AuthenticAMD), POWER `cpu` line, else undefined. */
  vendor?: string;
  /** x86 only: vmx (Intel VT-x) present in the flags. */
  vmx: boolean;
  /** x86 only: svm (AMD-V) present in the flags. */
  svm: boolean;
  /** POWER only: the `platform` line, e.g. "PowerNV" or "pSeries". */
  platform?: string;
  /** x86 only: the CPU says it runs under a hypervisor (the `hypervisor` flag). */
  underHypervisor: boolean;
  /** false when /proc/cpuinfo could not be read. */
  readable: boolean;
}

/** Parses the text of /proc/cpuinfo. */
export function parseCpuInfo(text: string): CpuFlags {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    // The first processor's block describes them all; keep the first value of each key.
    if (!fields.has(key)) fields.set(key, line.slice(i + 1).trim());
  }
  const flags = new Set((fields.get('flags') ?? '').split(/\s+/).filter(Boolean));
  const platform = fields.get('platform');
  let arch: HostArch = 'other';
  if (fields.has('flags') || fields.has('vendor_id')) arch = 'x86';
  else if (platform !== undefined || /power/i.test(fields.get('cpu') ?? '')) arch = 'power';
  return {
    arch,
    vendor: arch === 'x86' ? fields.get('vendor_id') : arch === 'power' ? fields.get('cpu') : undefined,
    vmx: flags.has('vmx'),
    svm: flags.has('svm'),
    platform,
    underHypervisor: flags.has('hypervisor'),
    readable: true,
  };
}

export async function readCpuFlags(hostRoot = '/'): Promise<CpuFlags> {
  const text = await readHostFile(hostRoot, '/proc/cpuinfo');
  if (text === undefined) {
    return { arch: 'other', vmx: false, svm: false, underHypervisor: false, readable: false };
  }
  return parseCpuInfo(text);
}

const BIOS_HINT =
  'Consult your system documentation to ensure that your CPU and motherboard support hardware ' +
  'virtualization, and verify that the hardware virtualization options are enabled in the system BIOS: ' +
  'reboot, enter the BIOS and enable the option containing the words virtualization, VT, VMX or SVM. ' +
  'If KVM acceleration is not supported, configure Compute to use a different hypervisor, such as QEMU ' +
  '([libvirt] virt_type = qemu).';

/** The guide's CPU check for the host's architecture. */
export function checkCpu(cpu: CpuFlags): Check {
  if (!cpu.readable) {
    return check(
      'cpu.virt-extensions',
      'CPU virtualization extensions',
      'fail',
      '/proc/cpuinfo could not be read',
      'Run the doctor on the compute host itself, as root, with /proc mounted.',
    );
  }
  if (cpu.arch === 'x86') {
    const ext = [cpu.vmx ? 'vmx (Intel VT-x)' : '', cpu.svm ? 'svm (AMD-V)' : ''].filter(Boolean);
    if (ext.length > 0) {
      return check(
        'cpu.virt-extensions',
        'CPU virtualization extensions',
        'pass',
        `${cpu.vendor ?? 'x86'}: ${ext.join(', ')} in /proc/cpuinfo`,
      );
    }
    const inVm = cpu.underHypervisor ? ' (the CPU reports it runs under a hypervisor)' : '';
    return check(
      'cpu.virt-extensions',
      'CPU virtualization extensions',
      'warn',
      `${cpu.vendor ?? 'x86'}: neither vmx nor svm in /proc/cpuinfo${inVm}`,
      BIOS_HINT,
    );
  }
  if (cpu.arch === 'power') {
    if (cpu.platform === 'PowerNV') {
      return check('cpu.powernv', 'POWER platform', 'pass', 'platform: PowerNV in /proc/cpuinfo');
    }
    return check(
      'cpu.powernv',
      'POWER platform',
      'warn',
      `platform: ${cpu.platform ?? '(none)'} in /proc/cpuinfo; KVM needs platform: PowerNV`,
      "KVM as a hypervisor is supported on POWER system's PowerNV platform only; this POWER platform " +
        'does not support KVM based hardware virtualization. Use [libvirt] virt_type = qemu, or find a ' +
        'PowerNV system.',
    );
  }
  return check(
    'cpu.virt-extensions',
    'CPU virtualization extensions',
    'warn',
    'neither an x86 nor a POWER CPU in /proc/cpuinfo',
    'KVM checks are written for x86 and POWER hosts; use [libvirt] virt_type = qemu.',
  );
}
