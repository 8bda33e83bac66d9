// Guest NUMA placement (Nova's compute_nodes.numa_topology and instance_extra.numa_topology):
// each compute host's NUMA topology as it published it, and the host cells, pinned CPUs and
// page sizes each NUMA guest holds there. Plain JSON text, dialect-neutral.
import type { Kysely, Migration } from 'kysely';

export const numa: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('provider_numa_topologies')
      .addColumn('provider_uuid', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('topology', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('numa_placements')
      .addColumn('consumer_uuid', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('provider_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('placement', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('numa_placements_provider_idx')
      .on('numa_placements')
      .column('provider_uuid')
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('numa_placements').execute();
    await db.schema.dropTable('provider_numa_topologies').execute();
  },
};
