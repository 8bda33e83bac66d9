// The instance_system_metadata table (migration 0003) and its queries on SQLite and on
// PostgreSQL (a throwaway cluster; skipped when the Debian binaries are missing).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, Repositories, type OpenedDatabase } from '../../src/db/index.js';
import { SystemMetadata } from '../../src/control/server-sysmeta.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../service/postgres.js';

function suite(meta: () => SystemMetadata) {
  test('set, overwrite, read, query by key, remove', async () => {
    const m = meta();
    const a = '00000000-0000-4000-8000-00000000000a';
    const b = '00000000-0000-4000-8000-00000000000b';
    await m.set(a, { shelved_image_id: 'img-1', shelved_at: '2026-01-01T00:00:00.000Z' });
    await m.set(a, { shelved_image_id: 'img-2' });
    await m.set(b, { locked_by: 'owner' });
    assert.deepEqual(await m.get(a), { shelved_image_id: 'img-2', shelved_at: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual([...(await m.withKey('locked_by')).entries()], [[b, 'owner']]);
    await m.remove(a, ['shelved_image_id']);
    assert.deepEqual(await m.get(a), { shelved_at: '2026-01-01T00:00:00.000Z' });
    await m.remove(a, []);
    await m.remove(b, ['locked_by', 'absent']);
    assert.deepEqual(await m.get(b), {});
  });
}

describe('instance system metadata on SQLite', () => {
  let dir: string;
  let opened: OpenedDatabase;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-sa-db-'));
    opened = await openDatabase({ statePath: dir });
  });
  after(async () => {
    await opened?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  suite(() => new SystemMetadata(new Repositories(opened.db)));
});

describe('instance system metadata on PostgreSQL', { skip: postgresUnavailable() }, () => {
  let pg: TestPostgres;
  let opened: OpenedDatabase;
  before(async () => {
    pg = await startPostgres();
    opened = await openDatabase({ connection: pg.url, statePath: '/nonexistent' });
  });
  after(async () => {
    await opened?.close();
    await pg?.stop();
  });
  suite(() => new SystemMetadata(new Repositories(opened.db)));
});
