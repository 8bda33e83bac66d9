// /dev/kvm: present, group kvm, and usable by the QEMU user. The guide: "To check whether the
// group is set to kvm, run: ls -l /dev/kvm. If it is not set to kvm, run: udevadm trigger".
// Measured on a lab host: with /dev/kvm 0600 root:root, libvirt invalidates its QEMU capabilities on every
// API call and re-probes QEMU, so a create takes 50-90 s even for virt_type=qemu guests.
import { formatMode, type DeviceStat, type StatFn } from './device-stat.js';
import { canReadWrite, readGroups, readQemuAccount, type QemuAccount } from './users.js';
import { check, type Check } from './types.js';

export interface KvmDeviceFacts {
  path: '/dev/kvm';
  stat: DeviceStat;
  groupName: string;
  ownerName: string;
  qemu: QemuAccount;
  /** The QEMU user can open /dev/kvm read-write. */
  usableByQemu: boolean;
}

export async function readKvmDevice(hostRoot: string, statFn: StatFn): Promise<KvmDeviceFacts> {
  const groups = await readGroups(hostRoot);
  const qemu = await readQemuAccount(hostRoot, groups);
  const s = await statFn('/dev/kvm');
  return {
    path: '/dev/kvm',
    stat: s,
    groupName: groups.byGid.get(s.gid) ?? String(s.gid),
    ownerName: s.uid === 0 ? 'root' : String(s.uid),
    qemu,
    usableByQemu: s.exists && s.isCharDevice && canReadWrite(qemu, s),
  };
}

export const KVM_DEVICE_FIX =
  'If you cannot start VMs after installation without rebooting, the permissions might not be set ' +
  'correctly; this can happen if you load the KVM module before you install QEMU and libvirt. ' +
  'Run: udevadm trigger (the qemu-kvm udev rule /lib/udev/rules.d/45-qemu-kvm.rules sets the group to ' +
  'kvm). Where no udev runs: chgrp kvm /dev/kvm && chmod 0660 /dev/kvm. Until this is fixed libvirt ' +
  're-probes QEMU on every API call, and each create takes 50-90 s instead of under a second, even ' +
  'with virt_type = qemu.';

export function checkKvmDevice(d: KvmDeviceFacts): Check {
  const title = '/dev/kvm';
  if (!d.stat.exists) {
    return check(
      'kvm.device',
      title,
      'warn',
      '/dev/kvm does not exist',
      'The KVM kernel modules are not loaded (see kvm.modules); without /dev/kvm only virt_type = qemu ' +
        'works, and virt_type = kvm fails with "no supported architecture for os type \'hvm\'".',
    );
  }
  const seen = `${formatMode(d.stat)} ${d.ownerName}:${d.groupName}`;
  const who = `${d.qemu.user} (groups ${d.qemu.groupNames.join(',') || 'none'})`;
  if (!d.stat.isCharDevice) {
    return check('kvm.device', title, 'warn', `${seen}: not a character device`, KVM_DEVICE_FIX);
  }
  if (d.groupName === 'kvm' && d.usableByQemu) {
    return check('kvm.device', title, 'pass', `${seen}, usable by ${who}`);
  }
  const problems = [
    d.groupName === 'kvm' ? '' : 'group is not kvm',
    d.usableByQemu ? '' : `${who} cannot open it read-write`,
  ].filter(Boolean);
  return check('kvm.device', title, 'warn', `${seen}: ${problems.join('; ')}`, KVM_DEVICE_FIX);
}
