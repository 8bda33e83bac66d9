// The agent directory: which ComputeAgent answers for each compute host, and whether the host
// is alive. Control reaches a host only through here and never assumes its agent runs in this
// process: an agent is whatever was registered for the host (in-process, the JSON loopback, or
// a broker transport), and liveness is the host's nova-compute heartbeat in the database
// (Nova's service_down_time). Long operations go out as casts: cast() resolves once the agent
// accepted the work, with a promise of the agent's OperationReport when it ends.
import type { Repositories } from '../db/index.js';
import type { ComputeAgent } from '../compute/contract/agent.js';
import { KestrelError, isKestrelError } from '../errors/index.js';
import type { CastOperation, OperationReport } from '../compute/contract/types.js';

/** Nova's service_down_time default: a host whose heartbeat is older than this is down. */
export const SERVICE_DOWN_SECONDS = 60;

export type RequestOf<K extends CastOperation> = Parameters<ComputeAgent[K]>[0];

export interface HostLiveness {
  host: string;
  /** An agent is registered for the host. */
  registered: boolean;
  /** Its heartbeat is recent (within service_down_time). */
  up: boolean;
  /** ISO time of the last heartbeat, or null if the host never reported. */
  lastSeen: string | null;
  /** service_down_time it was judged by. */
  downAfterSeconds: number;
}

export class AgentDirectory {
  private readonly agents = new Map<string, ComputeAgent>();
  private readonly waiting = new Map<string, (r: OperationReport) => void>();

  constructor(
    private readonly repos: Repositories,
    /** [DEFAULT] service_down_time. */
    readonly serviceDownSeconds = SERVICE_DOWN_SECONDS,
  ) {}

  register(agent: ComputeAgent): void {
    this.agents.set(agent.host, agent);
  }

  unregister(host: string): void {
    this.agents.delete(host);
  }

  hosts(): string[] {
    return [...this.agents.keys()];
  }

  /** Every registered agent (the network data planes are told of every change). */
  all(): ComputeAgent[] {
    return [...this.agents.values()];
  }

  async liveness(host: string): Promise<HostLiveness> {
    const svc = await this.repos.services.get(host, 'nova-compute');
    const lastSeen = svc?.updatedAt ?? null;
    return {
      host,
      registered: this.agents.has(host),
      up: lastSeen !== null && Date.now() - Date.parse(lastSeen) < this.serviceDownSeconds * 1000,
      lastSeen,
      downAfterSeconds: this.serviceDownSeconds,
    };
  }

  /** Compute hosts whose heartbeat is older than service_down_time, with why (for the scheduler). */
  async downHosts(): Promise<Map<string, string>> {
    const down = new Map<string, string>();
    for (const s of await this.repos.services.list()) {
      if (s.binary !== 'nova-compute') continue;
      if (Date.now() - Date.parse(s.updatedAt) >= this.serviceDownSeconds * 1000)
        down.set(
          s.host,
          `the compute service on this host is down (last heartbeat ${s.updatedAt}, more than ${this.serviceDownSeconds} s ago)`,
        );
    }
    return down;
  }

  /** The agent of a live host, or the 409 that says the host is not reachable and what to do. */
  async reach(host: string): Promise<ComputeAgent> {
    const agent = this.agents.get(host);
    const l = await this.liveness(host);
    if (!agent || !l.up) throw hostUnreachable(host, l);
    return agent;
  }

  /**
   * Sends a long operation to host. Resolves once the agent accepted it, with `finished`: the
   * agent's report when the operation ends (its outcome is in the instance action already).
   * A host that does not answer is the same 409 as reach().
   */
  async cast<K extends CastOperation>(
    host: string,
    operation: K,
    request: RequestOf<K>,
  ): Promise<{ finished: Promise<OperationReport> }> {
    const agent = this.agents.get(host);
    if (!agent) throw hostUnreachable(host, await this.liveness(host));
    const { actionId } = request;
    const finished = new Promise<OperationReport>((resolve) => this.waiting.set(actionId, resolve));
    try {
      await (agent[operation] as (r: RequestOf<K>) => Promise<unknown>).call(agent, request);
    } catch (e) {
      this.waiting.delete(actionId);
      if (isKestrelError(e, 'host-unreachable')) throw hostUnreachable(host, await this.liveness(host), e);
      throw e;
    }
    return { finished };
  }

  /** The agents' sink for the reports of finished operations. */
  readonly report = (r: OperationReport): void => {
    const resolve = this.waiting.get(r.actionId);
    this.waiting.delete(r.actionId);
    resolve?.(r);
  };
}

/** Compute host `host` cannot be reached: why (no agent, heartbeat stale) and the fix. */
export function hostUnreachable(host: string, l: HostLiveness, cause?: KestrelError): KestrelError {
  const why = !l.registered
    ? 'no compute agent is registered for it'
    : l.lastSeen === null
      ? 'it has never reported (no nova-compute heartbeat)'
      : !l.up
        ? `it is down (last heartbeat ${l.lastSeen}, more than ${l.downAfterSeconds} s ago)`
        : `its agent did not answer${cause ? ` (${cause.message})` : ''}`;
  return new KestrelError('host-unreachable', `Compute host ${host} is not reachable: ${why}.`, {
    fix: `start or restart the Kestrel compute service on ${host} and check it with "openstack compute service list"; then retry.`,
  });
}
