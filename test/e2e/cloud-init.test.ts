// End to end with the real cloud-init: `kestrel serve` (real libvirt, TCG) and the Debian
// `openstack` CLI boot the Debian guest of scripts/build-test-images as an AMI-style image
// (kernel_id / ramdisk_id / os_command_line) with `--key-name --user-data --config-drive true`.
// cloud-init inside reads the config drive and, in the serial log that `console log show`
// returns, sets the host name, installs the key (its fingerprint table for user debian) and
// runs the user-data script (its output line). Slow under TCG: Debian with systemd takes
// minutes on a loaded machine, hence the long waits.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../../src/util/run.js';
import { ServeProcess, libvirtUnavailable } from '../recovery/serve-process.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const OPENSTACK = '/usr/bin/openstack';
const BOOT_MINUTES = 20;

/** Builds (once; cached) and finds the cloud-init guest. */
function cloudImages(): Record<string, string> {
  const out = execFileSync(join(ROOT, 'scripts/build-test-images'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
}

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (qemu:///system, debootstrap)';
  if (!existsSync(OPENSTACK))
    return 'the openstack CLI is not installed (apt-get install python3-openstackclient)';
  return libvirtUnavailable();
}

const skip = await unavailable();

describe('cloud-init reads the config drive (real Debian guest, TCG)', { skip, timeout: 45 * 60_000 }, () => {
  const svc = new ServeProcess('kt-cloudinit');
  let env: NodeJS.ProcessEnv;
  let images: Record<string, string>;

  const os = async (args: string[], timeoutMs = 300_000): Promise<string> => {
    const r = await run([OPENSTACK, ...args], { env, timeoutMs });
    if (r.code !== 0) {
      throw new Error(
        `openstack ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}\n${svc.stderr}`,
      );
    }
    return r.stdout;
  };
  const osFails = async (args: string[]) => {
    const r = await run([OPENSTACK, ...args], { env, timeoutMs: 120_000 });
    assert.notEqual(r.code, 0, `openstack ${args.join(' ')} should fail`);
    return r.stderr + r.stdout;
  };

  before(async () => {
    images = cloudImages();
    assert.ok(images.CLOUD_ROOT, 'build-test-images made the cloud-init guest');
    await svc.start();
    env = { ...process.env, OS_CLIENT_CONFIG_FILE: join(svc.statePath, 'clouds.yaml'), OS_CLOUD: 'kestrel' };
    for (const k of Object.keys(env))
      if (k.startsWith('OS_') && !['OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'].includes(k)) delete env[k];
  });
  after(() => svc.cleanup());

  test('--key-name --user-data --config-drive true: host name, key and script, seen in console log show', async () => {
    const p = svc.tag;
    // AMI style: the kernel and ramdisk are images of their own, the root disk names them.
    const id = async (args: string[]) => JSON.parse(await os([...args, '-f', 'json'])).id as string;
    const kernel = await id([
      'image',
      'create',
      '--file',
      images.CLOUD_KERNEL,
      '--disk-format',
      'aki',
      '--container-format',
      'aki',
      `${p}-vmlinuz`,
    ]);
    const ramdisk = await id([
      'image',
      'create',
      '--file',
      images.CLOUD_INITRD,
      '--disk-format',
      'ari',
      '--container-format',
      'ari',
      `${p}-initrd`,
    ]);
    await os([
      'image',
      'create',
      '--file',
      images.CLOUD_ROOT,
      '--disk-format',
      'qcow2',
      '--container-format',
      'bare',
      '--property',
      `kernel_id=${kernel}`,
      '--property',
      `ramdisk_id=${ramdisk}`,
      // Faster under TCG: no fsck, no mitigations, trust the CPU's RNG for early entropy.
      '--property',
      'os_command_line=root=/dev/vda rw console=ttyS0 fsck.mode=skip mitigations=off random.trust_cpu=on',
      `${p}-debian`,
    ]);
    await os(['flavor', 'create', '--ram', '768', '--vcpus', '1', '--disk', '3', `${p}-flavor`]);

    const key = JSON.parse(
      await os(['keypair', 'create', '--public-key', await publicKeyFile(svc.dir), `${p}-key`, '-f', 'json']),
    );
    // Nova's fingerprint: MD5 of the key blob, colon-separated hex.
    const blob = Buffer.from((await publicKey(svc.dir)).split(/\s+/)[1], 'base64');
    assert.equal(
      key.fingerprint,
      createHash('md5')
        .update(blob)
        .digest('hex')
        .replace(/(..)(?!$)/g, '$1:'),
    );
    const script = join(svc.dir, 'user-data.sh');
    writeFileSync(script, '#!/bin/sh\necho "KESTREL-USER-DATA-RAN host=$(hostname) uid=$(id -u)"\n');

    // Bad user data is refused before anything is made.
    const big = join(svc.dir, 'big.txt');
    writeFileSync(big, 'x'.repeat(60_000)); // 80,000 characters once base64-encoded
    const tooBig = await osFails([
      'server',
      'create',
      '--image',
      `${p}-debian`,
      '--flavor',
      `${p}-flavor`,
      '--user-data',
      big,
      `${p}-big`,
    ]);
    assert.match(tooBig, /user_data.*65535/);

    const vm = `${p}-vm`;
    const created = JSON.parse(
      await os(
        [
          'server',
          'create',
          '--image',
          `${p}-debian`,
          '--flavor',
          `${p}-flavor`,
          '--key-name',
          `${p}-key`,
          '--user-data',
          script,
          '--config-drive',
          'true',
          '--property',
          'role=test',
          '--wait',
          '-f',
          'json',
          vm,
        ],
        600_000,
      ),
    );
    svc.created.add(String(created.id));
    assert.equal(created.status, 'ACTIVE');
    const shown = JSON.parse(await os(['server', 'show', vm, '-f', 'json']));
    assert.equal(shown.config_drive, 'True');

    const end = Date.now() + BOOT_MINUTES * 60_000;
    let log = '';
    while (Date.now() < end) {
      log = await os(['console', 'log', 'show', vm]);
      // cloud-init names its datasource in its last line ("finished … Datasource …"), after
      // the script's output and the key table: wait for all three.
      if (
        /KESTREL-USER-DATA-RAN/.test(log) &&
        /Authorized keys from/.test(log) &&
        /DataSourceConfigDrive/.test(log)
      )
        break;
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const tail = log.slice(-4000);
    // The kernel and initramfs of the image's kernel_id / ramdisk_id booted it.
    assert.match(log, /Linux version 6\.\d+\.\d+.*cloud-amd64/, tail);
    // cloud-init found the config drive ...
    assert.match(log, /DataSourceConfigDrive/, tail);
    // ... ran the script, with the host name it set from the metadata ...
    assert.match(log, new RegExp(`KESTREL-USER-DATA-RAN host=${vm} uid=0`), tail);
    // ... and installed the key for the default user: its fingerprint table names it.
    assert.match(log, /Authorized keys from \/home\/debian\/\.ssh\/authorized_keys for user debian/, tail);
    // cloud-init prints the key's SHA-256 fingerprint as colon-separated hex.
    assert.ok(log.includes(sha256Fingerprint(await publicKey(svc.dir))), tail);

    await os(['server', 'delete', '--wait', vm], 300_000);
    assert.ok(
      !existsSync(join(svc.instancesPath, String(created.id))),
      'the instance directory (config drive) is gone',
    );
  });
});

async function publicKeyFile(dir: string): Promise<string> {
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key))
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kestrel-test', '-f', key]);
  return `${key}.pub`;
}

async function publicKey(dir: string): Promise<string> {
  return (await run(['cat', await publicKeyFile(dir)])).stdout.trim();
}

/** The fingerprint cloud-init's key table prints: SHA-256 of the key blob, colon-separated hex. */
function sha256Fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.split(/\s+/)[1], 'base64');
  return createHash('sha256')
    .update(blob)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}
