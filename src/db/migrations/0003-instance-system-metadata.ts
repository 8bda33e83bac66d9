// Instance system metadata (Nova's instance_system_metadata): service-owned key/value facts
// about an instance that the API's user metadata must not carry — the shelved image and when
// it was shelved, who locked the server, when it was soft-deleted. Dialect-neutral.
import type { Kysely, Migration } from 'kysely';

export const instanceSystemMetadata: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('instance_system_metadata')
      .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('instance_system_metadata_pk', ['instance_uuid', 'key'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('instance_system_metadata').execute();
  },
};
