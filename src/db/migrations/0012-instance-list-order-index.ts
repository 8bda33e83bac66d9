// The order of a project's server list is (created_at DESC, uuid DESC): uuid breaks the ties
// of servers created in the same millisecond (a multi-create). 0004's (project_id, deleted,
// created_at) left that last term to a sort of every row (SQLite: "USE TEMP B-TREE FOR LAST
// TERM OF ORDER BY"); with uuid in the index the rows come out of it in order. It replaces
// 0004's index, which is its prefix. Dialect-neutral (SQLite and PostgreSQL).
import type { Kysely, Migration } from 'kysely';

export const instanceListOrderIndex: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('instances_project_list')
      .on('instances')
      .columns(['project_id', 'deleted', 'created_at', 'uuid'])
      .execute();
    await db.schema.dropIndex('instances_project_created').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('instances_project_created')
      .on('instances')
      .columns(['project_id', 'deleted', 'created_at'])
      .execute();
    await db.schema.dropIndex('instances_project_list').execute();
  },
};
