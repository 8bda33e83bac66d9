// Opening the database: SQLite (better-sqlite3, WAL, busy_timeout) in state_path by default,
// PostgreSQL with `[database] connection = postgresql://…`. Both run the same migrations.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type MigrationProvider,
  type Migration,
} from 'kysely';
import type { Database } from './schema.js';
import { withStatementCache } from './sqlite-statements.js';
import { initial } from './migrations/0001-initial.js';
import { instanceSystemMetadata } from './migrations/0003-instance-system-metadata.js';
import { instanceListIndexes } from './migrations/0004-instance-list-indexes.js';
import { computeHostReports } from './migrations/0005-compute-host-reports.js';
import { instanceListOrderIndex } from './migrations/0012-instance-list-order-index.js';
import { numa } from './migrations/0008-numa.js';
import { instanceGuestData } from './migrations/0007-instance-guest-data.js';
import { consoleAuthTokens } from './migrations/0010-console-auth-tokens.js';
import { networking } from './migrations/0006-networking.js';

export type DatabaseKind = 'sqlite' | 'postgresql';

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: DatabaseKind;
  /** Where it is, without any password (for banners and logs). */
  description: string;
  close(): Promise<void>;
}

export class DatabaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigError';
  }
}

const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0003-instance-system-metadata': instanceSystemMetadata,
  '0004-instance-list-indexes': instanceListIndexes,
  '0005-compute-host-reports': computeHostReports,
  '0012-instance-list-order-index': instanceListOrderIndex,
  '0008-numa': numa,
  '0007-instance-guest-data': instanceGuestData,
  '0010-console-auth-tokens': consoleAuthTokens,
  '0006-networking': networking,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

export interface ParsedConnection {
  kind: DatabaseKind;
  /** sqlite: a file path or ':memory:'; postgresql: the URL as pg accepts it. */
  target: string;
}

/**
 * Reads an oslo.db-style connection string. Empty → SQLite in state_path.
 * `sqlite:////abs/path.db` (four slashes: absolute), `sqlite://` (memory),
 * `postgresql://user:pw@host:port/db`, `postgresql+psycopg2://…` (Nova's driver suffix is dropped).
 */
export function parseConnection(connection: string | undefined, statePath: string): ParsedConnection {
  const c = (connection ?? '').trim();
  if (c === '') return { kind: 'sqlite', target: join(statePath, 'kestrel.sqlite') };
  const m = /^([a-z0-9]+)(\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(c);
  if (!m) {
    throw new DatabaseConfigError(
      `[database] connection "${redact(c)}" is not a database URL. Fix: use sqlite:////var/lib/kestrel/kestrel.sqlite or postgresql://user:password@host/dbname, or leave it empty for SQLite in state_path.`,
    );
  }
  const scheme = m[1].toLowerCase();
  const rest = m[3];
  if (scheme === 'sqlite') {
    if (rest === '' || rest === '/' || rest === '/:memory:') return { kind: 'sqlite', target: ':memory:' };
    // sqlite:///relative.db → "relative.db"; sqlite:////abs.db → "/abs.db"
    const path = rest.startsWith('/') ? rest.slice(1) : rest;
    return { kind: 'sqlite', target: path.split('?')[0] };
  }
  if (scheme === 'postgresql' || scheme === 'postgres') {
    return { kind: 'postgresql', target: `postgresql://${rest}` };
  }
  throw new DatabaseConfigError(
    `[database] connection uses "${scheme}", which Kestrel does not support. Fix: use sqlite:// or postgresql://.`,
  );
}

/** The URL with its password replaced, safe to print. */
export function redact(url: string): string {
  return url.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export async function openDatabase(opts: {
  connection?: string;
  statePath: string;
  /** Run pending migrations (default true). */
  migrate?: boolean;
}): Promise<OpenedDatabase> {
  const parsed = parseConnection(opts.connection, opts.statePath);
  let db: Kysely<Database>;
  let description: string;
  if (parsed.kind === 'sqlite') {
    if (parsed.target !== ':memory:') mkdirSync(dirname(parsed.target), { recursive: true, mode: 0o700 });
    let sqlite: SQLite.Database;
    try {
      sqlite = new SQLite(parsed.target);
    } catch (e) {
      throw new DatabaseConfigError(
        `cannot open the SQLite database ${parsed.target}: ${(e as Error).message}. Fix: check that the directory exists and is writable by this user.`,
      );
    }
    // WAL lets readers run beside the single writer; busy_timeout waits for a lock instead of failing.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    description = `sqlite ${parsed.target}`;
  } else {
    const pool = new pg.Pool({
      connectionString: parsed.target,
      max: 10,
      // bigint (int8) columns as JS numbers: image sizes stay far below 2^53.
      types: {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format),
      } as pg.CustomTypesConfig,
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    description = `postgresql ${redact(parsed.target)}`;
  }
  if (opts.migrate !== false) {
    try {
      await migrate(db);
    } catch (e) {
      await db.destroy();
      throw new DatabaseConfigError(
        `cannot prepare the database (${description}): ${(e as Error).message}. Fix: check that the server is reachable and the user may create tables.`,
      );
    }
  }
  return { db, kind: parsed.kind, description, close: () => db.destroy() };
}

export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new StaticProvider(),
    migrationTableName: 'kestrel_migrations',
    migrationLockTableName: 'kestrel_migrations_lock',
    // Migrations are numbered when a feature is begun and land in the order features finish,
    // so a database may already hold a higher number than one that arrives later; each
    // migration only adds its own tables and indexes, so running it then is safe.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(
      `migration ${failed?.migrationName ?? '?'} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
