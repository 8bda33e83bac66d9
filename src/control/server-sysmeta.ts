// The instance_system_metadata table (migration 0003): service-owned facts per instance
// (shelved image, lock owner, soft-delete time). Kept out of schema.ts so the server-actions
// area owns its table; the same queries run on SQLite and PostgreSQL.
import type { Kysely } from 'kysely';
import type { Repositories } from '../db/index.js';

interface SysMetaTable {
  instance_uuid: string;
  key: string;
  value: string;
}
type SysMetaDb = Kysely<{ instance_system_metadata: SysMetaTable }>;

/** Keys this area writes. */
export const SysMetaKey = {
  shelvedImageId: 'shelved_image_id',
  shelvedAt: 'shelved_at',
  shelvedHost: 'shelved_host',
  lockedBy: 'locked_by',
  softDeletedAt: 'soft_deleted_at',
} as const;

export class SystemMetadata {
  constructor(private readonly repos: Repositories) {}

  private get db(): SysMetaDb {
    return this.repos.db as unknown as SysMetaDb;
  }

  async get(uuid: string): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom('instance_system_metadata')
      .selectAll()
      .where('instance_uuid', '=', uuid)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  async set(uuid: string, values: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
      await this.db
        .insertInto('instance_system_metadata')
        .values({ instance_uuid: uuid, key, value })
        .onConflict((oc) => oc.columns(['instance_uuid', 'key']).doUpdateSet({ value }))
        .execute();
    }
  }

  async remove(uuid: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db
      .deleteFrom('instance_system_metadata')
      .where('instance_uuid', '=', uuid)
      .where('key', 'in', keys)
      .execute();
  }

  /** Instances having a key, with its value (the reclaim timer's query). */
  async withKey(key: string): Promise<Map<string, string>> {
    const rows = await this.db
      .selectFrom('instance_system_metadata')
      .selectAll()
      .where('key', '=', key)
      .execute();
    return new Map(rows.map((r) => [r.instance_uuid, r.value]));
  }
}
