// Drives scripts/testbed for tests: one test bed per run under its own prefix, directory and
// /24, and a list of whatever of it is left after `down` (namespaces, links, mounts,
// processes, files), so a test can prove the clean-up.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, type RunResult } from '../../src/util/run.js';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPT = join(REPO, 'scripts/testbed');
const BOOT_IMG = '/var/cache/kestrel/test-images/boot.img';

/** Why the test bed cannot come up here, or undefined when it can. */
export function testbedUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, a bridge, libvirtd)';
  if (!existsSync('/usr/sbin/nats-server'))
    return 'nats-server is not installed (apt-get install nats-server)';
  if (!existsSync('/usr/lib/postgresql')) return 'PostgreSQL is not installed (apt-get install postgresql)';
  if (!existsSync('/usr/sbin/libvirtd')) return 'libvirtd is not installed (scripts/setup)';
  if (!existsSync(BOOT_IMG)) return `no boot-sector test image at ${BOOT_IMG} (scripts/build-test-images)`;
  if (!existsSync('/usr/bin/openstack')) return 'the openstack CLI is not installed (scripts/setup)';
  if (!existsSync(join(REPO, 'dist'))) return 'Kestrel is not built (npm run setup)';
  return undefined;
}

export interface TestbedOptions {
  /** Names namespaces, the bridge and veths (at most 6 lower-case letters and digits). */
  prefix: string;
  /** The first three octets of the test bed's /24. */
  net: string;
}

export class Testbed {
  readonly prefix: string;
  readonly net: string;
  readonly dir: string;

  constructor(opts: TestbedOptions) {
    this.prefix = opts.prefix;
    this.net = opts.net;
    this.dir = `/var/tmp/kestrel-testbed-${opts.prefix}`;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, TESTBED_DIR: this.dir, TESTBED_PREFIX: this.prefix, TESTBED_NET: this.net };
  }

  script(args: string[], timeoutMs = 120_000, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return run([SCRIPT, ...args], { env: { ...this.env, ...extraEnv }, timeoutMs, cwd: REPO });
  }

  /** Brings the test bed up; on failure it is taken down again and the error has the output. */
  async up(hosts: number): Promise<string> {
    const r = await this.script(['up', String(hosts)], 900_000);
    if (r.code !== 0) {
      const logs = this.logTails();
      await this.down();
      throw new Error(`scripts/testbed up ${hosts} failed (${r.code}):\n${r.stderr}\n${r.stdout}\n${logs}`);
    }
    return r.stdout;
  }

  async down(): Promise<void> {
    const r = await this.script(['down'], 300_000);
    if (r.code !== 0) throw new Error(`scripts/testbed down failed (${r.code}): ${r.stderr}`);
  }

  libvirtUri(host: string): string {
    return `qemu+unix:///system?socket=${this.dir}/hosts/${host}/run/libvirt-sock`;
  }

  get cloudEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      OS_CLIENT_CONFIG_FILE: join(this.dir, 'controller/state/clouds.yaml'),
      OS_CLOUD: 'kestrel',
    };
  }

  async openstack(args: string[], timeoutMs = 180_000): Promise<string> {
    const r = await run(['/usr/bin/openstack', ...args], { env: this.cloudEnv, timeoutMs });
    if (r.code !== 0) {
      throw new Error(
        `openstack ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}\n${this.logTails()}`,
      );
    }
    return r.stdout;
  }

  /** The ends of the controller's and agents' logs, for failure messages. */
  logTails(): string {
    const files = [join(this.dir, 'controller/controller.log')];
    for (let i = 1; i <= 9; i++) files.push(join(this.dir, `hosts/host${i}/agent.log`));
    return files
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f} ---\n${readFileSync(f, 'utf8').slice(-2000)}`)
      .join('\n');
  }

  /** Everything of this test bed still present: empty after a clean `down`. */
  async leftovers(): Promise<string[]> {
    const out: string[] = [];
    const netns = await run(['ip', 'netns', 'list']);
    for (const line of netns.stdout.split('\n')) {
      if (line.startsWith(`${this.prefix}-`)) out.push(`network namespace ${line.split(' ')[0]}`);
    }
    const links = await run(['ip', '-o', 'link', 'show']);
    for (const line of links.stdout.split('\n')) {
      const name = line.split(': ')[1]?.split('@')[0];
      if (name?.startsWith(`${this.prefix}-`)) out.push(`link ${name}`);
    }
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      if (line.includes(` ${this.dir}`)) out.push(`mount ${line}`);
    }
    const ps = await run(['ps', '-eo', 'pid=,args=']);
    for (const line of ps.stdout.split('\n')) {
      if (line.includes(this.dir) && !line.includes('ps -eo')) out.push(`process ${line.trim()}`);
    }
    if (existsSync(this.dir)) out.push(`directory ${this.dir}`);
    return out;
  }
}
