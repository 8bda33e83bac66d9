// Networking v2 resources (networks, subnets, ports, security groups and rules, routers,
// floating IPs). Each is a document of Neutron's fields (many are lists: fixed_ips,
// allocation_pools, security_groups, allowed_address_pairs …), so a row keeps the document as
// JSON text and lifts out only what queries select by: kind, project, parent (a subnet's or port's network, a
// rule's security group), device. Two
// things the database itself must make unique live in their own columns and tables:
// - a MAC address is unique within a network (parent_id, mac_address);
// - a fixed IP is given once per subnet (network_ip_allocations' primary key), so two
//   concurrent port creates can never receive the same address.
// Dialect-neutral (SQLite and PostgreSQL).
import type { Kysely, Migration } from 'kysely';

export const networking: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('network_resources')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('kind', 'varchar(32)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('parent_id', 'varchar(36)')
      .addColumn('device_id', 'varchar(255)')
      .addColumn('mac_address', 'varchar(17)')
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('network_resources_kind_project')
      .on('network_resources')
      .columns(['kind', 'project_id'])
      .execute();
    await db.schema
      .createIndex('network_resources_kind_parent')
      .on('network_resources')
      .columns(['kind', 'parent_id'])
      .execute();
    await db.schema
      .createIndex('network_resources_kind_device')
      .on('network_resources')
      .columns(['kind', 'device_id'])
      .execute();
    await db.schema
      .createIndex('network_resources_mac')
      .on('network_resources')
      .columns(['parent_id', 'mac_address'])
      .unique()
      .execute();
    await db.schema
      .createTable('network_ip_allocations')
      .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
      .addColumn('port_id', 'varchar(36)', (c) => c.notNull())
      .addPrimaryKeyConstraint('network_ip_allocations_pk', ['subnet_id', 'ip_address'])
      .execute();
    await db.schema
      .createIndex('network_ip_allocations_port')
      .on('network_ip_allocations')
      .columns(['port_id'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('network_ip_allocations').execute();
    await db.schema.dropTable('network_resources').execute();
  },
};
