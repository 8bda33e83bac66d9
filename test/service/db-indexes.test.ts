// Migrations 0004 and 0012: the hot instance queries use their indexes (SQLite's query plan
// says which), and a project's server list needs no sort of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { openDatabase, type OpenedDatabase } from '../../src/db/index.js';
import { InstanceRepo } from '../../src/db/repos/instances.js';

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

test("a project's server list filters and sorts from (project_id, deleted, created_at, uuid)", async () => {
  const p = await plan(
    "SELECT * FROM instances WHERE deleted = 0 AND project_id = 'p1' ORDER BY created_at DESC, uuid DESC",
  );
  assert.match(p, /USING INDEX instances_project_list/);
  assert.doesNotMatch(p, /TEMP B-TREE/, 'no separate sort');
});

test('the server list comes newest first, servers of the same millisecond by uuid descending', async () => {
  const repo = new InstanceRepo(opened.db);
  const flavor = {
    id: 'f',
    name: 'f',
    vcpus: 1,
    memoryMb: 64,
    rootGb: 1,
    ephemeralGb: 0,
    swapMb: 0,
    extraSpecs: {},
  };
  const uuids = Array.from({ length: 40 }, () => randomUUID());
  for (const uuid of uuids) {
    await repo.create({
      uuid,
      displayName: 'order',
      projectId: 'p-order',
      userId: 'u',
      flavor,
      imageId: 'i',
      availabilityZone: 'nova',
      keyName: null,
      metadata: {},
      reservationId: 'r',
      accessIpv4: '',
      accessIpv6: '',
      diskConfig: 'AUTO',
    });
  }
  // 40 servers in 4 milliseconds: 10 share each created_at
  for (const [n, uuid] of uuids.entries()) {
    await sql`UPDATE instances SET created_at = ${`2026-01-01T00:00:00.00${n % 4}Z`} WHERE uuid = ${uuid}`.execute(
      opened.db,
    );
  }
  const got = (await repo.list({ projectId: 'p-order' })).map((i) => `${i.createdAt} ${i.uuid}`);
  const want = [...got].sort().reverse();
  assert.equal(got.length, 40);
  assert.deepEqual(got, want);
});

test("a host's instances come from (host, deleted)", async () => {
  assert.match(
    await plan("SELECT uuid FROM instances WHERE deleted = 0 AND host = 'h1'"),
    /USING INDEX instances_host/,
  );
});
