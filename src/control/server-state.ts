// The API status of a server from its vm_state and task_state (nova/api/openstack/common.py
// _STATE_MAP), and back (status filters).
const TASK_STATUS: Record<string, string> = {
  rebooting: 'REBOOT',
  reboot_pending: 'REBOOT',
  reboot_started: 'REBOOT',
  rebooting_hard: 'HARD_REBOOT',
  reboot_pending_hard: 'HARD_REBOOT',
  reboot_started_hard: 'HARD_REBOOT',
  rebuilding: 'REBUILD',
  migrating: 'MIGRATING',
  resize_prep: 'RESIZE',
  resize_migrating: 'RESIZE',
  resize_migrated: 'RESIZE',
  resize_finish: 'RESIZE',
};

const VM_STATUS: Record<string, string> = {
  building: 'BUILD',
  active: 'ACTIVE',
  stopped: 'SHUTOFF',
  paused: 'PAUSED',
  suspended: 'SUSPENDED',
  resized: 'VERIFY_RESIZE',
  rescued: 'RESCUE',
  shelved: 'SHELVED',
  shelved_offloaded: 'SHELVED_OFFLOADED',
  error: 'ERROR',
  deleted: 'DELETED',
  soft_deleted: 'SOFT_DELETED',
};

export function statusOf(vmState: string, taskState: string | null): string {
  if (vmState === 'active' && taskState && TASK_STATUS[taskState]) return TASK_STATUS[taskState];
  return VM_STATUS[vmState] ?? 'UNKNOWN';
}

/** The vm_states a status filter selects (REBOOT etc. also need the task check). */
export function vmStatesFor(status: string): string[] | undefined {
  const s = status.toUpperCase();
  const vm = Object.entries(VM_STATUS)
    .filter(([, st]) => st === s)
    .map(([v]) => v);
  if (vm.length) return vm;
  if (Object.values(TASK_STATUS).includes(s)) return ['active'];
  return undefined;
}
