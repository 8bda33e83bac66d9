import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVirtType, decideVirtType, type KvmEvidence } from './virt-type.js';

const works: KvmEvidence = {
  probeOk: true,
  probeDetail: 'long mode in 80 ms',
  staticReady: true,
  staticDetail: '',
};
const broken: KvmEvidence = {
  probeOk: false,
  probeDetail: 'guest reached real mode only',
  staticReady: false,
  staticDetail: 'no vmx/svm in /proc/cpuinfo',
};
const unprobed: KvmEvidence = {
  probeOk: undefined,
  probeDetail: 'disabled',
  staticReady: true,
  staticDetail: '',
};

test('auto: kvm where the probe runs a guest', () => {
  const d = decideVirtType('auto', works);
  assert.equal(d.value, 'kvm');
  assert.equal(d.usable, true);
  assert.match(d.reason, /probe ran a guest/);
});

test('auto: qemu where the probe fails, naming the failed probe', () => {
  const d = decideVirtType('auto', broken);
  assert.equal(d.value, 'qemu');
  assert.equal(d.usable, true);
  assert.match(d.reason, /functional KVM probe failed: guest reached real mode only/);
});

test('the probe outranks the flags: static checks pass but the probe fails -> qemu', () => {
  assert.equal(decideVirtType('auto', { ...broken, staticReady: true }).value, 'qemu');
});

test('auto without a probe falls back to the static checks, and says so', () => {
  const d = decideVirtType('auto', unprobed);
  assert.equal(d.value, 'kvm');
  assert.match(d.reason, /not run/);
  assert.equal(decideVirtType('auto', { ...unprobed, staticReady: false, staticDetail: 'x' }).value, 'qemu');
});

test('explicit kvm on a host whose probe fails: unusable, fail with the troubleshooting text', () => {
  const d = decideVirtType('kvm', broken);
  assert.equal(d.value, 'kvm');
  assert.equal(d.usable, false);
  const c = checkVirtType(d);
  assert.equal(c.status, 'fail');
  assert.match(c.fix ?? '', /no supported architecture for os type 'hvm'/);
  assert.match(c.fix ?? '', /virt_type = qemu/);
  assert.equal(checkVirtType(decideVirtType('kvm', works)).status, 'pass');
});

test('explicit qemu is qemu, whatever the host', () => {
  for (const e of [works, broken, unprobed]) {
    const d = decideVirtType('qemu', e);
    assert.equal(d.value, 'qemu');
    assert.equal(d.usable, true);
  }
});
