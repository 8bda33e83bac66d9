// `kestrel config check|docs` as an operator runs them: through ./bin/kestrel, from source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'config');
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-config-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function kestrel(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(root, 'bin', 'kestrel'), args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KESTREL_FROM_SOURCE: '1', KESTREL_CONFIG: '', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kestrel config check', () => {
  test("the guide's examples pass through the command (exit 0, one-line summary)", () => {
    for (const f of ['guide-enable-kvm.conf', 'guide-nested-custom.conf']) {
      const r = kestrel(['config', 'check', '--config', join(fixtures, f)]);
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /: valid \(virt_type /, f);
      assert.equal(r.stdout.trim().split('\n').length, 1);
    }
  });

  test('warnings are printed on a valid file (deprecated raw, nearest name)', () => {
    const r = kestrel(['config', 'check', '--config', join(fixtures, 'operator-nova.conf')]);
    assert.equal(r.status, 0);
    assert.match(
      r.stderr,
      /warning: .*operator-nova\.conf:\d+: \[database\] connection = mysql\+pymysql:\/\/nova:\*\*\*@controller\/nova/,
    );
    assert.doesNotMatch(r.stderr + r.stdout, /NOVA_DBPASS|NOVA_PASS/);
    const raw = kestrel(['config', 'check', '--config', join(fixtures, 'guide-raw-deprecated.conf')]);
    assert.match(raw.stderr, /\[libvirt\] images_type = raw: "raw" is a deprecated alias of "flat"/);
  });

  test('an invalid file exits 1 and lists every problem with file, line, option and value', () => {
    const path = join(fixtures, 'bad-many-problems.conf');
    const r = kestrel(['config', 'check', '--config', path]);
    assert.equal(r.status, 1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    for (const expected of [
      /bad-many-problems\.conf:6: \[libvirt\] virt_type = xen: .*kvm and qemu/,
      /bad-many-problems\.conf:7: \[libvirt\] images_type = rbd: .*force_raw_images = False is not allowed/,
      /bad-many-problems\.conf:8: \[libvirt\] cpu_models = IvyBridge: .*cpu_mode = custom/,
      /bad-many-problems\.conf:9: \[libvirt\] volume_clear_size = -5: .*at least 0/,
      /bad-many-problems\.conf:10: .*not "key = value"/,
    ])
      assert.ok(
        errors.some((l) => expected.test(l)),
        `${String(expected)} in\n${r.stderr}`,
      );
    assert.match(r.stderr, /warning: .*:11: \[libvirt\] virt_typo: .*did you mean virt_type\?/);
    assert.match(r.stderr, /kestrel: .*invalid, \d+ errors/);
    assert.doesNotMatch(r.stderr, /at .*\.(ts|js):\d+/, 'no stack trace');
  });

  test('unusable files: a clear message, exit 1, no stack trace', async () => {
    const binary = join(dir, 'garbage.conf');
    await writeFile(binary, Buffer.from([0, 1, 2, 3, 0xff]));
    for (const [path, pattern] of [
      [join(dir, 'missing.conf'), /does not exist/],
      [dir, /is a directory/],
      [binary, /binary file/],
    ] as const) {
      const r = kestrel(['config', 'check', '--config', path]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /at .*\.(ts|js):\d+/);
    }
  });

  test(
    'a file the user cannot read (run as nobody)',
    { skip: process.getuid?.() === 0 ? false : 'needs root to switch to an unprivileged user' },
    async () => {
      const secret = join(dir, 'secret.conf');
      await writeFile(secret, '[DEFAULT]\n', { mode: 0o600 });
      await chmod(dir, 0o711); // nobody may traverse the directory but not read the file
      const r = spawnSync(join(root, 'bin', 'kestrel'), ['config', 'check', '--config', secret], {
        cwd: root,
        encoding: 'utf8',
        uid: 65534,
        gid: 65534,
        env: { ...process.env, KESTREL_FROM_SOURCE: '1', KESTREL_CONFIG: '', HOME: '/tmp' },
        timeout: 60_000,
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /secret\.conf: cannot be read: permission denied/);
    },
  );

  test('KESTREL_CONFIG is used when --config is absent', () => {
    const r = kestrel(['config', 'check'], { KESTREL_CONFIG: join(fixtures, 'guide-enable-kvm.conf') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /guide-enable-kvm\.conf: valid \(virt_type kvm/);
  });
});

describe('kestrel config docs', () => {
  test('writes the reference to --output', async () => {
    const out = join(dir, 'configuration.md');
    const r = kestrel(['config', 'docs', '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    const text = await readFile(out, 'utf8');
    assert.match(text, /### `\[libvirt\] virt_type`/);
    assert.match(text, /Deprecated names: `\[libvirt\] cpu_model`/);
  });
  test('an unwritable output path is a clean failure', () => {
    const r = kestrel(['config', 'docs', '--output', join(dir, 'no', 'such', 'dir', 'x.md')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /kestrel: cannot write .*directory exists/);
  });
});
