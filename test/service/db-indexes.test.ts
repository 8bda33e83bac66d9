// Migration 0004: the hot instance queries use their indexes (SQLite's query plan says which).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase, type OpenedDatabase } from '../../src/db/index.js';

let dir: string;
let opened: OpenedDatabase;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kt-service-idx-'));
  opened = await openDatabase({ statePath: dir });
});
after(async () => {
  await opened.close();
  rmSync(dir, { recursive: true, force: true });
});

async function plan(query: string): Promise<string> {
  const r = await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${sql.raw(query)}`.execute(opened.db);
  return r.rows.map((x) => x.detail).join('\n');
}

test("a project's server list filters and sorts from (project_id, deleted, created_at)", async () => {
  const p = await plan(
    "SELECT uuid FROM instances WHERE deleted = 0 AND project_id = 'p1' ORDER BY created_at DESC",
  );
  assert.match(p, /USING INDEX instances_project_created/);
  assert.doesNotMatch(p, /TEMP B-TREE/, 'no separate sort');
});

test("a host's instances come from (host, deleted)", async () => {
  assert.match(
    await plan("SELECT uuid FROM instances WHERE deleted = 0 AND host = 'h1'"),
    /USING INDEX instances_host/,
  );
});
