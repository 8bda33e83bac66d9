// The first schema. Dialect-neutral: the same Migration runs on SQLite and PostgreSQL; the
// only difference (an auto-increment id column) is chosen from the connected adapter.
import { PostgresAdapter, type Kysely, type Migration, type CreateTableBuilder } from 'kysely';

function serialId<T extends string>(db: Kysely<unknown>, t: CreateTableBuilder<T, never>) {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? t.addColumn('id', 'serial', (c) => c.primaryKey())
    : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const s = db.schema;
    await s
      .createTable('projects')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addUniqueConstraint('projects_name_domain', ['domain_id', 'name'])
      .execute();
    await s
      .createTable('users')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('default_project_id', 'varchar(64)')
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addUniqueConstraint('users_name_domain', ['domain_id', 'name'])
      .execute();
    await s
      .createTable('roles')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .execute();
    await s
      .createTable('role_assignments')
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
      .addPrimaryKeyConstraint('role_assignments_pk', ['user_id', 'project_id', 'role_id'])
      .execute();
    await s
      .createTable('tokens')
      .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)')
      .addColumn('methods', 'varchar(255)', (c) => c.notNull())
      .addColumn('audit_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('issued_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
      .execute();
    await s.createIndex('tokens_expires').on('tokens').column('expires_at').execute();
    await s
      .createTable('counters')
      .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('value', 'integer', (c) => c.notNull())
      .execute();
    await s
      .createTable('flavors')
      .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('root_gb', 'integer', (c) => c.notNull())
      .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
      .addColumn('swap_mb', 'integer', (c) => c.notNull())
      .addColumn('rxtx_factor', 'real', (c) => c.notNull())
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .execute();
    await s
      .createTable('flavor_extra_specs')
      .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('value', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavor_id', 'key'])
      .execute();
    await s
      .createTable('flavor_access')
      .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_access_pk', ['flavor_id', 'project_id'])
      .execute();
    await s
      .createTable('images')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)')
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('visibility', 'varchar(32)', (c) => c.notNull())
      .addColumn('protected', 'integer', (c) => c.notNull())
      .addColumn('os_hidden', 'integer', (c) => c.notNull())
      .addColumn('owner', 'varchar(64)')
      .addColumn('container_format', 'varchar(32)')
      .addColumn('disk_format', 'varchar(32)')
      .addColumn('min_disk', 'integer', (c) => c.notNull())
      .addColumn('min_ram', 'integer', (c) => c.notNull())
      .addColumn('size', 'bigint')
      .addColumn('virtual_size', 'bigint')
      .addColumn('checksum', 'varchar(32)')
      .addColumn('os_hash_algo', 'varchar(16)')
      .addColumn('os_hash_value', 'varchar(128)')
      .addColumn('location', 'text')
      .addColumn('failure', 'text')
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
      .execute();
    await s
      .createTable('image_properties')
      .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_properties_pk', ['image_id', 'key'])
      .execute();
    await s
      .createTable('image_tags')
      .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('tag', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_tags_pk', ['image_id', 'tag'])
      .execute();
    await s
      .createTable('instances')
      .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('number', 'integer', (c) => c.notNull().unique())
      .addColumn('display_name', 'varchar(255)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('flavor_json', 'text', (c) => c.notNull())
      .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('vm_state', 'varchar(32)', (c) => c.notNull())
      .addColumn('task_state', 'varchar(32)')
      .addColumn('power_state', 'integer', (c) => c.notNull())
      .addColumn('host', 'varchar(255)')
      .addColumn('node', 'varchar(255)')
      .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
      .addColumn('key_name', 'varchar(255)')
      .addColumn('metadata_json', 'text', (c) => c.notNull())
      .addColumn('reservation_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('locked', 'integer', (c) => c.notNull())
      .addColumn('access_ipv4', 'varchar(64)', (c) => c.notNull())
      .addColumn('access_ipv6', 'varchar(64)', (c) => c.notNull())
      .addColumn('disk_config', 'varchar(16)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('launched_at', 'varchar(40)')
      .addColumn('terminated_at', 'varchar(40)')
      .addColumn('deleted', 'integer', (c) => c.notNull())
      .addColumn('deleted_at', 'varchar(40)')
      .execute();
    await s.createIndex('instances_project').on('instances').columns(['project_id', 'deleted']).execute();
    await s
      .createTable('instance_actions')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('action', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('start_time', 'varchar(40)', (c) => c.notNull())
      .addColumn('finish_time', 'varchar(40)')
      .addColumn('message', 'text')
      .execute();
    await s
      .createIndex('instance_actions_instance')
      .on('instance_actions')
      .columns(['instance_uuid', 'request_id'])
      .execute();
    await serialId(db, s.createTable('instance_action_events'))
      .addColumn('action_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('event', 'varchar(255)', (c) => c.notNull())
      .addColumn('start_time', 'varchar(40)', (c) => c.notNull())
      .addColumn('finish_time', 'varchar(40)')
      .addColumn('result', 'varchar(32)')
      .addColumn('traceback', 'text')
      .execute();
    await s
      .createIndex('instance_action_events_action')
      .on('instance_action_events')
      .column('action_id')
      .execute();
    await serialId(db, s.createTable('instance_faults'))
      .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('code', 'integer', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .execute();
    await s.createIndex('instance_faults_instance').on('instance_faults').column('instance_uuid').execute();
    await s
      .createTable('keypairs')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'varchar(128)', (c) => c.notNull())
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addUniqueConstraint('keypairs_user_name', ['user_id', 'name'])
      .execute();
    await s
      .createTable('resource_providers')
      .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('number', 'integer', (c) => c.notNull().unique())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .execute();
    await s
      .createTable('inventories')
      .addColumn('provider_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('resource_class', 'varchar(64)', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('reserved', 'integer', (c) => c.notNull())
      .addColumn('min_unit', 'integer', (c) => c.notNull())
      .addColumn('max_unit', 'integer', (c) => c.notNull())
      .addColumn('step_size', 'integer', (c) => c.notNull())
      .addColumn('allocation_ratio', 'real', (c) => c.notNull())
      .addPrimaryKeyConstraint('inventories_pk', ['provider_uuid', 'resource_class'])
      .execute();
    await s
      .createTable('provider_traits')
      .addColumn('provider_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('trait', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('provider_traits_pk', ['provider_uuid', 'trait'])
      .execute();
    await s
      .createTable('allocations')
      .addColumn('consumer_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('provider_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('resource_class', 'varchar(64)', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('allocations_pk', ['consumer_uuid', 'provider_uuid', 'resource_class'])
      .execute();
    await s.createIndex('allocations_provider').on('allocations').column('provider_uuid').execute();
    await s
      .createTable('services')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('binary', 'varchar(255)', (c) => c.notNull())
      .addColumn('topic', 'varchar(255)', (c) => c.notNull())
      .addColumn('zone', 'varchar(255)', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('disabled_reason', 'text')
      .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
      .addUniqueConstraint('services_host_binary', ['host', 'binary'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const t of [
      'services',
      'allocations',
      'provider_traits',
      'inventories',
      'resource_providers',
      'keypairs',
      'instance_faults',
      'instance_action_events',
      'instance_actions',
      'instances',
      'image_tags',
      'image_properties',
      'images',
      'flavor_access',
      'flavor_extra_specs',
      'flavors',
      'counters',
      'tokens',
      'role_assignments',
      'roles',
      'users',
      'projects',
    ]) {
      await db.schema.dropTable(t).ifExists().execute();
    }
  },
};
