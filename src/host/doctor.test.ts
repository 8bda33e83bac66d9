import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDoctor } from './doctor.js';
import { formatDoctorReport } from './format.js';
import type { KvmProbeFn, KvmProbeResult, ProbeAccel } from './kvm-probe.js';
import type { DoctorReport } from './types.js';
import { fakeLibvirt, fixtureRoot } from './test-fixtures.js';

function probeResult(accel: ProbeAccel, ok: boolean, durationMs = 90): KvmProbeResult {
  return {
    accel,
    ok,
    stages: ok ? ['real', 'protected', 'long', 'ok'] : ['real'],
    durationMs,
    timedOut: !ok,
    exitCode: ok ? 33 : null,
    detail: ok ? `${accel}: guest ran to long mode` : `${accel}: guest reached real mode only`,
    stderrTail: '',
  };
}

function probe(kvmOk: boolean, tcgOk = true, kvmMs = 90): KvmProbeFn & { calls: ProbeAccel[] } {
  const calls: ProbeAccel[] = [];
  const fn = (accel: ProbeAccel) => {
    calls.push(accel);
    return Promise.resolve(probeResult(accel, accel === 'kvm' ? kvmOk : tcgOk, accel === 'kvm' ? kvmMs : 90));
  };
  return Object.assign(fn, { calls });
}

function libvirtWith(sev: boolean) {
  return fakeLibvirt({
    libVersion: 10_000_000,
    hvVersion: 8_002_002,
    domainCapabilities: () =>
      `<domainCapabilities><features><sev supported='${sev ? 'yes' : 'no'}'><cbitpos>47</cbitpos></sev></features></domainCapabilities>`,
  });
}
const libvirt = libvirtWith(false);

