// The server actions beyond power (issue 11), dispatched by name: rebuild, shelve,
// shelveOffload, unshelve, createBackup, lock, unlock, os-resetState, forceDelete, restore,
// changePassword; soft delete on DELETE, diagnostics, the metadata write checks, and the
// timers for shelved_offload_time and reclaim_instance_interval. ServerService keeps the
// create / list / power actions; the API's server-actions module sends these names here.
import type { Repositories } from '../db/index.js';
import type { AgentDirectory } from './agent-directory.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import type { ImageService } from './images.js';
import type { ServerService } from './servers.js';
import type { SevHostDefaults } from './sev.js';
import { SystemMetadata, SysMetaKey } from './server-sysmeta.js';
import {
  checkLock,
  checkMetadata,
  stateConflict,
  type ActionReply,
  type OpsEnv,
  type ServerOpsOptions,
} from './server-common.js';
import { rebuild } from './server-rebuild.js';
import { offloadLater, shelve, shelveOffload, unshelve } from './server-shelve.js';
import { createBackup } from './server-backup.js';
import {
  changePassword,
  diagnostics,
  forceDelete,
  hardDelete,
  lock,
  reclaimSoftDeleted,
  resetState,
  restore,
  softDelete,
  unlock,
} from './server-admin.js';

export type { ServerOpsOptions, ActionReply } from './server-common.js';

/** Nova's metadata writes: @check_instance_lock and these vm_states with no task running. */
const METADATA_WRITE_STATES = ['active', 'paused', 'suspended', 'stopped', 'shelved', 'shelved_offloaded'];

export class ServerOperations {
  readonly env: OpsEnv;
  private readonly work = new Set<Promise<unknown>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private reclaimTimer?: NodeJS.Timeout;

  constructor(
    repos: Repositories,
    servers: ServerService,
    images: ImageService,
    agents: AgentDirectory,
    options: Partial<ServerOpsOptions> & { logger?: Logger; sev?: SevHostDefaults } = {},
  ) {
    const log = (options.logger ?? silentLogger).child({ component: 'server-actions' });
    this.sev = options.sev ?? {};
    this.env = {
      repos,
      servers,
      images,
      sysmeta: new SystemMetadata(repos),
      agents,
      options: {
        shelvedOffloadTime: options.shelvedOffloadTime ?? 0,
        reclaimInstanceInterval: options.reclaimInstanceInterval ?? 0,
      },
      log,
      background: (p) => {
        const tracked = p.catch((err) => log.error({ err }, 'server action failed in the background'));
        this.work.add(tracked);
        void tracked.finally(() => this.work.delete(tracked));
      },
      scheduleOffload: (uuid, delay) => this.scheduleOffload(uuid, delay),
    };
  }
  private readonly sev: SevHostDefaults;

  /** Changes the two options at run time (tests; a config reload later). */
  configure(o: Partial<ServerOpsOptions>): void {
    Object.assign(this.env.options, o);
    this.startReclaimTimer();
  }

  /** Re-arms offload timers of instances shelved before a restart, and the reclaim timer. */
  async start(): Promise<void> {
    const t = this.env.options.shelvedOffloadTime;
    if (t > 0) {
      for (const [uuid, at] of await this.env.sysmeta.withKey(SysMetaKey.shelvedAt)) {
        const left = Math.max(0, t - (Date.now() - Date.parse(at)) / 1000);
        this.scheduleOffload(uuid, left);
      }
    }
    this.startReclaimTimer();
  }

