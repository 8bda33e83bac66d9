// The server actions: every POST /servers/{id}/action goes through the action table
// (server-action-table.ts), every delete through server-delete.ts; this class holds their
// environment, the background work they start, diagnostics, and the timers for
// shelved_offload_time and reclaim_instance_interval.
import type { Repositories } from '../db/index.js';
import type { AgentDirectory } from './agent-directory.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import type { ImageService } from './images.js';
import type { ServerService } from './servers.js';
import type { SevHostDefaults } from './sev.js';
import type { ConsoleService } from './server-consoles.js';
import { SystemMetadata, SysMetaKey } from './server-sysmeta.js';
import type { ActionOutcome, OpsEnv, ServerOpsOptions } from './server-common.js';
import { runServerAction } from './server-action-table.js';
import { offloadLater } from './server-shelve.js';
import { diagnostics } from './server-admin.js';
import { deleteServer, reclaimSoftDeleted } from './server-delete.js';
import type { ServerPorts } from './network/server-ports.js';

export type { ServerOpsOptions, ActionOutcome } from './server-common.js';

export class ServerOperations {
  readonly env: OpsEnv;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private reclaimTimer?: NodeJS.Timeout;

  constructor(
    repos: Repositories,
    servers: ServerService,
    images: ImageService,
    agents: AgentDirectory,
    options: Partial<ServerOpsOptions> & {
      logger?: Logger;
      sev?: SevHostDefaults;
      consoles?: ConsoleService;
      network?: ServerPorts;
    } = {},
  ) {
    const log = (options.logger ?? silentLogger).child({ component: 'server-actions' });
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
      background: (p) =>
        servers.spawnBackground(
          p.catch((err) => log.error({ err }, 'server action failed in the background')),
        ),
      scheduleOffload: (uuid, delay) => this.scheduleOffload(uuid, delay),
      cancelOffload: (uuid) => {
        clearTimeout(this.timers.get(uuid));
        this.timers.delete(uuid);
      },
      sev: options.sev ?? {},
      consoles: options.consoles,
      network: options.network,
    };
  }

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

  /** Waits for control's background work, this module's included (tests, shutdown). */
  async settle(): Promise<void> {
    await this.env.servers.settle();
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

  /** POST /servers/{id}/action: the action table answers every name. */
  action(ctx: RequestContext, id: string, body: unknown): Promise<ActionOutcome> {
    return runServerAction(this.env, ctx, id, body);
  }

  /** DELETE /servers/{id}: the one delete path (soft with deferred delete, else for real). */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    await deleteServer(this.env, ctx, await this.env.servers.find(ctx, id), { force: false });
  }

  diagnostics(ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
    return this.env.servers.find(ctx, id).then((inst) => diagnostics(this.env, ctx, inst));
  }
}
