// Console tokens (Nova's console_auth_tokens): one row per console URL handed out, keyed by the
// SHA-256 of the token (the token itself is never stored). Kept in the database rather than in
// memory so a URL stays good across a restart of `kestrel serve` within its TTL, and so the
// proxy on a controller can check tokens the API of another controller issued (several hosts).
// used_at marks a spent token until it expires, so a reuse is told apart from a wrong token.
// Times are ISO-8601 UTC text (lexical order is time order), as elsewhere in the schema.
// Dialect-neutral (SQLite and PostgreSQL).
import type { Kysely, Migration } from 'kysely';

export const consoleAuthTokens: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('console_auth_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('console_type', 'text', (c) => c.notNull())
      .addColumn('instance_uuid', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createIndex('console_auth_tokens_instance')
      .on('console_auth_tokens')
      .column('instance_uuid')
      .execute();
    await db.schema
      .createIndex('console_auth_tokens_expires')
      .on('console_auth_tokens')
      .column('expires_at')
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('console_auth_tokens').execute();
  },
};
