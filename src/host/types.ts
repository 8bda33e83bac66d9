// Shapes shared by every host probe and by `kestrel doctor`. Everything here is plain data so a
// DoctorReport survives JSON.stringify / JSON.parse unchanged (the CLI prints it with --json and
// the service may store it).

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One line of the doctor's report. */
export interface Check {
  /** Stable identifier, e.g. `cpu.virt-extensions`; scripts match on it. */
  id: string;
  /** A short human title for the table. */
  title: string;
  status: CheckStatus;
  /** What the check found on the host, in one line. */
  found: string;
  /** When not pass: what to do, in the guide's words. null when there is nothing to do. */
  fix: string | null;
}

export type VirtTypeSetting = 'auto' | 'kvm' | 'qemu';
export type VirtType = 'kvm' | 'qemu';

export interface VirtTypeDecision {
  value: VirtType;
  reason: string;
  /** false when the configured virt_type cannot run guests on this host (explicit kvm without KVM). */
  usable: boolean;
}

export interface DoctorReport {
  virt_type: VirtTypeDecision;
  checks: Check[];
  /** true when guests can run on this host with the chosen virt_type (the CLI's exit 0). */
  ok: boolean;
}

export type HostArch = 'x86' | 'power' | 'other';

/** Builds a Check; `fix` is dropped for passes so a pass never carries stale advice. */
export function check(
  id: string,
  title: string,
  status: CheckStatus,
  found: string,
  fix: string | null = null,
): Check {
  return { id, title, status, found, fix: status === 'pass' ? null : fix };
}
