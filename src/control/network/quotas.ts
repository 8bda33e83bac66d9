// Per-project limits on networking resources (Neutron's defaults), overridable by an admin
// (PUT /v2.0/quotas/{project_id}); -1 means unlimited.
import type { NetworkResourceKind } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { invalidInput, notAuthorized, overQuota } from './errors.js';

export const QUOTA_DEFAULTS = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
} as const;

export type QuotaResource = keyof typeof QUOTA_DEFAULTS;
export type QuotaSet = Record<QuotaResource, number>;

export class Quotas {
  constructor(private readonly nc: NetworkContext) {}

  async get(projectId: string): Promise<QuotaSet> {
    const row = await this.nc.repos.networking.get<Partial<QuotaSet>>('quota', projectId);
    return { ...QUOTA_DEFAULTS, ...(row?.body ?? {}) };
  }

  async show(ctx: RequestContext, projectId: string): Promise<QuotaSet> {
    if (!ctx.isAdmin && projectId !== ctx.projectId)
      throw notAuthorized("Only an admin may read another project's quotas.");
    return this.get(projectId);
  }

  async details(
    ctx: RequestContext,
    projectId: string,
  ): Promise<Record<string, { limit: number; used: number; reserved: number }>> {
    const q = await this.show(ctx, projectId);
    const out: Record<string, { limit: number; used: number; reserved: number }> = {};
    for (const k of Object.keys(QUOTA_DEFAULTS) as QuotaResource[])
      out[k] = { limit: q[k], used: await this.nc.repos.networking.count(k, projectId), reserved: 0 };
    return out;
  }

  async update(ctx: RequestContext, projectId: string, body: unknown): Promise<QuotaSet> {
    if (!ctx.isAdmin) throw notAuthorized('Only an admin may change quotas.');
    const q = (body as { quota?: unknown } | null)?.quota;
    if (!q || typeof q !== 'object' || Array.isArray(q))
      throw invalidInput('The body must be {"quota": {...}}.');
    const current = await this.get(projectId);
    for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
      if (!(k in QUOTA_DEFAULTS))
        throw invalidInput(`Unrecognized quota '${k}'. Known: ${Object.keys(QUOTA_DEFAULTS).join(', ')}.`);
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
        throw invalidInput(`Invalid value for quota ${k}: '${String(v)}' (an integer, -1 for unlimited).`);
      current[k as QuotaResource] = n;
    }
    const existing = await this.nc.repos.networking.get('quota', projectId);
    if (existing) await this.nc.repos.networking.update('quota', projectId, current);
    else
      await this.nc.repos.networking.insert({
        id: projectId,
        kind: 'quota',
        projectId,
        parentId: null,
        deviceId: null,
        macAddress: null,
        body: current,
      });
    return current;
  }

  async reset(ctx: RequestContext, projectId: string): Promise<void> {
    if (!ctx.isAdmin) throw notAuthorized('Only an admin may change quotas.');
    await this.nc.repos.networking.delete('quota', projectId);
  }

  /** Refuses one more kind in projectId when the limit is reached. */
  async check(kind: NetworkResourceKind & QuotaResource, projectId: string): Promise<void> {
    const limit = (await this.get(projectId))[kind];
    if (limit < 0) return;
    if ((await this.nc.repos.networking.count(kind, projectId)) >= limit) throw overQuota(kind, limit);
  }
}
