// Flavors, their extra specs and (for private flavors) the projects that may use them.
import { type Db, nowIso, toBool, toInt } from './util.js';

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  rxtxFactor: number;
  isPublic: boolean;
  disabled: boolean;
  createdAt: string;
}

export type NewFlavor = Omit<Flavor, 'createdAt' | 'disabled'> & { disabled?: boolean };

type Row = {
  id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  ephemeral_gb: number;
  swap_mb: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  created_at: string;
};

function fromRow(r: Row): Flavor {
  return {
    id: r.id,
    name: r.name,
    vcpus: Number(r.vcpus),
    memoryMb: Number(r.memory_mb),
    rootGb: Number(r.root_gb),
    ephemeralGb: Number(r.ephemeral_gb),
    swapMb: Number(r.swap_mb),
    rxtxFactor: Number(r.rxtx_factor),
    isPublic: toBool(r.is_public),
    disabled: toBool(r.disabled),
    createdAt: r.created_at,
  };
}

export class FlavorRepo {
  constructor(private readonly db: Db) {}

  async create(f: NewFlavor): Promise<Flavor> {
    const row: Row = {
      id: f.id,
      name: f.name,
      vcpus: f.vcpus,
      memory_mb: f.memoryMb,
      root_gb: f.rootGb,
      ephemeral_gb: f.ephemeralGb,
      swap_mb: f.swapMb,
      rxtx_factor: f.rxtxFactor,
      is_public: toInt(f.isPublic),
      disabled: toInt(f.disabled ?? false),
      created_at: nowIso(),
    };
    await this.db.insertInto('flavors').values(row).execute();
    return fromRow(row);
  }

  async get(id: string): Promise<Flavor | undefined> {
    const r = await this.db.selectFrom('flavors').selectAll().where('id', '=', id).executeTakeFirst();
    return r && fromRow(r);
  }

  async findByName(name: string): Promise<Flavor | undefined> {
    const r = await this.db.selectFrom('flavors').selectAll().where('name', '=', name).executeTakeFirst();
    return r && fromRow(r);
  }

  async list(): Promise<Flavor[]> {
    const rows = await this.db.selectFrom('flavors').selectAll().execute();
    return rows.map(fromRow);
  }

  async delete(id: string): Promise<boolean> {
    await this.db.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).execute();
    await this.db.deleteFrom('flavor_access').where('flavor_id', '=', id).execute();
    const r = await this.db.deleteFrom('flavors').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async extraSpecs(id: string): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom('flavor_extra_specs')
      .select(['key', 'value'])
      .where('flavor_id', '=', id)
      .orderBy('key')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Merges the given specs into the flavor's (new keys added, existing replaced). */
  async setExtraSpecs(id: string, specs: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(specs)) {
      await this.db
        .insertInto('flavor_extra_specs')
        .values({ flavor_id: id, key, value })
        .onConflict((oc) => oc.columns(['flavor_id', 'key']).doUpdateSet({ value }))
        .execute();
    }
  }

  async deleteExtraSpec(id: string, key: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('flavor_extra_specs')
      .where('flavor_id', '=', id)
      .where('key', '=', key)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async accessList(id: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('flavor_access')
      .select('project_id')
      .where('flavor_id', '=', id)
      .execute();
    return rows.map((r) => r.project_id);
  }

  async addAccess(id: string, projectId: string): Promise<void> {
    await this.db
      .insertInto('flavor_access')
      .values({ flavor_id: id, project_id: projectId })
      .onConflict((oc) => oc.columns(['flavor_id', 'project_id']).doNothing())
      .execute();
  }

  async removeAccess(id: string, projectId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('flavor_access')
      .where('flavor_id', '=', id)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Flavor ids the project may use besides the public ones. */
  async accessibleTo(projectId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('flavor_access')
      .select('flavor_id')
      .where('project_id', '=', projectId)
      .execute();
    return new Set(rows.map((r) => r.flavor_id));
  }
}
