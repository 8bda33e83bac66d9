// What each compute host's agent last reported about itself (hypervisor type and version,
// virt type, CPU, sizes, traits, SEV slots), as one JSON document per host. The agent
// publishes it; os-hypervisors reads it from here and never asks an agent from a GET.
// Placement's inventories and traits stay in their own tables. Dialect-neutral.
import type { Kysely, Migration } from 'kysely';

export const computeHostReports: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('compute_host_reports')
      .addColumn('host', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('report', 'text', (c) => c.notNull())
      .addColumn('reported_at', 'varchar(40)', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('compute_host_reports').execute();
  },
};
