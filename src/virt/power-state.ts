// libvirt lifecycle events → Kestrel lifecycle events and power states (as Nova maps
// them). Stopped events are NOT delayed (Nova waits 15 s): the compute layer
// wants a guest that powered itself off reported SHUTDOWN at once.
import { PowerState, type LifecycleKind } from './driver.js';

/** virDomainState → power state (managed-save images turn SHUTOFF into SUSPENDED). */
export function powerStateFromDomainState(state: number, hasManagedSave = false): PowerState {
  switch (state) {
    case 1: // RUNNING
    case 2: // BLOCKED (idle guest: still running)
      return PowerState.RUNNING;
    case 3: // PAUSED
      return PowerState.PAUSED;
    case 4: // SHUTDOWN (in progress)
    case 5: // SHUTOFF
      return hasManagedSave ? PowerState.SUSPENDED : PowerState.SHUTDOWN;
    case 6:
      return PowerState.CRASHED;
    case 7: // PMSUSPENDED
      return PowerState.SUSPENDED;
    default:
      return PowerState.NOSTATE;
  }
}

const DETAILS: Record<number, string[]> = {
  0: ['added', 'updated', 'renamed', 'from snapshot'],
  1: ['removed', 'renamed'],
  2: ['booted', 'migrated', 'restored', 'from snapshot', 'wakeup'],
  3: [
    'paused',
    'migrated',
    'I/O error',
    'watchdog',
    'restored',
    'from snapshot',
    'API error',
    'postcopy',
    'postcopy failed',
  ],
  4: ['unpaused', 'migrated', 'from snapshot', 'postcopy'],
  5: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot'],
  6: ['finished', 'guest request', 'host request'],
  7: ['memory', 'disk'],
  8: ['panicked', 'crashloaded'],
};

/**
 * A libvirt lifecycle event (event, detail) as a Kestrel event, or undefined when unknown.
 */
export function mapLifecycle(
  event: number,
  detail: number,
): { kind: LifecycleKind; state: PowerState; detail: string } | undefined {
  const d = DETAILS[event]?.[detail] ?? `detail ${detail}`;
  switch (event) {
    case 0:
      return { kind: 'defined', state: PowerState.SHUTDOWN, detail: d };
    case 1:
      return { kind: 'undefined', state: PowerState.NOSTATE, detail: d };
    case 2:
      return { kind: 'started', state: PowerState.RUNNING, detail: d };
    case 3:
      return { kind: 'paused', state: PowerState.PAUSED, detail: d };
    case 4:
      return { kind: 'resumed', state: PowerState.RUNNING, detail: d };
    case 5:
      if (detail === 4) return { kind: 'suspended', state: PowerState.SUSPENDED, detail: d };
      if (detail === 2) return { kind: 'crashed', state: PowerState.CRASHED, detail: d };
      return { kind: 'stopped', state: PowerState.SHUTDOWN, detail: d };
    case 6:
      // SHUTDOWN "finished": the guest is down, STOPPED follows ~0.2 s later.
      return { kind: 'shutdown', state: PowerState.SHUTDOWN, detail: d };
    case 7:
      return { kind: 'suspended', state: PowerState.SUSPENDED, detail: d };
    case 8:
      return { kind: 'crashed', state: PowerState.CRASHED, detail: d };
    default:
      return undefined;
  }
}
