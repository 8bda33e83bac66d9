// Brings the test Ceph up (scripts/ceph-up: idempotent, installs packages on a new machine) and
// tears it down again only when this process was the one that started it, so a developer's
// running cluster survives a test run while CI ends with nothing left.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/util/run.js';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const cephDir = resolve(process.env.CEPH_DIR ?? '/var/lib/kestrel-ceph');

export interface CephEnv {
  conf: string;
  /** The restricted client every test uses (profile rbd on pools images and vms). */
  user: string;
  fsid: string;
  startedHere: boolean;
  /** Stops the cluster when this process started it. */
  release(): Promise<void>;
}

function wasRunning(): boolean {
  const pid = join(cephDir, 'run', 'ceph-mon.a.pid');
  if (!existsSync(join(cephDir, '.ready')) || !existsSync(pid)) return false;
  try {
    process.kill(Number(readFileSync(pid, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

/** Ceph for a test file, or a reason to skip. */
export async function ensureCeph(): Promise<CephEnv | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'Ceph tests need root (scripts/ceph-up starts daemons)' };
  const before = wasRunning();
  const r = await run([join(repo, 'scripts/ceph-up')], { timeoutMs: 8 * 60_000 });
  if (r.code !== 0) {
    // Leave no half-made cluster behind (a mon that started before the OSD failed, say).
    if (!before) await run([join(repo, 'scripts/ceph-down')], { timeoutMs: 120_000 });
    return {
      skip: `scripts/ceph-up could not bring Ceph up (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`,
    };
  }
  const conf = r.stdout.trim().split('\n').pop() ?? '';
  const fsid = /^fsid = (\S+)/m.exec(readFileSync(conf, 'utf8'))?.[1] ?? '';
  return {
    conf,
    user: 'kestrel',
    fsid,
    startedHere: !before,
    async release() {
      if (before) return;
      const down = await run([join(repo, 'scripts/ceph-down')], { timeoutMs: 120_000 });
      if (down.code !== 0) throw new Error(`scripts/ceph-down failed: ${down.stderr}`);
    },
  };
}
