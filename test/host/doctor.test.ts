// Integration: the doctor against this machine's real QEMU, /dev/kvm and libvirtd, and the CLI.
// On the PVM CI host (host-lab §4) KVM exists but cannot run ordinary guests: the doctor must
// find that out by running the probe guest and choose qemu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/util/run.js';
import { runDoctor, runKvmProbe } from '../../src/host/index.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const isPvmHost = existsSync('/sys/module/kvm_pvm');
const hasKvm = existsSync('/dev/kvm');

test('the probe guest runs every stage under TCG (the probe itself is right)', async () => {
  // The same bound the doctor gives its TCG control run (a loaded CI machine can be slow).
  const r = await runKvmProbe('tcg', { timeoutMs: 6000 });
  assert.equal(r.ok, true, r.detail);
  assert.deepEqual(r.stages, ['real', 'protected', 'long', 'ok']);
});

test('the KVM probe tells the truth about this host', { skip: !hasKvm && 'no /dev/kvm here' }, async () => {
  const r = await runKvmProbe('kvm');
  if (isPvmHost) {
    assert.equal(r.ok, false, 'PVM KVM must not pass the probe');
    assert.ok(!r.stages.includes('long'), `stages: ${r.stages.join(',')}`);
    assert.match(r.detail, /KVM: guest (reached|printed)/);
  } else {
    assert.equal(typeof r.ok, 'boolean');
  }
});

test('runDoctor on this machine: virt_type follows the probe, within a few seconds', async () => {
  const started = performance.now();
  const report = await runDoctor({ virtTypeSetting: 'auto' });
  const ms = performance.now() - started;
  const fn = report.checks.find((c) => c.id === 'kvm.functional');
  assert.ok(fn);
  assert.equal(report.checks.find((c) => c.id === 'qemu.tcg-probe')?.status, 'pass');
  assert.equal(report.checks.find((c) => c.id === 'libvirt.reachable')?.status, 'pass');
  if (isPvmHost) {
    assert.equal(report.virt_type.value, 'qemu');
    assert.match(report.virt_type.reason, /functional KVM probe failed/);
    assert.equal(fn.status, 'warn');
  } else {
    assert.equal(report.virt_type.value, fn.status === 'pass' ? 'kvm' : 'qemu');
  }
  assert.equal(report.ok, true);
  assert.ok(ms < 10_000, `doctor took ${Math.round(ms)} ms`);
});

async function kestrel(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run([join(repo, 'bin', 'kestrel'), ...args], {
    cwd: repo,
    env: { ...process.env, KESTREL_FROM_SOURCE: '1', KESTREL_CONFIG: '' },
    timeoutMs: 60_000,
  });
  return r;
}

test('CLI: kestrel doctor --json --config (virt_type from the file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kt-host-cli-'));
  try {
    const auto = join(dir, 'auto.conf');
    await writeFile(auto, '[libvirt]\nvirt_type = auto\n');
    const r = await kestrel(['doctor', '--json', '--config', auto]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      virt_type: { value: string; reason: string };
      checks: { id: string; status: string; found: string; fix: string | null }[];
    };
    assert.ok(['kvm', 'qemu'].includes(out.virt_type.value));
    assert.ok(out.checks.length >= 10);
    for (const id of [
      'cpu.virt-extensions',
      'kvm.modules',
      'kvm.device',
      'kvm.functional',
      'firmware.ovmf',
    ]) {
      assert.ok(
        out.checks.some((c) => c.id === id),
        id,
      );
    }
    if (isPvmHost) {
      assert.equal(out.virt_type.value, 'qemu');
      assert.match(out.virt_type.reason, /functional KVM probe failed/);
    }

    if (isPvmHost) {
      const kvm = join(dir, 'kvm.conf');
      await writeFile(kvm, '[libvirt]\nvirt_type = kvm\n');
      const k = await kestrel(['doctor', '--json', '--config', kvm]);
      assert.equal(k.code, 1, 'explicit kvm on a host whose KVM cannot run guests exits 1');
      const kout = JSON.parse(k.stdout) as { checks: { id: string; status: string; fix: string | null }[] };
      const vt = kout.checks.find((c) => c.id === 'virt-type');
      assert.equal(vt?.status, 'fail');
      assert.match(vt?.fix ?? '', /virt_type = qemu/);
    }

    const bad = join(dir, 'bad.conf');
    await writeFile(bad, '[libvirt]\nvirt_type = xen\n');
    const b = await kestrel(['doctor', '--config', bad]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /virt_type/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CLI: human output with markers and the decision', async () => {
  const r = await kestrel(['doctor', '--virt-type', 'qemu', '--no-probe']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[✓!✗-] cpu\.virt-extensions +/m);
  assert.match(r.stdout, /^virt_type: qemu$/m);
});
