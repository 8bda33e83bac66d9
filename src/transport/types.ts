// The shape of messages between the controller and the compute agents, independent of the
// broker: a call is a method name and JSON arguments answered at once (request/reply); an
// operation is a method name and JSON arguments queued durably for one host and acknowledged
// only when its handler has finished; heartbeats and reports flow from the agents back to
// the controller, the only holder of the database (Nova's compute → conductor direction).
import { KestrelError, errorFromJson, errorToJson, type ErrorJson } from '../errors/index.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface CallOptions {
  /** How long to wait for the agent's answer (default 60 s, Nova's rpc_response_timeout). */
  timeoutMs?: number;
}

/** The controller's side: reaches the agent of one host. */
export interface ControllerTransport {
  /** A short read answered at once. Rejects at once, naming the host, when no agent of it listens. */
  call(host: string, method: string, args: Json, opts?: CallOptions): Promise<Json>;
  /**
   * A long operation, queued durably for the host's agent; resolves once the queue has it.
   * The key identifies the operation: submitting the same key again is a duplicate, dropped.
   */
  submit(host: string, method: string, args: Json, key: string): Promise<{ duplicate: boolean }>;
  /** Heartbeats from every agent (at most once per report_interval each). */
  onHeartbeat(handler: (beat: Heartbeat) => Promise<void>): void;
  /** Reports from the agents (instance progress, host status), handled one at a time, acknowledged when handled. */
  onReport(handler: (report: Report) => Promise<void>): void;
  close(): Promise<void>;
}

export interface OperationContext {
  /** The operation's key (what submit() was given). */
  key: string;
  /** Delivered before and not acknowledged (an agent died during it): finish or roll back. */
  redelivered: boolean;
}

export interface AgentHandlers {
  calls: Record<string, (args: Json) => Promise<Json>>;
  operations: Record<string, (args: Json, ctx: OperationContext) => Promise<void>>;
}

/** The compute host's side: serves one host's calls and operations, sends beats and reports. */
export interface AgentEndpoint {
  serve(handlers: AgentHandlers): Promise<void>;
  heartbeat(beat: Omit<Heartbeat, 'host' | 'sentAt'>): Promise<void>;
  /** A report for the controller, durable until the controller has handled it. */
  report(kind: string, body: Json, key: string): Promise<void>;
  close(): Promise<void>;
}

export interface Heartbeat {
  host: string;
  /** The service that beats (nova-compute). */
  binary: string;
  /** ISO time on the agent when it was sent. */
  sentAt: string;
}

export interface Report {
  host: string;
  kind: string;
  body: Json;
  key: string;
}

/** No agent of the host listens: the host is down (or its agent is), said at once. */
export function hostDown(host: string): KestrelError {
  return new KestrelError(
    'host-unreachable',
    `compute host ${host} is down: no compute agent of it answers on the message bus.`,
    { fix: `start \`kestrel serve --role compute\` on ${host} (see \`openstack compute service list\`)` },
  );
}

/** The agent listens but did not answer in time: busy or stuck, not known to be down. */
export function hostTimeout(host: string, method: string, timeoutMs: number): KestrelError {
  return new KestrelError(
    'unavailable',
    `compute host ${host} did not answer ${method} within ${Math.round(timeoutMs / 1000)} s; it may be overloaded.`,
    { fix: "try again, or look at the host's agent log" },
  );
}

/** An error raised by a handler on the agent, as it travels in a reply. */
export type WireError = ErrorJson;
export const toWireError = errorToJson;
export const fromWireError = errorFromJson;
