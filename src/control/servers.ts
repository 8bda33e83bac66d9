// Servers (Compute v2.1 §2.6–2.8): the service the API's server routes call. Each concern has
// its own module — create and scheduling (server-create.ts), list with filters and paging
// (server-list.ts), shared types and field checks (server-fields.ts); the actions and the
// delete are ServerOperations' (server-ops.ts, the action table). This class holds show,
// update, metadata and the instance-action records, and tracks control's background work.
import { isIPv4, isIPv6 } from 'node:net';
import type { Instance, Repositories } from '../db/index.js';
import type { AgentDirectory } from './agent-directory.js';
import type { ServerPorts } from './network/server-ports.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import { badRequest, notFound } from '../errors/index.js';
import { checkName } from './text-rules.js';
import type { FlavorService } from './flavors.js';
import { isUuid, type ImageService } from './images.js';
import { statusOf } from './server-state.js';
import type { SevHostDefaults } from './sev.js';
import {
  checkServerMetadata,
  normalizeV6,
  type ServerCreateResult,
  type ServerEnv,
  type ServerListQuery,
  type ServerView,
} from './server-fields.js';
import { createServers } from './server-create.js';
import { listServers } from './server-list.js';
import { MAX_SERVER_META, checkLock, checkMetadata, stateConflict } from './server-common.js';

/** Nova's metadata writes: @check_instance_lock and these vm_states with no task running. */
const METADATA_WRITE_STATES = ['active', 'paused', 'suspended', 'stopped', 'shelved', 'shelved_offloaded'];

function checkMetadataWrite(ctx: RequestContext, inst: Instance, action: string): void {
  checkLock(ctx, inst);
  if (!METADATA_WRITE_STATES.includes(inst.vmState) || inst.taskState !== null) {
    throw stateConflict(inst, action);
  }
}

export type { ServerCreateResult, ServerListQuery, ServerView } from './server-fields.js';

export class ServerService {
  private readonly log: Logger;
  private readonly background = new Set<Promise<unknown>>();
  private readonly env: ServerEnv;

  constructor(
    private readonly repos: Repositories,
    flavors: FlavorService,
    images: ImageService,
    private readonly agents: AgentDirectory,
    opts: { logger?: Logger; maxCount?: number; sevDefaults?: SevHostDefaults; network?: ServerPorts } = {},
  ) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'servers' });
    this.env = {
      repos,
      flavors,
      images,
      agents,
      log: this.log,
      maxCount: opts.maxCount ?? 100,
      sevDefaults: opts.sevDefaults ?? {},
      find: (ctx, id) => this.find(ctx, id),
      background: (p) => this.spawnBackground(p),
      network: opts.network,
    };
  }

  /**
   * Waits for control's background work — scheduling, builds, and every server action and
   * delete (ServerOperations tracks its work here too) — until none is left (tests, shutdown).
   */
  async settle(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  /** Runs p after the reply, tracked so that settle() waits for it. */
  spawnBackground(p: Promise<unknown>): void {
    const tracked = p.catch((e) => this.log.error({ err: e }, 'background work failed'));
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** The instance if the caller may see it; another project's server is a 404, not a 403. */
  async find(ctx: RequestContext, id: string): Promise<Instance> {
    const inst = isUuid(id) ? await this.repos.instances.get(id) : undefined;
    if (!inst || (!ctx.isAdmin && inst.projectId !== ctx.projectId)) {
      throw notFound(`Instance ${id} could not be found.`);
    }
    return inst;
  }

  async get(ctx: RequestContext, id: string): Promise<ServerView> {
    const instance = await this.find(ctx, id);
    const fault = (await this.repos.instances.latestFaults([instance.uuid])).get(instance.uuid);
    const addresses = (await this.env.network?.addresses([instance.uuid]))?.get(instance.uuid);
    return { instance, fault, addresses };
  }

  create(
    ctx: RequestContext,
    body: Record<string, unknown>,
    hints: Record<string, unknown> | undefined,
  ): Promise<ServerCreateResult> {
    return createServers(this.env, ctx, body, hints);
  }

  list(ctx: RequestContext, q: ServerListQuery): Promise<{ servers: ServerView[]; next?: string }> {
    return listServers(this.env, ctx, q);
  }

  // --- update / delete -------------------------------------------------------------------

  async update(ctx: RequestContext, id: string, body: Record<string, unknown>): Promise<ServerView> {
    const inst = await this.find(ctx, id);
    const patch: { displayName?: string; accessIpv4?: string; accessIpv6?: string; diskConfig?: string } = {};
    for (const [k, v] of Object.entries(body)) {
      if (k === 'name') {
        patch.displayName = checkName('name', v);
      } else if (k === 'accessIPv4') {
        if (typeof v !== 'string' || (v !== '' && !isIPv4(v)))
          throw badRequest('accessIPv4 must be an IPv4 address.');
        patch.accessIpv4 = v;
      } else if (k === 'accessIPv6') {
        if (typeof v !== 'string' || (v !== '' && !isIPv6(v)))
          throw badRequest('accessIPv6 must be an IPv6 address.');
        patch.accessIpv6 = v === '' ? '' : normalizeV6(v);
      } else if (k === 'OS-DCF:diskConfig') {
        if (v !== 'AUTO' && v !== 'MANUAL') throw badRequest('OS-DCF:diskConfig must be AUTO or MANUAL.');
        patch.diskConfig = v;
      } else throw badRequest(`Additional properties are not allowed ('${k}' was unexpected).`);
    }
    await this.repos.instances.update(inst.uuid, patch);
    return this.get(ctx, id);
  }

  async setMetadata(
    ctx: RequestContext,
    id: string,
    metadata: unknown,
    replace: boolean,
  ): Promise<Record<string, string>> {
    const inst = await this.find(ctx, id);
    if (metadata && typeof metadata === 'object' && !Array.isArray(metadata)) {
      checkMetadataWrite(ctx, inst, 'update_instance_metadata');
      // The item count after the write, against maxServerMeta (403, Nova's metadata_items quota).
      checkMetadata(replace ? metadata : { ...inst.metadata, ...metadata }, MAX_SERVER_META);
    }
    const m = checkServerMetadata(metadata);
    const merged = replace ? m : { ...inst.metadata, ...m };
    await this.repos.instances.update(inst.uuid, { metadata: merged });
    return merged;
  }

  async deleteMetadata(ctx: RequestContext, id: string, key: string): Promise<void> {
    const inst = await this.find(ctx, id);
    checkMetadataWrite(ctx, inst, 'delete_instance_metadata');
    if (!(key in inst.metadata)) throw notFound(`Metadata item ${key} was not found.`);
    const m = { ...inst.metadata };
    delete m[key];
    await this.repos.instances.update(inst.uuid, { metadata: m });
  }

  // --- instance actions -------------------------------------------------------------------

  async listActions(ctx: RequestContext, id: string) {
    const inst = await this.find(ctx, id);
    return this.repos.instances.listActions(inst.uuid);
  }

  async getAction(ctx: RequestContext, id: string, requestId: string) {
    const inst = await this.find(ctx, id);
    const a = await this.repos.instances.getAction(inst.uuid, requestId);
    if (!a) throw notFound(`Action ${requestId} on instance ${id} could not be found.`);
    return a;
  }

  statusOf(inst: Instance): string {
    return statusOf(inst.vmState, inst.taskState);
  }
}
