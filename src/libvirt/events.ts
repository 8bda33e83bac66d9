// Domain events as a typed stream. libvirt sends them as MESSAGE packets (serial 0) carrying the
// callback ID we got from CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY; this module names the
// numbers (libvirt-api.xml) and turns packets into LifecycleEvent / AgentLifecycleEvent objects.
import { EventEmitter, on } from 'node:events';
import type { DomainRef } from './handles.js';
import { typedParamsToRecord, type TypedParam } from './typed-params.js';

/** virDomainEventID */
export const DomainEventId = {
  LIFECYCLE: 0,
  REBOOT: 1,
  RTC_CHANGE: 2,
  WATCHDOG: 3,
  IO_ERROR: 4,
  GRAPHICS: 5,
  IO_ERROR_REASON: 6,
  CONTROL_ERROR: 7,
  BLOCK_JOB: 8,
  DISK_CHANGE: 9,
  TRAY_CHANGE: 10,
  PMWAKEUP: 11,
  PMSUSPEND: 12,
  BALLOON_CHANGE: 13,
  PMSUSPEND_DISK: 14,
  DEVICE_REMOVED: 15,
  BLOCK_JOB_2: 16,
  TUNABLE: 17,
  AGENT_LIFECYCLE: 18,
  DEVICE_ADDED: 19,
  MIGRATION_ITERATION: 20,
  JOB_COMPLETED: 21,
  DEVICE_REMOVAL_FAILED: 22,
  METADATA_CHANGE: 23,
  BLOCK_THRESHOLD: 24,
  MEMORY_FAILURE: 25,
  MEMORY_DEVICE_SIZE_CHANGE: 26,
} as const;

