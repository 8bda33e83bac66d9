// Start-up checks against a recorded host (the real host is exercised in test/virt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCpuConfig, checkKvmUsable, checkVersions, type CpuCheckHost } from './startup.js';
import { isVirtError } from '../errors.js';

function host(over: Partial<CpuCheckHost> = {}): CpuCheckHost & { compared: string[] } {
  const compared: string[] = [];
  return {
    arch: 'x86_64',
    virtType: 'kvm',
    hostFeatures: ['sse', 'sse2', 'avx', 'pcid'],
    cpuModelNames: () => Promise.resolve(['Penryn', 'IvyBridge', 'Haswell-noTSX']),
    compareCpu: (xml) => {
      compared.push(xml);
      return Promise.resolve(xml.includes('Haswell') ? 0 : 2);
    },
    modelFeatures: (m) => Promise.resolve(m.startsWith('Haswell') ? ['sse', 'avx', 'avx2', 'fma'] : ['sse']),
    compared,
    ...over,
  };
}

test('versions below the minimum are refused with the version in the message', () => {
  assert.throws(
    () => checkVersions(7_010_000, 7_002_000, 8_000_000, 6_002_000),
    /libvirt version 8\.0\.0 or greater; this host has 7\.10\.0/,
  );
  assert.throws(() => checkVersions(9_000_000, 6_001_000, 8_000_000, 6_002_000), /QEMU version 6\.2\.0/);
  checkVersions(9_000_000, 7_002_022, 8_000_000, 6_002_000);
});

test('kvm refused when the probe failed or libvirt offers no kvm domain type', () => {
  assert.throws(
    () => checkKvmUsable('kvm', { ok: false, detail: 'hung' }, ['qemu', 'kvm']),
    (e: unknown) => isVirtError(e, 'kvm-unavailable'),
  );
  assert.throws(
    () => checkKvmUsable('kvm', undefined, ['qemu']),
    (e: unknown) =>
      isVirtError(e, 'kvm-unavailable') &&
      /no supported architecture for os type 'hvm'/.test(e.message) &&
      /modprobe/.test(e.fix),
  );
  checkKvmUsable('kvm', { ok: true, detail: '' }, ['qemu', 'kvm']);
  checkKvmUsable('qemu', { ok: false, detail: '' }, ['qemu']);
});

test('model names: case-insensitive, libvirt spelling returned; compared with the extra flags', async () => {
  const h = host();
  assert.deepEqual(await checkCpuConfig('custom', ['ivybridge', 'PENRYN'], ['pcid'], h), [
    'IvyBridge',
    'Penryn',
  ]);
  assert.equal(h.compared.length, 2);
  assert.match(h.compared[0], /<model>IvyBridge<\/model><feature policy="require" name="pcid"\/>/);
});

test('an incompatible model names what the host lacks', async () => {
  await assert.rejects(checkCpuConfig('custom', ['Haswell-noTSX'], [], host()), (e: unknown) => {
    assert.ok(isVirtError(e, 'cpu-incompatible'));
    assert.match(e.message, /the host lacks: avx2, fma/);
    return true;
  });
});

test('extra flags are checked in host-model and host-passthrough too (Nova skips them)', async () => {
  await assert.rejects(checkCpuConfig(undefined, [], ['vmx', '-avx'], host()), /\[vmx\]/);
  await assert.rejects(checkCpuConfig('host-passthrough', [], ['+svm'], host()), /\[svm\]/);
  await checkCpuConfig('host-model', [], ['pcid', '-avx'], host());
});

test('no compare under qemu (TCG) or with skip_cpu_compare_at_startup; mode/model combinations', async () => {
  const h = host({ virtType: 'qemu' });
  await checkCpuConfig('custom', ['Haswell-noTSX'], ['vmx'], h);
  assert.equal(h.compared.length, 0);
  await checkCpuConfig('custom', ['Haswell-noTSX'], [], host(), true);
  await assert.rejects(checkCpuConfig('host-model', ['Penryn'], [], host()), (e: unknown) =>
    isVirtError(e, 'cpu-mode-invalid'),
  );
  await assert.rejects(checkCpuConfig('custom', [], [], host()), (e: unknown) =>
    isVirtError(e, 'cpu-mode-invalid'),
  );
  await assert.rejects(checkCpuConfig('custom', ['Nope'], [], host()), (e: unknown) =>
    isVirtError(e, 'cpu-model-unknown'),
  );
});
