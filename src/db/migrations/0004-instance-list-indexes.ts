// Indexes for the hot instance queries (src/db/repos/instances.ts list()):
// - GET /servers of a project: WHERE project_id = ? AND deleted = 0 ORDER BY created_at DESC —
//   (project_id, deleted, created_at) filters and sorts from the index. It replaces 0001's
//   (project_id, deleted), which is its prefix.
// - a compute host's instances (power-state sync every interval, start-up reconciliation):
//   WHERE deleted = 0 AND host = ? — (host, deleted).
// Dialect-neutral (SQLite and PostgreSQL).
import type { Kysely, Migration } from 'kysely';

export const instanceListIndexes: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('instances_project_created')
      .on('instances')
      .columns(['project_id', 'deleted', 'created_at'])
      .execute();
    await db.schema.dropIndex('instances_project').execute();
    await db.schema.createIndex('instances_host').on('instances').columns(['host', 'deleted']).execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('instances_host').execute();
    await db.schema
      .createIndex('instances_project')
      .on('instances')
      .columns(['project_id', 'deleted'])
      .execute();
    await db.schema.dropIndex('instances_project_created').execute();
  },
};
