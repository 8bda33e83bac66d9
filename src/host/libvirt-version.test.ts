import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  askLibvirt,
  checkLibvirt,
  compareVersions,
  readDomainCapabilities,
  readLibvirtVersions,
} from './libvirt-version.js';
import { fakeLibvirt } from './test-fixtures.js';

// What libvirtd on this Debian 12 stack answers: libvirt 9.0.0, QEMU 7.2.22.
const DEBIAN_12 = { libVersion: 9_000_000, hvVersion: 7_002_022 };

async function hostOf(connect: ReturnType<typeof fakeLibvirt>) {
  return (await connect('qemu:///system')).host;
}

test('reads the versions (the running hypervisor, not the API version)', async () => {
  const v = await readLibvirtVersions(await hostOf(fakeLibvirt(DEBIAN_12)));
  assert.deepEqual(v, { reachable: true, libvirt: [9, 0, 0], qemu: [7, 2, 22] });
  const other = await readLibvirtVersions(await hostOf(fakeLibvirt({ ...DEBIAN_12, type: 'TEST' })));
  assert.equal(other.qemu, undefined, 'a non-QEMU hypervisor version is not a QEMU version');
});

test('version comparison', () => {
  assert.ok(compareVersions([9, 0, 0], [8, 0, 0]) > 0);
  assert.ok(compareVersions([6, 1, 9], [6, 2, 0]) < 0);
  assert.equal(compareVersions([6, 2, 0], [6, 2, 0]), 0);
});

test('this Debian 12 stack: above the minimums, below the next minimums (warn)', async () => {
  const connect = fakeLibvirt(DEBIAN_12);
  const { versions: v } = await askLibvirt('qemu:///system', connect);
  assert.deepEqual(connect.calls.slice(0, 4), [
    'connect(qemu:///system)',
    'getLibVersion',
    'getVersion',
    'getType',
  ]);
  assert.equal(connect.calls.at(-1), 'close');
  const checks = checkLibvirt(v, 'qemu:///system');
  assert.deepEqual(
    checks.map((c) => `${c.id}:${c.status}`),
    ['libvirt.reachable:pass', 'libvirt.version:warn', 'qemu.version:warn'],
  );
  assert.match(checks[1].found, /libvirt 9\.0\.0 \(minimum 8\.0\.0/);
});

test('too old fails with the minimum named', () => {
  const checks = checkLibvirt({ reachable: true, libvirt: [7, 0, 0], qemu: [5, 2, 0] }, 'qemu:///system');
  assert.equal(checks[1].status, 'fail');
  assert.match(checks[1].fix ?? '', /requires libvirt version 8\.0\.0 or greater/);
  assert.equal(checks[2].status, 'fail');
  const newer = checkLibvirt({ reachable: true, libvirt: [10, 0, 0], qemu: [8, 2, 2] }, 'qemu:///system');
  assert.deepEqual(
    newer.map((c) => c.status),
    ['pass', 'pass', 'pass'],
  );
});

test('libvirt unreachable: fail with the start-up fix; versions skipped', async () => {
  const connect = fakeLibvirt({
    connectError: new Error(
      'cannot connect to libvirtd at /run/libvirt/libvirt-sock: the socket does not exist, so libvirtd is not running (start it with scripts/start-libvirt)',
    ),
  });
  const { versions: v, caps } = await askLibvirt('qemu:///system', connect);
  assert.equal(v.reachable, false);
  assert.equal(caps, undefined);
  const checks = checkLibvirt(v, 'qemu:///system');
  assert.equal(checks[0].status, 'fail');
  assert.match(checks[0].found, /cannot connect to libvirtd at \/run\/libvirt\/libvirt-sock/);
  assert.match(checks[0].fix ?? '', /libvirtd/);
  assert.match(checks[0].fix ?? '', /scripts\/start-libvirt \/ npm run setup/);
  assert.deepEqual(
    checks.slice(1).map((c) => c.status),
    ['skip', 'skip'],
  );
});

test('a failing call is reported as unreachable, not thrown', async () => {
  const v = await readLibvirtVersions(
    await hostOf(
      fakeLibvirt({ libVersion: 9_000_000, hvVersion: new Error('libvirtd closed the connection') }),
    ),
  );
  assert.equal(v.reachable, false);
  assert.match(v.error ?? '', /closed the connection/);
});

test('domain capabilities fall back from virttype kvm to the default', async () => {
  const connect = fakeLibvirt({
    domainCapabilities: (t) =>
      t.virttype === 'kvm' ? new Error('invalid argument: KVM is not supported') : '<domainCapabilities/>',
  });
  const caps = await readDomainCapabilities(await hostOf(connect));
  assert.equal(caps.xml, '<domainCapabilities/>');
  assert.deepEqual(connect.calls.slice(1), ['getDomainCapabilities(kvm)', 'getDomainCapabilities()']);
});
