// The repository suite against SQLite (a temp file, WAL) and a throwaway PostgreSQL cluster.
import { describe, before, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, Repositories, type OpenedDatabase } from '../../src/db/index.js';
import { claimSuite, repositorySuite } from './repo-suite.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from './postgres.js';

describe('repositories on SQLite', () => {
  let dir: string;
  let opened: OpenedDatabase;
  let repos: Repositories;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-service-db-'));
    opened = await openDatabase({ statePath: dir });
    repos = new Repositories(opened.db);
  });
  after(async () => {
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  });
  repositorySuite(() => repos);
  claimSuite(() => repos);
});

const skip = postgresUnavailable();
describe('repositories on PostgreSQL', { skip }, () => {
  let pg: TestPostgres;
  let opened: OpenedDatabase;
  let repos: Repositories;
  before(async () => {
    pg = await startPostgres();
    opened = await openDatabase({ connection: pg.url, statePath: '/nonexistent' });
    repos = new Repositories(opened.db);
  });
  after(async () => {
    await opened?.close();
    await pg?.stop();
  });
  repositorySuite(() => repos);
  claimSuite(() => repos);
});
