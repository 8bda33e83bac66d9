// Flavors (Compute v2.1 §2.5): create/delete are admin-only; extra specs Kestrel interprets
// are validated when written; private flavors are visible to admins and listed projects.
import { randomUUID } from 'node:crypto';
import type { Flavor, Repositories } from '../db/index.js';
import type { RequestContext } from './context.js';
import { badRequest, conflict, forbidden, notFound } from '../errors/index.js';
import { checkFreeText, checkMetadataKey, checkName } from './text-rules.js';
import { validateExtraSpec } from './validate.js';

export interface FlavorCreate {
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  id?: string | null;
  ephemeral?: number;
  swap?: number;
  rxtxFactor?: number;
  isPublic?: boolean;
}

export interface FlavorListQuery {
  isPublic?: boolean | null; // null = all (is_public=None)
  minDisk?: number;
  minRam?: number;
  limit?: number;
  marker?: string;
  sortKey?: string;
  sortDir?: 'asc' | 'desc';
}

const SORT_KEYS: Record<string, (f: Flavor) => string | number> = {
  flavorid: (f) => f.id,
  id: (f) => f.id,
  name: (f) => f.name,
  memory_mb: (f) => f.memoryMb,
  vcpus: (f) => f.vcpus,
  root_gb: (f) => f.rootGb,
  swap: (f) => f.swapMb,
  ephemeral_gb: (f) => f.ephemeralGb,
  rxtx_factor: (f) => f.rxtxFactor,
  created_at: (f) => f.createdAt,
};

export function requireAdmin(ctx: RequestContext, what: string): void {
  if (!ctx.isAdmin) throw forbidden(`Policy doesn't allow ${what} to be performed: it needs the admin role.`);
}

export class FlavorService {
  constructor(private readonly repos: Repositories) {}

  private async visible(ctx: RequestContext, f: Flavor, access?: Set<string>): Promise<boolean> {
    if (f.isPublic || ctx.isAdmin) return true;
    return (access ?? (await this.repos.flavors.accessibleTo(ctx.projectId))).has(f.id);
  }

  async get(ctx: RequestContext, id: string): Promise<Flavor> {
    const f = await this.repos.flavors.get(id);
    if (!f || !(await this.visible(ctx, f))) throw notFound(`Flavor ${id} could not be found.`);
    return f;
  }

