// Typed hypervisor errors. Each carries a stable code, what failed, and the fix, in the
// guide's troubleshooting tone; the API maps `kind` to an HTTP status in one place.
export type VirtErrorKind = 'not-found' | 'conflict' | 'invalid' | 'unavailable' | 'internal';

export type VirtErrorCode =
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
  | 'guest-start-failed'
  | 'power-off-timeout'
  | 'snapshot-failed'
  | 'hypervisor-error';

const kindOf: Record<VirtErrorCode, VirtErrorKind> = {
  'instance-not-found': 'not-found',
  'instance-exists': 'conflict',
  'invalid-state': 'conflict',
  'unsupported-config': 'invalid',
  'invalid-machine-type': 'invalid',
  'firmware-not-found': 'invalid',
  'cpu-model-unknown': 'invalid',
  'cpu-incompatible': 'invalid',
  'cpu-no-model-for-traits': 'invalid',
  'cpu-mode-invalid': 'invalid',
  'version-too-old': 'unavailable',
  'kvm-unavailable': 'unavailable',
  'nested-virt-conflict': 'conflict',
  'agent-not-configured': 'conflict',
  'agent-not-connected': 'conflict',
  'agent-timeout': 'unavailable',
  'agent-failed': 'internal',
  'guest-start-failed': 'internal',
  'power-off-timeout': 'internal',
  'snapshot-failed': 'internal',
  'hypervisor-error': 'internal',
};

export class VirtError extends Error {
  readonly kind: VirtErrorKind;
  /** What the operator or user can do about it. */
  readonly fix: string;
  /** Extra diagnostic text (a QEMU log tail, the models passed over …). */
  readonly details?: string;

  constructor(
    readonly code: VirtErrorCode,
    message: string,
    opts: { fix?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VirtError';
    this.kind = kindOf[code];
    this.fix = opts.fix ?? '';
    this.details = opts.details;
  }

  /** Message, fix and details as one text (for logs and instance faults). */
  describe(): string {
    return [this.message, this.fix && `Fix: ${this.fix}`, this.details].filter(Boolean).join('\n');
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
