// `kestrel serve` (real libvirt, TCG, temp state_path, random ports for the APIs and both
// console proxies) driven by the Debian `openstack` CLI, for the console tests and the console
// benchmark. Everything carries the ktcon-<run> prefix and is removed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../../src/util/run.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const OPENSTACK = '/usr/bin/openstack';
export const TEST_IMAGES = process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images';
export const LINUX_DISK = join(TEST_IMAGES, 'linux-disk.img');
export const BOOT_IMG = join(TEST_IMAGES, 'boot.img');

export function serveUnavailable(): string | undefined {
  if (!existsSync(OPENSTACK))
    return 'the openstack CLI is not installed (apt-get install python3-openstackclient)';
  if (!existsSync('/run/libvirt/libvirt-sock')) return 'libvirtd is not running (scripts/start-libvirt)';
  if (!existsSync(LINUX_DISK)) return `no ${LINUX_DISK} (scripts/build-test-images)`;
  if (process.getuid?.() !== 0) return 'needs root (qemu:///system)';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export class ConsoleServe {
  readonly runId = randomBytes(3).toString('hex');
  readonly prefix = `ktcon-${this.runId}`;
  readonly dir = mkdtempSync(`/tmp/ktcon-${this.runId}-`);
  env: NodeJS.ProcessEnv = {};
  ports = { identity: 0, compute: 0, image: 0, novnc: 0, serial: 0 };
  output = '';
  readonly servers = new Set<string>();
  private child: ChildProcess | undefined;

  /** The service process (its RSS is the service's memory). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(extraConf: string[] = []): Promise<void> {
    chmodSync(this.dir, 0o711);
    for (const k of Object.keys(this.ports) as (keyof typeof this.ports)[]) this.ports[k] = await freePort();
    const conf = join(this.dir, 'kestrel.conf');
    writeFileSync(
      conf,
      [
        '[network]',
        'enabled = false', // the console guests need no NICs
        '[DEFAULT]',
        `state_path = ${join(this.dir, 'state')}`,
        `host = ${this.prefix}-host`,
        '[libvirt]',
        'virt_type = qemu',
        'cpu_mode = none',
        '[api]',
        `identity_port = ${this.ports.identity}`,
        `compute_port = ${this.ports.compute}`,
        `image_port = ${this.ports.image}`,
        '[vnc]',
        `novncproxy_port = ${this.ports.novnc}`,
        '[serial_console]',
        `serialproxy_port = ${this.ports.serial}`,
        ...extraConf,
        '',
      ].join('\n'),
    );
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--config', conf, '--no-probe'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: ROOT,
        env: { ...process.env, KESTREL_TEST_IMAGES: join(this.dir, 'no-demo-image') },
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kestrel serve did not start:\n${this.output}`)),
        120_000,
      );
      this.child!.stdout!.on('data', (b: Buffer) => {
        this.output += b.toString();
        if (this.output.includes('Kestrel is serving')) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child!.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
      this.child!.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`kestrel serve exited (${code}):\n${this.output}`));
      });
    });
    this.env = {
      ...process.env,
      OS_CLIENT_CONFIG_FILE: join(this.dir, 'state', 'clouds.yaml'),
      OS_CLOUD: 'kestrel',
    };
    for (const k of Object.keys(this.env))
      if (k.startsWith('OS_') && !['OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'].includes(k)) delete this.env[k];
  }

  /** Runs the openstack CLI; throws with its output and the service's tail when it fails. */
  async os(args: string[], timeoutMs = 240_000, env: NodeJS.ProcessEnv = this.env): Promise<string> {
    const r = await run([OPENSTACK, ...args], { env, timeoutMs });
    if (r.code !== 0) {
      throw Object.assign(
        new Error(
          `openstack ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}\n--- serve ---\n${this.output.slice(-2000)}`,
        ),
        { stderr: r.stderr },
      );
    }
    return r.stdout;
  }

  async json<T = Record<string, unknown>>(args: string[]): Promise<T> {
    return JSON.parse(await this.os([...args, '-f', 'json'])) as T;
  }

  /** The Linux disk image (busybox shell on ttyS0) and a flavor that fits it; returns their names. */
  async linuxImageAndFlavor(): Promise<{ image: string; flavor: string }> {
    const image = `${this.prefix}-linux`;
    const flavor = `${this.prefix}-flavor`;
    await this.os([
      'image',
      'create',
      '--file',
      LINUX_DISK,
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      image,
    ]);
    await this.os(['flavor', 'create', '--ram', '128', '--vcpus', '1', '--disk', '1', flavor]);
    return { image, flavor };
  }

  async createServer(name: string, image: string, flavor: string): Promise<string> {
    const s = await this.json<{ id: string; status: string }>([
      'server',
      'create',
      '--image',
      image,
      '--flavor',
      flavor,
      '--wait',
      name,
    ]);
    this.servers.add(s.id);
    if (s.status !== 'ACTIVE') throw new Error(`${name} is ${s.status}`);
    return s.id;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    // Guests outlive the service by design: remove any this run left behind.
    for (const id of this.servers) {
      await run(['virsh', '-c', 'qemu:///system', 'destroy', `instance-${id}`], { timeoutMs: 30_000 });
      await run(['virsh', '-c', 'qemu:///system', 'undefine', '--nvram', `instance-${id}`], {
        timeoutMs: 30_000,
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
