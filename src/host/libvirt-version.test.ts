import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../util/run.js';
import {
  checkLibvirt,
  compareVersions,
  parseVirshVersion,
  readDomainCapabilities,
  readLibvirtVersions,
} from './libvirt-version.js';
import type { CommandRunner } from './command-runner.js';

const VIRSH_VERSION = `Compiled against library: libvirt 9.0.0
Using library: libvirt 9.0.0
Using API: QEMU 9.0.0
Running hypervisor: QEMU 7.2.22
`;

function result(stdout: string, code = 0, stderr = ''): RunResult {
  return { code, signal: null, stdout, stderr, timedOut: false, durationMs: 5 };
}

test('parses virsh version (the running hypervisor, not the API version)', () => {
  assert.deepEqual(parseVirshVersion(VIRSH_VERSION), { libvirt: [9, 0, 0], qemu: [7, 2, 22] });
});

test('version comparison', () => {
  assert.ok(compareVersions([9, 0, 0], [8, 0, 0]) > 0);
  assert.ok(compareVersions([6, 1, 9], [6, 2, 0]) < 0);
  assert.equal(compareVersions([6, 2, 0], [6, 2, 0]), 0);
});

test('this Debian 12 stack: above the minimums, below the next minimums (warn)', async () => {
  const calls: string[][] = [];
  const runner: CommandRunner = (argv) => {
    calls.push([...argv]);
    return Promise.resolve(result(VIRSH_VERSION));
  };
  const v = await readLibvirtVersions('qemu:///system', runner);
  assert.deepEqual(calls[0], ['virsh', '-c', 'qemu:///system', 'version']);
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
  const runner: CommandRunner = () =>
    Promise.resolve(
      result(
        '',
        1,
        "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/run/libvirt/libvirt-sock': No such file or directory\n",
      ),
    );
  const v = await readLibvirtVersions('qemu:///system', runner);
  assert.equal(v.reachable, false);
  const checks = checkLibvirt(v, 'qemu:///system');
  assert.equal(checks[0].status, 'fail');
  assert.match(checks[0].found, /failed to connect to the hypervisor/);
  assert.match(checks[0].fix ?? '', /libvirtd/);
  assert.deepEqual(
    checks.slice(1).map((c) => c.status),
    ['skip', 'skip'],
  );
});

test('virsh missing is reported as unreachable, not thrown', async () => {
  const runner: CommandRunner = () => Promise.reject(new Error('virsh: spawn virsh ENOENT'));
  const v = await readLibvirtVersions('qemu:///system', runner);
  assert.equal(v.reachable, false);
  assert.match(v.error ?? '', /ENOENT/);
});

test('domcapabilities falls back from --virttype kvm to the default', async () => {
  const seen: string[] = [];
  const runner: CommandRunner = (argv) => {
    seen.push(argv.join(' '));
    return Promise.resolve(
      argv.includes('kvm')
        ? result('', 1, 'error: invalid argument: KVM is not supported')
        : result('<domainCapabilities/>'),
    );
  };
  const caps = await readDomainCapabilities('qemu:///system', runner);
  assert.equal(caps.xml, '<domainCapabilities/>');
  assert.equal(seen.length, 2);
});
