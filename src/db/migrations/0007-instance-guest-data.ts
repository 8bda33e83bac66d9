// What a guest is told about itself (Nova's instances columns of the same names): user_data
// (the base64 text as the API received it, up to 65,535 bytes), config_drive ('' or 'True', as
// the API shows it), hostname (the sanitised display name, fixed at create) and launch_index
// (the position in a multi-create). Existing rows get no user data, no config drive, a hostname
// made in SQL from the display name, and launch index 0. Dialect-neutral.
import { sql, type Kysely, type Migration } from 'kysely';

export const instanceGuestData: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('instances').addColumn('user_data', 'text').execute();
    await db.schema
      .alterTable('instances')
      .addColumn('config_drive', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .alterTable('instances')
      .addColumn('hostname', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .alterTable('instances')
      .addColumn('launch_index', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`UPDATE instances SET hostname = lower(replace(replace(display_name, ' ', '-'), '_', '-'))`.execute(
      db,
    );
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const c of ['launch_index', 'hostname', 'config_drive', 'user_data']) {
      await db.schema.alterTable('instances').dropColumn(c).execute();
    }
  },
};
