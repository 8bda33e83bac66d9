// Which [libvirt] virt_type Kestrel uses. Nova has no fallback (the operator
// sets virt_type=qemu by hand); Kestrel adds 'auto', decided by running a guest, not by flags.
import { check, type Check, type VirtTypeDecision, type VirtTypeSetting } from './types.js';

export interface KvmEvidence {
  /** true/false: the functional probe ran a guest / did not; undefined: the probe was not run. */
  probeOk: boolean | undefined;
  /** What the probe saw (or why it was not run). */
  probeDetail: string;
  /** Static checks: kvm module, /dev/kvm and the CPU extensions (or PowerNV) are all present. */
  staticReady: boolean;
  /** What the static checks miss, when not ready. */
  staticDetail: string;
}

/** The guide's troubleshooting, for a host told to use kvm that cannot. */
export const KVM_TROUBLESHOOTING =
  'virt_type = kvm needs working KVM: libvirt fails with "internal error no supported architecture for os type \'hvm\'" ' +
  'when the KVM kernel modules are not loaded (modprobe kvm, then modprobe kvm-intel or kvm-amd, or kvm-hv ' +
  'on POWER). If the hardware virtualization support or kernel modules are disabled or unavailable, you must ' +
  'either enable this support on the system (the VT/VMX/SVM option in the BIOS) or find a system with this ' +
  'support. If KVM acceleration is not supported, configure Compute to use a different hypervisor, such as ' +
  'QEMU: [libvirt] virt_type = qemu (or auto).';

export function decideVirtType(setting: VirtTypeSetting, kvm: KvmEvidence): VirtTypeDecision {
  if (setting === 'qemu') {
    return { value: 'qemu', reason: 'configured: [libvirt] virt_type = qemu (TCG emulation)', usable: true };
  }
  const kvmWorks = kvm.probeOk ?? kvm.staticReady;
  const evidence =
    kvm.probeOk === undefined
      ? `the functional KVM probe was not run (${kvm.probeDetail}); static checks: ${kvm.staticReady ? 'KVM present' : kvm.staticDetail}`
      : kvm.probeOk
        ? `the functional KVM probe ran a guest: ${kvm.probeDetail}`
        : `the functional KVM probe failed: ${kvm.probeDetail}`;
  if (setting === 'kvm') {
    return kvmWorks
      ? { value: 'kvm', reason: `configured: [libvirt] virt_type = kvm; ${evidence}`, usable: true }
      : { value: 'kvm', reason: `configured: [libvirt] virt_type = kvm, but ${evidence}`, usable: false };
  }
  return kvmWorks
    ? { value: 'kvm', reason: `virt_type = auto: ${evidence}`, usable: true }
    : {
        value: 'qemu',
        reason: `virt_type = auto: ${evidence}; guests run under QEMU emulation (TCG)`,
        usable: true,
      };
}

export function checkVirtType(d: VirtTypeDecision): Check {
  return d.usable
    ? check('virt-type', 'virt_type decision', 'pass', `${d.value}: ${d.reason}`)
    : check('virt-type', 'virt_type decision', 'fail', `${d.value}: ${d.reason}`, KVM_TROUBLESHOOTING);
}