  async stop(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.reclaimTimer);
    await this.settle();
  }

  /** Waits for background work started here (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.work.size) await Promise.allSettled([...this.work]);
  }

  private scheduleOffload(uuid: string, delaySeconds: number): void {
    clearTimeout(this.timers.get(uuid));
    const t = setTimeout(() => {
      this.timers.delete(uuid);
      this.env.background(offloadLater(this.env, uuid));
    }, delaySeconds * 1000);
    t.unref();
    this.timers.set(uuid, t);
  }

  private startReclaimTimer(): void {
    clearInterval(this.reclaimTimer);
    this.reclaimTimer = undefined;
    const i = this.env.options.reclaimInstanceInterval;
    if (i <= 0) return;
    // Nova's _reclaim_queued_deletes runs every reclaim_instance_interval seconds.
    this.reclaimTimer = setInterval(() => this.env.background(reclaimSoftDeleted(this.env)), i * 1000);
    this.reclaimTimer.unref();
  }

  /** Runs the reclaim pass now (tests); returns how many servers were deleted. */
  reclaimNow(now?: number): Promise<number> {
    return reclaimSoftDeleted(this.env, now);
  }

  /** Whether this module answers the action name. */
  static handles(name: string): boolean {
    return name in HANDLERS;
  }

  /** POST /servers/{id}/action for the names this module answers. */
  async action(
    ctx: RequestContext,
    id: string,
    name: string,
    arg: unknown,
  ): Promise<ActionReply & { view?: boolean; adminPass?: string }> {
    const inst = await this.env.servers.find(ctx, id);
    return HANDLERS[name](this, ctx, inst, arg);
  }

  /** DELETE /servers/{id}: true when handled here (soft delete, or a shelved server's cleanup). */
  async delete(ctx: RequestContext, id: string): Promise<boolean> {
    const inst = await this.env.servers.find(ctx, id);
    if (await softDelete(this.env, ctx, inst)) return true;
    const meta = await this.env.sysmeta.get(inst.uuid);
    if (Object.keys(meta).length === 0) return false;
    checkLock(ctx, inst);
    clearTimeout(this.timers.get(inst.uuid));
    await hardDelete(this.env, ctx, inst);
    return true;
  }

  /**
   * Before a metadata write: the lock and the state (409s), and the item count after the
   * write against maxServerMeta (403, as Nova's metadata_items quota).
   */
  async checkMetadataWrite(
    ctx: RequestContext,
    id: string,
    change: { replace?: Record<string, unknown>; merge?: Record<string, unknown>; deleteKey?: string },
  ): Promise<void> {
    const inst = await this.env.servers.find(ctx, id);
    checkLock(ctx, inst);
    if (!METADATA_WRITE_STATES.includes(inst.vmState) || inst.taskState !== null) {
      throw stateConflict(
        inst,
        change.deleteKey !== undefined ? 'delete_instance_metadata' : 'update_instance_metadata',
      );
    }
    const after = change.replace ?? { ...inst.metadata, ...(change.merge ?? {}) };
    checkMetadata(after, this.maxServerMeta);
  }

  readonly maxServerMeta = 128;

  diagnostics(ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
    return this.env.servers.find(ctx, id).then((inst) => diagnostics(this.env, ctx, inst));
  }

  /** @internal rebuild needs the host's SEV defaults */
  sevDefaults(): SevHostDefaults {
    return this.sev;
  }
}

type Handler = (
  ops: ServerOperations,
  ctx: RequestContext,
  inst: Awaited<ReturnType<ServerService['find']>>,
  arg: unknown,
) => Promise<ActionReply & { view?: boolean; adminPass?: string }>;

const accepted = { status: 202 };
const HANDLERS: Record<string, Handler> = {
  rebuild: async (ops, ctx, inst, arg) => {
    const r = await rebuild(ops.env, ctx, inst, arg, ops.sevDefaults());
    return { status: 202, view: true, adminPass: r.adminPass };
  },
  shelve: async (ops, ctx, inst, arg) => (await shelve(ops.env, ctx, inst, arg), accepted),
  shelveOffload: async (ops, ctx, inst, arg) => (await shelveOffload(ops.env, ctx, inst, arg), accepted),
  unshelve: async (ops, ctx, inst, arg) => (await unshelve(ops.env, ctx, inst, arg), accepted),
  createBackup: async (ops, ctx, inst, arg) => {
    const r = await createBackup(ops.env, ctx, inst, arg);
    return { status: 202, location: r.rotation > 0 ? r.imageId : undefined };
  },
  lock: async (ops, ctx, inst, arg) => (await lock(ops.env, ctx, inst, arg), accepted),
  unlock: async (ops, ctx, inst, arg) => (await unlock(ops.env, ctx, inst, arg), accepted),
  'os-resetState': async (ops, ctx, inst, arg) => (await resetState(ops.env, ctx, inst, arg), accepted),
  forceDelete: async (ops, ctx, inst, arg) => (await forceDelete(ops.env, ctx, inst, arg), accepted),
  restore: async (ops, ctx, inst, arg) => (await restore(ops.env, ctx, inst, arg), accepted),
  changePassword: async (ops, ctx, inst, arg) => (await changePassword(ops.env, ctx, inst, arg), accepted),
};
