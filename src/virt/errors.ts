// The hypervisor's errors: KestrelErrors whose codes (and so HTTP statuses) are in the one
// catalogue (src/errors/catalogue.ts); each says what failed and the fix, in the guide's
// troubleshooting tone.
import { KestrelError, type ErrorCode, type ErrorOptions } from '../errors/index.js';

/** The catalogue's codes the hypervisor raises. */
export type VirtErrorCode = Extract<
  ErrorCode,
  | 'instance-not-found'
  | 'instance-exists'
  | 'invalid-state'
  | 'unsupported-config'
  | 'invalid-machine-type'
  | 'firmware-not-found'
  | 'cpu-model-unknown'
  | 'cpu-incompatible'
  | 'cpu-no-model-for-traits'
  | 'cpu-mode-invalid'
  | 'version-too-old'
  | 'kvm-unavailable'
  | 'nested-virt-conflict'
  | 'agent-not-configured'
  | 'agent-not-connected'
  | 'agent-timeout'
  | 'agent-failed'
  | 'console-unavailable'
  | 'guest-start-failed'
  | 'power-off-timeout'
  | 'snapshot-failed'
  | 'hypervisor-error'
  | 'state-path-unreachable'
>;

export class VirtError extends KestrelError<VirtErrorCode> {
  constructor(code: VirtErrorCode, message: string, opts: ErrorOptions = {}) {
    super(code, message, opts);
  }
}

export function isVirtError(e: unknown, code?: VirtErrorCode): e is VirtError {
  return e instanceof VirtError && (code === undefined || e.code === code);
}

export function instanceNotFound(uuid: string): VirtError {
  return new VirtError('instance-not-found', `instance ${uuid} has no guest on this hypervisor`, {
    fix: 'the guest was deleted or never built; rebuild or delete the instance',
  });
}

/** The guide's troubleshooting entry for "no supported architecture for os type 'hvm'". */
export const NO_HVM_EXPLANATION =
  'libvirt reports "no supported architecture for os type \'hvm\'": the KVM kernel modules are not loaded ' +
  '(or /dev/kvm is missing), so libvirt offers no hardware-accelerated guest type.';
export const NO_HVM_FIX =
  'load the modules (modprobe kvm; modprobe kvm-intel or kvm-amd), check `ls -l /dev/kvm` is group kvm ' +
  '(udevadm trigger), run `kestrel doctor`, or set [libvirt] virt_type = qemu';
