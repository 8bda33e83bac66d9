// The private state path: with state_path under a directory QEMU's user cannot pass (a
// `mktemp -d`, mode 0700), a real `kestrel serve` refuses to start and names the directory, the
// user and the fix; `kestrel doctor`'s check says the same; and libvirt's "Permission denied"
// at boot is explained the same way instead of "check the image and the flavor".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkQemuCanReach, checkQemuReach, canTraverse } from '../../src/host/qemu-reach.js';
import { readQemuAccount } from '../../src/host/users.js';
import { startFailure } from '../../src/virt/libvirt/failures.js';

const root = join(import.meta.dirname, '..', '..');
let priv = '';
before(async () => {
  priv = await mkdtemp(join(tmpdir(), 'kt-private-')); // mode 0700, like `mktemp -d`
});
after(async () => {
  await rm(priv, { recursive: true, force: true });
});

test('kestrel serve refuses a state_path QEMU cannot reach, naming the directory, the user and the fix', async () => {
  const qemu = await readQemuAccount();
  if (qemu.uid === 0 || qemu.uid === process.getuid?.()) {
    // QEMU runs as root (or as us): nothing under our own directories can block it.
    return;
  }
  const conf = join(priv, 'kestrel.conf');
  await writeFile(conf, `[network]\nenabled = false\n[DEFAULT]\nstate_path = ${join(priv, 'state')}\n`);
  const r = spawnSync(join(root, 'bin', 'kestrel'), ['serve', '--config', conf], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KESTREL_FROM_SOURCE: '1', KESTREL_CONFIG: '' },
    timeout: 120_000,
  });
  assert.notEqual(r.status, 0, r.stdout);
  assert.doesNotMatch(r.stdout, /Kestrel is serving/);
  const text = r.stderr;
  assert.match(
    text,
    new RegExp(`QEMU runs as ${qemu.user} and cannot reach instances_path ${priv}/state/instances`),
  );
  assert.match(text, new RegExp(`the directory ${priv} \\(mode 0700, owner uid \\d+\\) is not traversable`));
  assert.match(text, new RegExp(`Fix: chmod o\\+x ${priv} .*or set \\[DEFAULT\\] state_path`));

  // kestrel doctor's check fails with the same words; after the fix it passes.
  const paths = [{ what: 'instances_path', path: join(priv, 'state', 'instances') }];
  const failed = await checkQemuReach(paths, qemu);
  assert.equal(failed.status, 'fail');
  assert.match(failed.fix ?? '', new RegExp(`chmod o\\+x ${priv}`));
  await chmod(priv, 0o711);
  try {
    assert.equal(await checkQemuCanReach(paths, qemu), undefined);
    assert.equal((await checkQemuReach(paths, qemu)).status, 'pass');
  } finally {
    await chmod(priv, 0o700);
  }
});

test('traversal is judged by owner, group and other bits as QEMU’s user', () => {
  const qemu = { user: 'libvirt-qemu', uid: 64055, gids: [107], groupNames: ['kvm'] };
  assert.equal(canTraverse(qemu, { mode: 0o700, uid: 0, gid: 0 }), false);
  assert.equal(canTraverse(qemu, { mode: 0o711, uid: 0, gid: 0 }), true);
  assert.equal(canTraverse(qemu, { mode: 0o710, uid: 0, gid: 107 }), true);
  assert.equal(canTraverse(qemu, { mode: 0o701, uid: 0, gid: 107 }), false); // the group bits decide
  assert.equal(canTraverse(qemu, { mode: 0o100, uid: 64055, gid: 0 }), true);
  assert.equal(canTraverse({ ...qemu, uid: 0 }, { mode: 0o700, uid: 1, gid: 1 }), true);
});

test("libvirt's Permission denied at boot names the disk, QEMU's user, the blocking directory and the fix", async () => {
  const disk = join(priv, 'state', 'instances', 'u-1', 'disk');
  await mkdir(join(priv, 'state', 'instances', 'u-1'), { recursive: true, mode: 0o711 });
  const libvirt = new Error(
    `libvirt DOMAIN_CREATE_WITH_FLAGS failed: Cannot access storage file '${disk}' (as uid:64055, gid:107): Permission denied (code 38 SYSTEM_ERROR, domain 18)`,
  );
  const e = await startFailure(libvirt, 'u-1', 'instance-u-1', '/nonexistent');
  assert.equal(e.code, 'state-path-unreachable');
  assert.match(
    e.message,
    new RegExp(`cannot open its disk ${disk} \\(the directory ${priv} is not traversable`),
  );
  assert.match(e.fix, new RegExp(`chmod o\\+x ${priv}`));
  assert.doesNotMatch(e.describe(), /check the image and the flavor/);
});