  async list(ctx: RequestContext, q: FlavorListQuery): Promise<Flavor[]> {
    const access = await this.repos.flavors.accessibleTo(ctx.projectId);
    let all = await this.repos.flavors.list();
    all = all.filter((f) => {
      if (!ctx.isAdmin) {
        // Non-admins always see public flavors plus their own private ones.
        if (!f.isPublic && !access.has(f.id)) return false;
      } else if (q.isPublic !== null) {
        const want = q.isPublic ?? true;
        if (f.isPublic !== want) return false;
      }
      if (q.minDisk !== undefined && f.rootGb < q.minDisk) return false;
      if (q.minRam !== undefined && f.memoryMb < q.minRam) return false;
      return true;
    });
    const keyName = q.sortKey ?? 'flavorid';
    const key = SORT_KEYS[keyName];
    if (!key) throw badRequest(`sort_key ${keyName} is not one of ${Object.keys(SORT_KEYS).join(', ')}.`);
    const dir = q.sortDir === 'desc' ? -1 : 1;
    all.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c =
        typeof x === 'number' && typeof y === 'number'
          ? x - y
          : String(x).localeCompare(String(y), 'en', { numeric: true });
      return c * dir;
    });
    if (q.marker !== undefined) {
      const i = all.findIndex((f) => f.id === q.marker);
      if (i < 0) throw badRequest(`marker [${q.marker}] not found`);
      all = all.slice(i + 1);
    }
    if (q.limit !== undefined) all = all.slice(0, q.limit);
    return all;
  }

  async create(ctx: RequestContext, c: FlavorCreate): Promise<Flavor> {
    requireAdmin(ctx, 'os_compute_api:os-flavor-manage:create');
    const name = checkName('name', c.name);
    const int = (v: number | undefined, what: string, min: number, max = 2 ** 31 - 1) => {
      const n = v ?? 0;
      if (!Number.isInteger(n) || n < min || n > max)
        throw badRequest(
          `Invalid input for field/attribute ${what}: must be a whole number from ${min} to ${max}.`,
        );
      return n;
    };
    let id = c.id ?? undefined;
    if (id === undefined || id === 'auto' || id === null) id = randomUUID();
    if (!/^[\w.\- ]{1,255}$/.test(id))
      throw badRequest('Flavor ids are 1 to 255 letters, digits, "_", "-", "." or spaces.');
    if (await this.repos.flavors.get(id)) throw conflict(`Flavor with ID ${id} already exists.`);
    if (await this.repos.flavors.findByName(name)) throw conflict(`Flavor with name ${name} already exists.`);
    const rx = c.rxtxFactor ?? 1;
    if (!(rx > 0)) throw badRequest('rxtx_factor must be a number greater than 0.');
    try {
      return await this.repos.flavors.create({
        id,
        name,
        memoryMb: int(c.ram, 'ram', 1),
        vcpus: int(c.vcpus, 'vcpus', 1),
        rootGb: int(c.disk, 'disk', 0),
        ephemeralGb: int(c.ephemeral, 'OS-FLV-EXT-DATA:ephemeral', 0),
        swapMb: int(c.swap, 'swap', 0),
        rxtxFactor: rx,
        isPublic: c.isPublic ?? true,
      });
    } catch (e) {
      // A concurrent create with the same id or name lost the race at the unique constraint.
      if (/unique|duplicate/i.test(String((e as Error).message)))
        throw conflict(`Flavor ${name} (${id}) already exists.`);
      throw e;
    }
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    requireAdmin(ctx, 'os_compute_api:os-flavor-manage:delete');
    if (!(await this.repos.flavors.delete(id))) throw notFound(`Flavor ${id} could not be found.`);
  }

  async extraSpecs(ctx: RequestContext, id: string): Promise<Record<string, string>> {
    await this.get(ctx, id);
    return this.repos.flavors.extraSpecs(id);
  }

  async setExtraSpecs(
    ctx: RequestContext,
    id: string,
    specs: Record<string, unknown>,
  ): Promise<Record<string, string>> {
    requireAdmin(ctx, 'os_compute_api:os-flavor-extra-specs:create');
    await this.get(ctx, id);
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(specs)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw badRequest(`extra spec ${k}: the value must be a string.`);
      }
      const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
      checkMetadataKey('extra_specs', k);
      checkFreeText(`extra_specs.${k}`, s);
      validateExtraSpec(k, s);
      clean[k] = s;
    }
    await this.repos.flavors.setExtraSpecs(id, clean);
    return clean;
  }

  async deleteExtraSpec(ctx: RequestContext, id: string, key: string): Promise<void> {
    requireAdmin(ctx, 'os_compute_api:os-flavor-extra-specs:delete');
    await this.get(ctx, id);
    if (!(await this.repos.flavors.deleteExtraSpec(id, key))) {
      throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
    }
  }

  async access(ctx: RequestContext, id: string): Promise<string[]> {
    const f = await this.get(ctx, id);
    if (f.isPublic) throw notFound(`Access list not available for public flavors.`);
    return this.repos.flavors.accessList(id);
  }

  async addAccess(ctx: RequestContext, id: string, projectId: string, add: boolean): Promise<string[]> {
    requireAdmin(ctx, 'os_compute_api:os-flavor-access');
    const f = await this.get(ctx, id);
    if (f.isPublic) throw conflict(`Cannot change the access list of public flavor ${id}.`);
    if (add) await this.repos.flavors.addAccess(id, projectId);
    else if (!(await this.repos.flavors.removeAccess(id, projectId))) {
      throw notFound(`Flavor access not found for ${id} / ${projectId} combination.`);
    }
    return this.repos.flavors.accessList(id);
  }
}
