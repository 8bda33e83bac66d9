// `kestrel serve` as a child process on a temp state_path and random ports (real libvirt,
// virt_type qemu), with the few API calls the recovery tests need, and a look at what exists
// outside the API: libvirt domains, instance directories, allocations in the database.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { run } from '../../src/util/run.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
// The CLI itself, not bin/kestrel: that wrapper runs it as a child process, and a SIGKILL of
// the wrapper would leave the real service running.
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const TSX = import.meta.resolve('tsx');
export const TEST_IMAGES = process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Why real-libvirt recovery tests can't run here, or undefined when they can. */
export async function libvirtUnavailable(): Promise<string | undefined> {
  if (!existsSync(join(TEST_IMAGES, 'boot.img')))
    return `no ${TEST_IMAGES}/boot.img (run scripts/build-test-images)`;
  const r = await run(['virsh', '-c', 'qemu:///system', 'version'], { timeoutMs: 20_000 }).catch(
    () => undefined,
  );
  return r?.code === 0 ? undefined : 'libvirtd does not answer (run scripts/start-libvirt)';
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export interface ServerJson {
  id: string;
  name: string;
  status: string;
  fault?: { code: number; message: string };
  'OS-EXT-STS:task_state'?: string | null;
}

export class ServeProcess {
  readonly dir: string;
  readonly statePath: string;
  readonly instancesPath: string;
  private child: ChildProcess | undefined;
  private ports = { identity: 0, compute: 0, image: 0 };
  private token = '';
  private readonly password: string;
  /** Every server this run created (for clean-up). */
  readonly created = new Set<string>();
  stderr = '';

  constructor(readonly tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    chmodSync(this.dir, 0o711); // QEMU (libvirt-qemu) walks down to the disks
    this.statePath = join(this.dir, 'state');
    this.instancesPath = join(this.dir, 'instances');
    this.password = `${tag}-pw`;
  }

  async start(): Promise<void> {
    if (!this.ports.identity) {
      this.ports = { identity: await freePort(), compute: await freePort(), image: await freePort() };
      mkdirSync(this.instancesPath, { recursive: true, mode: 0o711 });
      writeFileSync(
        join(this.dir, 'kestrel.conf'),
        [
          '[network]',
          'enabled = false', // this test's guests need no NICs
          '[DEFAULT]',
          `state_path = ${this.statePath}`,
          `instances_path = ${this.instancesPath}`,
          `host = ${this.tag}`,
          'cpu_allocation_ratio = 16.0',
          '[libvirt]',
          'virt_type = qemu',
          '[api]',
          'listen_host = 127.0.0.1',
          `identity_port = ${this.ports.identity}`,
          `compute_port = ${this.ports.compute}`,
          `image_port = ${this.ports.image}`,
          `admin_password = ${this.password}`,
          '',
        ].join('\n'),
      );
    }
    const child = spawn(
      process.execPath,
      ['--import', TSX, MAIN, 'serve', '--config', join(this.dir, 'kestrel.conf'), '--no-probe'],
      {
        env: {
          ...process.env,
          KESTREL_TEST_IMAGES: TEST_IMAGES,
          KESTREL_LOG_LEVEL: 'warn',
          KESTREL_FROM_SOURCE: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    child.stderr!.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-20_000)));
    let out = '';
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`kestrel serve did not start in 90 s:\n${out}\n${this.stderr}`)),
        90_000,
      );
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Stop with Ctrl-C')) {
          clearTimeout(timer);
          res();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        rej(new Error(`kestrel serve exited (${code ?? sig}):\n${out}\n${this.stderr}`));
      });
    });
    this.token = await this.login();
  }

  /** SIGKILL: no clean-up of any kind runs in the service. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async login(): Promise<string> {
    const r = await fetch(`http://127.0.0.1:${this.ports.identity}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: this.password } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    if (r.status !== 201) throw new Error(`login failed: ${r.status} ${await r.text()}`);
    return r.headers.get('x-subject-token')!;
  }

  async api(
    api: 'compute' | 'image',
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const base =
      api === 'compute'
        ? `http://127.0.0.1:${this.ports.compute}/v2.1`
        : `http://127.0.0.1:${this.ports.image}`;
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        'x-auth-token': this.token,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async bootRefs(): Promise<{ imageRef: string; flavorRef: string }> {
    const images = (await this.api('image', 'GET', '/v2/images?name=boot-sector')).json.images as {
      id: string;
    }[];
    if (!images?.length) throw new Error(`no boot-sector demo image: ${this.stderr}`);
    return { imageRef: images[0].id, flavorRef: '0' };
  }

  /** POST /servers; the id is remembered for clean-up. */
  async boot(name: string, refs: { imageRef: string; flavorRef: string }): Promise<string> {
    const r = await this.api('compute', 'POST', '/servers', { server: { name, ...refs } });
    if (r.status !== 202) throw new Error(`boot ${name}: ${r.status} ${JSON.stringify(r.json)}`);
    const id = (r.json.server as { id: string }).id;
    this.created.add(id);
    return id;
  }

  async server(id: string): Promise<ServerJson | undefined> {
    const r = await this.api('compute', 'GET', `/servers/${id}`);
    return r.status === 404 ? undefined : (r.json.server as ServerJson);
  }

  async waitFor(
    id: string,
    pred: (s: ServerJson | undefined) => boolean,
    ms = 60_000,
  ): Promise<ServerJson | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.server(id);
      if (pred(s)) return s;
      if (Date.now() > deadline)
        throw new Error(`server ${id} stayed ${JSON.stringify(s)} for ${ms / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Kestrel domains of this run's servers (name instance-<uuid>), with their state. */
  async domains(): Promise<Map<string, string>> {
    const r = await run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'], { timeoutMs: 30_000 });
    const out = new Map<string, string>();
    for (const name of r.stdout.split('\n').map((s) => s.trim())) {
      const uuid = name.replace(/^instance-/, '');
      if (!name.startsWith('instance-') || !UUID_RE.test(uuid)) continue;
      if (!this.created.has(uuid) && !existsSync(join(this.instancesPath, uuid))) continue;
      const st = await run(['virsh', '-c', 'qemu:///system', 'domstate', name], { timeoutMs: 30_000 });
      out.set(uuid, st.stdout.trim());
    }
    return out;
  }

  /**
   * Every domain whose definition points into this run's directory, whatever the database or
   * the API said: a service killed before it answered leaves guests nobody recorded. Asked a
   * few times, since a libvirtd restart (another test) can make one listing fail.
   */
  async domainsUsingThisRun(): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'], {
          timeoutMs: 30_000,
        });
        if (r.code !== 0) throw new Error(r.stderr);
        const names: string[] = [];
        for (const name of r.stdout.split('\n').map((s) => s.trim())) {
          if (!name.startsWith('instance-')) continue;
          const xml = await run(['virsh', '-c', 'qemu:///system', 'dumpxml', name], { timeoutMs: 30_000 });
          if (xml.stdout.includes(this.dir)) names.push(name);
        }
        return names;
      } catch (e) {
        if (attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  /** `<instances_path>/<uuid>` directories. */
  diskDirs(): string[] {
    return existsSync(this.instancesPath)
      ? readdirSync(this.instancesPath).filter((n) => UUID_RE.test(n))
      : [];
  }

  /** Consumers with allocations, read straight from the database file. */
  allocations(): string[] {
    const db = new SQLite(join(this.statePath, 'kestrel.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('select distinct consumer_uuid as c from allocations').all() as { c: string }[]).map(
        (r) => r.c,
      );
    } finally {
      db.close();
    }
  }

  /** Stops the service and removes every domain and file of this run. */
  async cleanup(): Promise<void> {
    await this.stop().catch(() => undefined);
    for (const name of await this.domainsUsingThisRun()) {
      await run(['virsh', '-c', 'qemu:///system', 'destroy', name], { timeoutMs: 30_000 }).catch(
        () => undefined,
      );
      await run(['virsh', '-c', 'qemu:///system', 'undefine', '--nvram', '--managed-save', name], {
        timeoutMs: 30_000,
      }).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same kill points. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