/** virDomainEventType, index = wire value. */
export const LIFECYCLE_EVENTS = [
  'defined',
  'undefined',
  'started',
  'suspended',
  'resumed',
  'stopped',
  'shutdown',
  'pmsuspended',
  'crashed',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

/** virDomainEvent<Type>DetailType names, index = wire value. */
export const LIFECYCLE_DETAILS: Record<LifecycleEventName, readonly string[]> = {
  defined: ['added', 'updated', 'renamed', 'from_snapshot'],
  undefined: ['removed', 'renamed'],
  started: ['booted', 'migrated', 'restored', 'from_snapshot', 'wakeup'],
  suspended: [
    'paused',
    'migrated',
    'ioerror',
    'watchdog',
    'restored',
    'from_snapshot',
    'api_error',
    'postcopy',
    'postcopy_failed',
  ],
  resumed: ['unpaused', 'migrated', 'from_snapshot', 'postcopy', 'postcopy_failed'],
  stopped: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot'],
  shutdown: ['finished', 'guest', 'host'],
  pmsuspended: ['memory', 'disk'],
  crashed: ['panicked', 'crashloaded'],
};

export const AGENT_STATES = ['unknown', 'connected', 'disconnected'] as const;
export const AGENT_REASONS = ['unknown', 'domain-started', 'channel'] as const;

export interface LifecycleEvent {
  kind: 'lifecycle';
  domain: DomainRef;
  /** e.g. 'started'; 'unknown-N' for a type newer than this table. */
  event: LifecycleEventName | `unknown-${number}`;
  eventCode: number;
  /** e.g. 'booted'; 'unknown-N' when not in the table. */
  detail: string;
  detailCode: number;
}

export interface AgentLifecycleEvent {
  kind: 'agent-lifecycle';
  domain: DomainRef;
  state: 'connected' | 'disconnected' | 'unknown';
  stateCode: number;
  reason: 'unknown' | 'domain-started' | 'channel';
  reasonCode: number;
}

export const BLOCK_JOB_TYPES = ['unknown', 'pull', 'copy', 'commit', 'active-commit', 'backup'] as const;
export const BLOCK_JOB_STATUSES = ['completed', 'failed', 'canceled', 'ready'] as const;

/** BLOCK_JOB_2: a block job (copy, pull, commit) on disk `disk` (its target dev, e.g. "vda") changed. */
export interface BlockJobEvent {
  kind: 'block-job';
  domain: DomainRef;
  disk: string;
  type: (typeof BLOCK_JOB_TYPES)[number];
  typeCode: number;
  /** 'ready' = a copy mirrors its source and can be pivoted or aborted. */
  status: (typeof BLOCK_JOB_STATUSES)[number] | `unknown-${number}`;
  statusCode: number;
}

/** JOB_COMPLETED: a domain job (migration, save, dump) finished; stats as in DOMAIN_GET_JOB_STATS. */
export interface JobCompletedEvent {
  kind: 'job-completed';
  domain: DomainRef;
  stats: ReturnType<typeof typedParamsToRecord>;
}

export type DomainEvent = LifecycleEvent | AgentLifecycleEvent | BlockJobEvent | JobCompletedEvent;

export function blockJobEvent(
  domain: DomainRef,
  disk: string,
  typeCode: number,
  statusCode: number,
): BlockJobEvent {
  return {
    kind: 'block-job',
    domain,
    disk,
    type: BLOCK_JOB_TYPES[typeCode] ?? 'unknown',
    typeCode,
    status: BLOCK_JOB_STATUSES[statusCode] ?? `unknown-${statusCode}`,
    statusCode,
  };
}

export function jobCompletedEvent(domain: DomainRef, params: TypedParam[]): JobCompletedEvent {
  return { kind: 'job-completed', domain, stats: typedParamsToRecord(params) };
}

export function lifecycleEvent(domain: DomainRef, eventCode: number, detailCode: number): LifecycleEvent {
  const event = LIFECYCLE_EVENTS[eventCode] as LifecycleEventName | undefined;
  const detail = event ? LIFECYCLE_DETAILS[event][detailCode] : undefined;
  return {
    kind: 'lifecycle',
    domain,
    event: event ?? `unknown-${eventCode}`,
    eventCode,
    detail: detail ?? `unknown-${detailCode}`,
    detailCode,
  };
}

export function agentLifecycleEvent(
  domain: DomainRef,
  stateCode: number,
  reasonCode: number,
): AgentLifecycleEvent {
  return {
    kind: 'agent-lifecycle',
    domain,
    state: AGENT_STATES[stateCode] ?? 'unknown',
    stateCode,
    reason: AGENT_REASONS[reasonCode] ?? 'unknown',
    reasonCode,
  };
}

/** Which event IDs carry which typed event. */
export const EVENT_KINDS = {
  lifecycle: DomainEventId.LIFECYCLE,
  'agent-lifecycle': DomainEventId.AGENT_LIFECYCLE,
  'block-job': DomainEventId.BLOCK_JOB_2,
  'job-completed': DomainEventId.JOB_COMPLETED,
} as const;
export type EventKind = keyof typeof EVENT_KINDS;

interface DomainEventMap {
  lifecycle: [LifecycleEvent];
  'agent-lifecycle': [AgentLifecycleEvent];
  'block-job': [BlockJobEvent];
  'job-completed': [JobCompletedEvent];
  event: [DomainEvent];
}

/**
 * The client's event stream. Listen with `on('lifecycle', …)`, `on('agent-lifecycle', …)`,
 * `on('block-job', …)`, `on('job-completed', …)` or `on('event', …)` (all kinds), or iterate: `for await (const ev of events.stream(signal))`.
 * Events are delivered in the order libvirtd sent them.
 */
export class DomainEvents extends EventEmitter<DomainEventMap> {
  /** @internal called by the client for each decoded event. */
  deliver(ev: DomainEvent): void {
    switch (ev.kind) {
      case 'lifecycle':
        this.emit('lifecycle', ev);
        break;
      case 'agent-lifecycle':
        this.emit('agent-lifecycle', ev);
        break;
      case 'block-job':
        this.emit('block-job', ev);
        break;
      case 'job-completed':
        this.emit('job-completed', ev);
        break;
    }
    this.emit('event', ev);
  }

  /** An async iterator over every event until the signal aborts. */
  async *stream(signal?: AbortSignal): AsyncGenerator<DomainEvent> {
    try {
      for await (const [ev] of on(this, 'event', { signal })) yield ev as DomainEvent;
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    }
  }
}
