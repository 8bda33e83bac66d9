// Running host programs. Always an argument array, never a shell string: user data (image
// names, paths, properties) must never be parsed by a shell. Every call has a timeout, and
// untrusted inputs (qemu-img on an uploaded image) can run under resource limits via prlimit.
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Kill the process after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Bytes written to stdin, if any. */
  input?: string | Buffer;
  /** Resource limits applied with prlimit(1): CPU seconds and address space bytes. */
  limits?: { cpuSeconds?: number; addressSpaceBytes?: number };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Largest stdout/stderr kept, in bytes (default 16 MiB); more is dropped, not buffered. */
  maxOutputBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs argv[0] with argv[1..]; resolves whatever the exit status (see runChecked). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (argv.length === 0) throw new Error('run: empty argv');
  let cmd = argv[0];
  let args = argv.slice(1);
  if (opts.limits) {
    const pre: string[] = [];
    if (opts.limits.cpuSeconds !== undefined) pre.push(`--cpu=${opts.limits.cpuSeconds}`);
    if (opts.limits.addressSpaceBytes !== undefined) pre.push(`--as=${opts.limits.addressSpaceBytes}`);
    args = [...pre, '--', cmd, ...args];
    cmd = 'prlimit';
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const max = opts.maxOutputBytes ?? 16 * 1024 * 1024;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < max) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < max) err.push(b);
      errLen += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = e.code === 'ENOENT' ? ` (is ${cmd} installed? run: npm run setup)` : '';
      reject(new CommandError(argv, undefined, `${cmd}: ${e.message}${hint}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: performance.now() - started,
      });
    });
    child.stdin.on('error', () => undefined); // the child may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but rejects with a CommandError naming the command and its stderr when it fails. */
export async function runChecked(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.timedOut) {
    throw new CommandError(argv, r, `${argv[0]} timed out after ${opts.timeoutMs ?? 60_000} ms`);
  }
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
    throw new CommandError(
      argv,
      r,
      `${argv[0]} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}): ${tail}`,
    );
  }
  return r;
}
