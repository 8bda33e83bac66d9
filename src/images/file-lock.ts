// An inter-process exclusive lock without native addons: flock(1) takes the lock on the file
// and then runs `cat`, which echoes a byte back once it runs (so we know the lock is held) and
// lives until we close its stdin. The kernel drops the lock when that process ends, so a
// crashed Kestrel never leaves a stale lock behind (unlike a pid file).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export class LockBusyError extends Error {
  constructor(
    readonly lockPath: string,
    waitedMs: number,
  ) {
    super(
      `could not lock ${lockPath} within ${Math.round(waitedMs / 1000)} s: another process holds it ` +
        '(an image download in progress?); retry later, or find the holder with: fuser -v ' +
        lockPath,
    );
    this.name = 'LockBusyError';
  }
}

export interface FileLockOptions {
  /** How long to wait; 0 tries once (non-blocking). Default 30 minutes (a long download). */
  timeoutMs?: number;
}

async function acquire(lockPath: string, timeoutMs: number): Promise<ChildProcessWithoutNullStreams> {
  await mkdir(dirname(lockPath), { recursive: true });
  const wait =
    timeoutMs <= 0 ? ['--nonblock'] : ['--timeout', String(Math.max(1, Math.ceil(timeoutMs / 1000)))];
  const child = spawn('flock', ['--exclusive', ...wait, '--conflict-exit-code', '75', lockPath, 'cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      if (code === 75) reject(new LockBusyError(lockPath, timeoutMs));
      else
        reject(
          new Error(`flock on ${lockPath} failed (exit ${code}): ${stderr.trim()}; is util-linux installed?`),
        );
    };
    child.once('error', (e) =>
      reject(new Error(`cannot run flock for ${lockPath}: ${e.message}; install util-linux`)),
    );
    child.once('exit', onExit);
    child.stdout.once('data', () => {
      child.off('exit', onExit);
      resolve(child);
    });
    child.stdin.write('L\n');
  });
}

async function release(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdin.end();
  await exited;
}

/** Runs fn while holding an exclusive lock on lockPath (created if missing). */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  opts: FileLockOptions = {},
): Promise<T> {
  const holder = await acquire(lockPath, opts.timeoutMs ?? 30 * 60_000);
  try {
    return await fn();
  } finally {
    await release(holder);
  }
}
