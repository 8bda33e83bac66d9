// A throwaway nats-server for tests: JetStream on with its store in a temp dir, a generated
// user and password, a free port on 127.0.0.1; restart() keeps the store (a NATS restart
// must lose nothing), stop() removes everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const NATS_SERVER = '/usr/sbin/nats-server';

export function natsUnavailable(): string | undefined {
  return existsSync(NATS_SERVER) ? undefined : 'nats-server is not installed (apt-get install nats-server)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tcpConnect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class TestNats {
  readonly dir = mkdtempSync(join(tmpdir(), 'kt-nats-'));
  readonly user = 'kestrel';
  readonly password = randomBytes(12).toString('hex');
  port = 0;
  private proc?: ChildProcess;
  private log = '';

  get url(): string {
    return `nats://${this.user}:${this.password}@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const conf = join(this.dir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `listen: "127.0.0.1:${this.port}"`,
        `jetstream { store_dir: "${join(this.dir, 'js')}" }`,
        `authorization { users = [ { user: "${this.user}", password: "${this.password}" } ] }`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const proc = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    const end = Date.now() + 20_000;
    while (!(await listening(this.port))) {
      if (proc.exitCode !== null || Date.now() > end)
        throw new Error(`nats-server did not start on port ${this.port}:\n${this.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // JetStream is ready shortly after the port opens.
    await new Promise((r) => setTimeout(r, 200));
  }

  /** Stops the server (SIGKILL when hard: an outage, not a shutdown); its store stays. */
  async halt(hard = false): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.halt(true);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
