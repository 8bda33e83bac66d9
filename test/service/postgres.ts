// A throwaway PostgreSQL cluster for tests: initdb in a temp dir as the postgres user, a
// server on a unix socket in that dir (no TCP port to collide on), removed on stop().
// CI has no running PostgreSQL; tests that need one start it here and skip when the Debian
// binaries are missing.
import { existsSync, mkdtempSync, chownSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, runChecked } from '../../src/util/run.js';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(base, v, 'bin');
    if (existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

function uidGid(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (!postgresBinDir())
    return 'PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)';
  if (process.getuid?.() !== 0)
    return 'starting a throwaway cluster needs root (it runs initdb as the postgres user)';
  if (!uidGid('postgres')) return 'no postgres user';
  return undefined;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir()!;
  const ids = uidGid('postgres')!;
  const dir = mkdtempSync(join(tmpdir(), 'kt-service-pg-'));
  chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const asPg = (argv: string[]) => ['runuser', '-u', 'postgres', '--', ...argv];
  await runChecked(
    asPg([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']),
    {
      timeoutMs: 60_000,
    },
  );
  await runChecked(
    asPg([
      join(bin, 'pg_ctl'),
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-k ${dir} -h '' -c fsync=off -c full_page_writes=off -c max_connections=50`,
      'start',
    ]),
    { timeoutMs: 90_000 },
  );
  const url = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`;
  return {
    url,
    async stop() {
      await run(asPg([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']), {
        timeoutMs: 60_000,
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
