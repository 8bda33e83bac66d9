// A prepared-statement cache in front of better-sqlite3 for Kysely's SQLite dialect, which
// prepares every query afresh. Each prepare allocates a native sqlite3_stmt that lives until
// V8 collects its wrapper: 1,000 servers created in one transaction left 2,000 of them to the
// garbage collector and about 20 MB of malloc'd memory that glibc never gave back (V8's heap
// did not grow at all). Kestrel runs a few dozen distinct SQL texts, each then prepared once.
import type { Database as SqliteDb, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Most recently used statements kept (distinct SQL texts; IN lists vary in length). */
const MAX_STATEMENTS = 200;

export function withStatementCache(db: SqliteDb, max = MAX_STATEMENTS): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string): Statement {
      let stmt = cache.get(sql);
      if (stmt && !stmt.busy) {
        cache.delete(sql); // re-inserted below: the Map's order is the use order
      } else {
        // busy: an iterate() over the same SQL is still open; that one stays cached
        if (stmt) return db.prepare(sql);
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
