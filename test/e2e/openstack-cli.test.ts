// End to end: `kestrel serve` (real libvirt, virt_type qemu, a temp state_path, random ports)
// driven by the Debian `openstack` CLI: images (raw and qcow2), a flavor with properties,
// a server through create --wait, list, show, stop, start, reboot, console log, delete.
// Everything it makes carries the kte2e-<run> prefix and is removed at the end.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../../src/util/run.js';

const BOOT_IMG = join(process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images', 'boot.img');
const OPENSTACK = '/usr/bin/openstack';

function unavailable(): string | undefined {
  if (!existsSync(OPENSTACK))
    return 'the openstack CLI is not installed (apt-get install python3-openstackclient)';
  if (!existsSync('/run/libvirt/libvirt-sock')) return 'libvirtd is not running (scripts/start-libvirt)';
  if (!existsSync(BOOT_IMG)) return `no boot-sector test image at ${BOOT_IMG} (scripts/build-test-images)`;
  if (process.getuid?.() !== 0) return 'needs root (qemu:///system)';
  return undefined;
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

const skip = unavailable();

describe('openstack CLI against kestrel serve (real libvirt, TCG)', { skip, timeout: 15 * 60_000 }, () => {
  const runId = randomBytes(3).toString('hex');
  const prefix = `kte2e-${runId}`;
  let dir: string;
  let serve: ChildProcess;
  let env: NodeJS.ProcessEnv;
  const serverIds: string[] = [];
  let serveOutput = '';

  const os = async (args: string[], timeoutMs = 180_000): Promise<string> => {
    const r = await run([OPENSTACK, ...args], { env, timeoutMs });
    if (r.code !== 0) {
      throw new Error(
        `openstack ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}\n--- serve ---\n${serveOutput.slice(-3000)}`,
      );
    }
    return r.stdout;
  };
  const showServer = async (name: string) =>
    JSON.parse(await os(['server', 'show', name, '-f', 'json'])) as Record<string, unknown>;
  const waitStatus = async (name: string, status: string, seconds = 180) => {
    const end = Date.now() + seconds * 1000;
    let last: Record<string, unknown> = {};
    while (Date.now() < end) {
      last = await showServer(name);
      if (last.status === status && (last['OS-EXT-STS:task_state'] ?? null) === null) return last;
      if (last.status === 'ERROR') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`${name} did not reach ${status}: ${JSON.stringify(last)}`);
  };

  before(async () => {
    dir = mkdtempSync(`/tmp/${prefix}-`);
    chmodSync(dir, 0o711); // QEMU (libvirt-qemu) must reach the disks below
    const [identity, compute, image] = [await freePort(), await freePort(), await freePort()];
    const conf = join(dir, 'kestrel.conf');
    writeFileSync(
      conf,
      [
        '[network]',
        'enabled = false', // this test's guests need no NICs
        '[DEFAULT]',
        `state_path = ${join(dir, 'state')}`,
        `host = ${prefix}-host`,
        '[libvirt]',
        'virt_type = qemu',
        '[api]',
        `identity_port = ${identity}`,
        `compute_port = ${compute}`,
        `image_port = ${image}`,
        '',
      ].join('\n'),
    );
    serve = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', conf, '--no-probe'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KESTREL_TEST_IMAGES: join(dir, 'no-demo-image') },
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kestrel serve did not start:\n${serveOutput}`)),
        120_000,
      );
      const onData = (b: Buffer) => {
        serveOutput += b.toString();
        if (serveOutput.includes('Kestrel is serving')) {
          clearTimeout(timer);
          resolve();
        }
      };
      serve.stdout!.on('data', onData);
      serve.stderr!.on('data', (b: Buffer) => (serveOutput += b.toString()));
      serve.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`kestrel serve exited (${code}):\n${serveOutput}`));
      });
    });
    env = { ...process.env, OS_CLIENT_CONFIG_FILE: join(dir, 'state', 'clouds.yaml'), OS_CLOUD: 'kestrel' };
    for (const k of Object.keys(env))
      if (k.startsWith('OS_') && !['OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'].includes(k)) delete env[k];
  });

  after(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve.once('exit', r));
      serve.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
    // Guests outlive the service by design: remove any this run left behind.
    for (const id of serverIds) {
      for (const argv of [
        ['virsh', 'destroy', `instance-${id}`],
        ['virsh', 'undefine', '--nvram', `instance-${id}`],
      ]) {
        await run(argv, { timeoutMs: 30_000 });
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('images, flavor, server lifecycle, console, delete', async () => {
    const qcow2 = join(dir, 'boot.qcow2');
    execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', BOOT_IMG, qcow2]);
    for (const [file, fmt] of [
      [BOOT_IMG, 'raw'],
      [qcow2, 'qcow2'],
    ]) {
      await os([
        'image',
        'create',
        '--file',
        file,
        '--disk-format',
        fmt,
        '--container-format',
        'bare',
        '--property',
        'os_shutdown_timeout=3',
        `${prefix}-${fmt}`,
      ]);
      const img = JSON.parse(await os(['image', 'show', `${prefix}-${fmt}`, '-f', 'json'])) as Record<
        string,
        unknown
      >;
      assert.equal(img.status, 'active');
      assert.equal(img.disk_format, fmt);
    }
    await os([
      'flavor',
      'create',
      '--ram',
      '64',
      '--vcpus',
      '1',
      '--disk',
      '1',
      '--property',
      'hw:cpu_policy=shared',
      `${prefix}-flavor`,
    ]);
    const flavor = JSON.parse(await os(['flavor', 'show', `${prefix}-flavor`, '-f', 'json'])) as Record<
      string,
      unknown
    >;
    assert.match(JSON.stringify(flavor.properties), /hw:cpu_policy/);
    const refused = await run(
      [OPENSTACK, 'flavor', 'set', '--property', 'hw:mem_encryption=sometimes', `${prefix}-flavor`],
      { env },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /hw:mem_encryption/);

    const vm = `${prefix}-vm`;
    const created = JSON.parse(
      await os(
        [
          'server',
          'create',
          '--image',
          `${prefix}-qcow2`,
          '--flavor',
          `${prefix}-flavor`,
          '--wait',
          '-f',
          'json',
          vm,
        ],
        300_000,
      ),
    ) as Record<string, unknown>;
    serverIds.push(String(created.id));
    assert.equal(created.status, 'ACTIVE');
    assert.match(await os(['server', 'list']), new RegExp(`${vm}.*ACTIVE`));
    const shown = await showServer(vm);
    assert.ok(
      [1, 'Running'].includes(shown['OS-EXT-STS:power_state'] as number),
      `power state ${String(shown['OS-EXT-STS:power_state'])}`,
    );

    await os(['server', 'stop', vm]);
    await waitStatus(vm, 'SHUTOFF');
    await os(['server', 'start', vm]);
    await waitStatus(vm, 'ACTIVE');
    await os(['server', 'reboot', '--hard', '--wait', vm], 300_000);
    await waitStatus(vm, 'ACTIVE');
    const end = Date.now() + 60_000;
    let log = '';
    while (Date.now() < end) {
      log = await os(['console', 'log', 'show', vm]);
      if (log.includes('GUEST-BOOTED')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.match(log, /GUEST-BOOTED/);
    const events = await os(['server', 'event', 'list', vm, '-f', 'value', '-c', 'Action']);
    for (const a of ['create', 'stop', 'start', 'reboot']) assert.match(events, new RegExp(a));

    await os(['server', 'delete', '--wait', vm], 300_000);
    assert.doesNotMatch(await os(['server', 'list']), new RegExp(vm));
    const dom = await run(['virsh', 'domstate', `instance-${String(created.id)}`], { timeoutMs: 30_000 });
    assert.notEqual(dom.code, 0, 'the domain is gone after delete');
    for (const fmt of ['raw', 'qcow2']) await os(['image', 'delete', `${prefix}-${fmt}`]);
    await os(['flavor', 'delete', `${prefix}-flavor`]);
  });
});