const byId = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} present`);
  return c;
};

test('Intel host whose KVM runs the probe: auto -> kvm, exit ok', async () => {
  const p = probe(true);
  const r = await runDoctor({
    hostRoot: fixtureRoot('intel'),
    virtTypeSetting: 'auto',
    probe: p,
    libvirt,
  });
  assert.deepEqual(p.calls.sort(), ['kvm', 'tcg']);
  assert.equal(r.virt_type.value, 'kvm');
  assert.equal(r.ok, true);
  assert.equal(byId(r, 'kvm.functional').status, 'pass');
  assert.equal(byId(r, 'kvm.nested').status, 'pass');
  assert.equal(byId(r, 'libvirt.version').status, 'pass');
  assert.equal(byId(r, 'sev.libvirt').status, 'skip'); // not AMD
});

test('PVM host (this machine, recorded): auto -> qemu naming the failed probe; explicit kvm fails', async () => {
  const auto = await runDoctor({
    hostRoot: fixtureRoot('pvm'),
    virtTypeSetting: 'auto',
    probe: probe(false),
    libvirt,
  });
  assert.equal(auto.virt_type.value, 'qemu');
  assert.match(auto.virt_type.reason, /functional KVM probe failed/);
  assert.equal(auto.ok, true);
  const fn = byId(auto, 'kvm.functional');
  assert.equal(fn.status, 'warn');
  assert.match(fn.found, /cannot run ordinary guests/);

  const kvm = await runDoctor({
    hostRoot: fixtureRoot('pvm'),
    virtTypeSetting: 'kvm',
    probe: probe(false),
    libvirt,
  });
  assert.equal(kvm.virt_type.value, 'kvm');
  assert.equal(kvm.ok, false);
  assert.equal(byId(kvm, 'virt-type').status, 'fail');
  assert.match(byId(kvm, 'virt-type').fix ?? '', /virt_type = qemu/);

  const qemu = await runDoctor({
    hostRoot: fixtureRoot('pvm'),
    virtTypeSetting: 'qemu',
    probe: probe(false),
    libvirt,
  });
  assert.equal(qemu.virt_type.value, 'qemu');
  assert.equal(qemu.ok, true);
});

test('KVM slower than TCG is not acceleration', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('intel'),
    virtTypeSetting: 'auto',
    probe: probe(true, true, 5400),
    libvirt,
  });
  assert.equal(byId(r, 'kvm.functional').status, 'warn');
  assert.equal(r.virt_type.value, 'qemu');
});

test('TCG probe failing means no guest can run: exit not ok', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('pvm'),
    virtTypeSetting: 'auto',
    probe: probe(false, false),
    libvirt,
  });
  assert.equal(byId(r, 'qemu.tcg-probe').status, 'fail');
  assert.equal(r.ok, false);
});

test('no /dev/kvm: KVM probe not run, auto -> qemu', async () => {
  const p = probe(true);
  const r = await runDoctor({
    hostRoot: fixtureRoot('no-extensions'),
    virtTypeSetting: 'auto',
    probe: p,
    libvirt,
  });
  assert.deepEqual(p.calls, ['tcg']);
  assert.equal(r.virt_type.value, 'qemu');
  assert.match(r.virt_type.reason, /\/dev\/kvm does not exist/);
});

test('/dev/kvm only root can open: the probe passes as root but libvirt-qemu cannot use KVM -> qemu', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('intel-kvm-0600'),
    virtTypeSetting: 'auto',
    probe: probe(true),
    libvirt,
  });
  assert.equal(r.virt_type.value, 'qemu');
  assert.match(r.virt_type.reason, /libvirt-qemu cannot open \/dev\/kvm/);
  assert.equal(byId(r, 'kvm.device').status, 'warn');
});

test('AMD SEV host: kernel and libvirt SEV pass', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('amd-sev-y'),
    virtTypeSetting: 'auto',
    probe: probe(true),
    libvirt: libvirtWith(true),
  });
  assert.equal(byId(r, 'sev.kernel').status, 'pass');
  assert.equal(byId(r, 'sev.es').status, 'pass');
  assert.equal(byId(r, 'sev.libvirt').status, 'pass');
});

test('libvirt unreachable: fail, exit not ok', async () => {
  const down = fakeLibvirt({ connectError: new Error('failed to connect to the hypervisor') });
  const r = await runDoctor({
    hostRoot: fixtureRoot('intel'),
    virtTypeSetting: 'auto',
    probe: probe(true),
    libvirt: down,
  });
  assert.equal(byId(r, 'libvirt.reachable').status, 'fail');
  assert.equal(r.ok, false);
});

test('POWER PowerNV: no x86 probe, static checks decide kvm', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('power-powernv'),
    virtTypeSetting: 'auto',
    libvirt,
  });
  assert.equal(byId(r, 'cpu.powernv').status, 'pass');
  assert.equal(byId(r, 'kvm.functional').status, 'skip');
  assert.equal(r.virt_type.value, 'kvm');
});

test('recorded host without injections runs no programs and skips those checks', async () => {
  const r = await runDoctor({ hostRoot: fixtureRoot('pvm'), virtTypeSetting: 'auto' });
  for (const id of ['kvm.functional', 'qemu.tcg-probe', 'libvirt.reachable'])
    assert.equal(byId(r, id).status, 'skip', id);
  assert.equal(r.virt_type.value, 'qemu'); // no vmx/svm: static checks say no
});

test('the report is JSON-serialisable, every check has id/status/found/fix, ids are unique', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('amd-sev-0'),
    virtTypeSetting: 'auto',
    probe: probe(true),
    libvirt,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  const ids = r.checks.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const c of r.checks) {
    assert.ok(['pass', 'warn', 'fail', 'skip'].includes(c.status));
    assert.equal(typeof c.found, 'string');
    if (c.status === 'pass') assert.equal(c.fix, null);
    if (c.status === 'warn' || c.status === 'fail') assert.ok(c.fix, `${c.id} has a fix`);
  }
});

test('human output: one marker line per check, fixes, then the decision', async () => {
  const r = await runDoctor({
    hostRoot: fixtureRoot('pvm'),
    virtTypeSetting: 'auto',
    probe: probe(false),
    libvirt,
  });
  const text = formatDoctorReport(r);
  for (const c of r.checks) assert.match(text, new RegExp(`^[✓!✗-] ${c.id.replace('.', '\\.')} +`, 'm'));
  assert.match(text, /^virt_type: qemu$/m);
  assert.match(text, /fix: /);
  assert.match(text, /Guests can run on this host\./);
});
