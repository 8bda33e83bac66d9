// What every Networking v2 operation shares: the repositories, who may see what, lookups that
// 404 in Neutron's words, revision bumps, and the push of a change to the hosts' data planes.
import { randomUUID } from 'node:crypto';
import type { NetworkResource, NetworkResourceKind, Repositories } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { HostNetworkCalls, HostNetworkChange } from '../../network/contract.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { NeutronError, notAuthorized, resourceNotFound } from './errors.js';
import type { Common, NetworkDoc } from './model.js';

const NOT_FOUND: Record<NetworkResourceKind, [string, string]> = {
  network: ['NetworkNotFound', 'Network'],
  subnet: ['SubnetNotFound', 'Subnet'],
  port: ['PortNotFound', 'Port'],
  security_group: ['SecurityGroupNotFound', 'Security group'],
  security_group_rule: ['SecurityGroupRuleNotFound', 'Security group rule'],
  router: ['RouterNotFound', 'Router'],
  floatingip: ['FloatingIPNotFound', 'Floating IP'],
  quota: ['NotFound', 'Quota'],
};

export interface NetworkContextOptions {
  /** The data planes to tell (every compute host's agent; one on an all-in-one). */
  hosts: () => HostNetworkCalls[];
  /** Linux bridge name prefix ([network] bridge_prefix). */
  bridgePrefix: string;
  logger?: Logger;
}

export class NetworkContext {
  readonly log: Logger;
  constructor(
    readonly repos: Repositories,
    readonly opts: NetworkContextOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
  }

  newId(): string {
    return randomUUID();
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  common(ctx: RequestContext, b: { name?: string; description?: string }, projectId?: string): Common {
    const now = this.now();
    return {
      id: this.newId(),
      name: b.name ?? '',
      description: b.description ?? '',
      project_id: projectId ?? ctx.projectId,
      tags: [],
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
  }

  /** The caller's project unless an admin names another (project_id / tenant_id in the body). */
  projectFor(ctx: RequestContext, b: Record<string, unknown>): string {
    const asked = (b.project_id ?? b.tenant_id) as unknown;
    if (asked === undefined || asked === ctx.projectId) return ctx.projectId;
    if (typeof asked !== 'string' || asked === '')
      throw new NeutronError(
        'bad-request',
        'HTTPBadRequest',
        `Invalid input for project_id: '${String(asked)}'.`,
      );
    if (!ctx.isAdmin)
      throw notAuthorized('Only an admin may create resources in another project (project_id).');
    return asked;
  }

  async find<B>(kind: NetworkResourceKind, id: string): Promise<NetworkResource<B> | undefined> {
    return this.repos.networking.get<B>(kind, id);
  }

  /** The resource if the caller may see it, else Neutron's NotFound (never a 403 that leaks it). */
  async visible<B extends { project_id: string }>(
    ctx: RequestContext,
    kind: NetworkResourceKind,
    id: string,
  ): Promise<NetworkResource<B>> {
    const r = await this.repos.networking.get<B>(kind, id);
    if (!r || !(await this.canSee(ctx, kind, r))) {
      const [type, noun] = NOT_FOUND[kind];
      throw resourceNotFound(type, noun, id);
    }
    return r;
  }

  /** Like visible, and the caller must own it (or be admin) to change it. */
  async owned<B extends { project_id: string }>(
    ctx: RequestContext,
    kind: NetworkResourceKind,
    id: string,
  ): Promise<NetworkResource<B>> {
    const r = await this.visible<B>(ctx, kind, id);
    if (!ctx.isAdmin && r.projectId !== ctx.projectId)
      throw notAuthorized(
        `The ${NOT_FOUND[kind][1].toLowerCase()} ${id} belongs to another project; only its owner or an admin may change it.`,
      );
    return r;
  }

  async canSee(
    ctx: RequestContext,
    kind: NetworkResourceKind,
    r: NetworkResource<unknown>,
  ): Promise<boolean> {
    if (ctx.isAdmin || r.projectId === ctx.projectId) return true;
    if (kind === 'network') {
      const n = r.body as NetworkDoc;
      return n.shared || n['router:external'];
    }
    if (kind === 'subnet' && r.parentId) {
      const net = await this.repos.networking.get<NetworkDoc>('network', r.parentId);
      return !!net && (net.body.shared || net.body['router:external']);
    }
    return false;
  }

  async visibleList<B>(ctx: RequestContext, kind: NetworkResourceKind): Promise<NetworkResource<B>[]> {
    const all = await this.repos.networking.list<B>(
      kind,
      ctx.isAdmin || kind === 'network' || kind === 'subnet' ? {} : { projectId: ctx.projectId },
    );
    const out: NetworkResource<B>[] = [];
    for (const r of all) if (await this.canSee(ctx, kind, r as NetworkResource<unknown>)) out.push(r);
    return out;
  }

  /** Saves a changed document with its revision bumped and updated_at set. */
  async save<B extends { revision_number: number; updated_at: string }>(
    kind: NetworkResourceKind,
    r: NetworkResource<B>,
    lifted?: { deviceId?: string | null; macAddress?: string | null },
  ): Promise<B> {
    r.body.revision_number += 1;
    r.body.updated_at = this.now();
    await this.repos.networking.update(kind, r.id, r.body, lifted);
    return r.body;
  }

  /** Tells every host's data plane; a failure is the caller's to undo. */
  async push(change: HostNetworkChange): Promise<void> {
    for (const h of this.opts.hosts()) await h.networkApply(change);
  }
}
