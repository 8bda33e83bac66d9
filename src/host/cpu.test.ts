import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCpu, parseCpuInfo, readCpuFlags } from './cpu.js';
import { fixtureRoot } from './test-fixtures.js';

test('Intel host: vmx found, check passes', async () => {
  const cpu = await readCpuFlags(fixtureRoot('intel'));
  assert.equal(cpu.arch, 'x86');
  assert.equal(cpu.vendor, 'GenuineIntel');
  assert.equal(cpu.vmx, true);
  assert.equal(cpu.svm, false);
  const c = checkCpu(cpu);
  assert.equal(c.status, 'pass');
  assert.match(c.found, /vmx/);
  assert.equal(c.fix, null);
});

test('AMD host: svm found', async () => {
  const cpu = await readCpuFlags(fixtureRoot('amd-sev-y'));
  assert.equal(cpu.svm, true);
  assert.equal(cpu.vmx, false);
  assert.equal(checkCpu(cpu).status, 'pass');
});

test('no vmx/svm: warns with the BIOS VT/SVM hint', async () => {
  const cpu = await readCpuFlags(fixtureRoot('no-extensions'));
  const c = checkCpu(cpu);
  assert.equal(c.status, 'warn');
  assert.match(c.found, /neither vmx nor svm/);
  assert.match(c.fix ?? '', /BIOS/);
  assert.match(c.fix ?? '', /VT, VMX or SVM/);
});

test('POWER: platform PowerNV passes, pSeries warns', async () => {
  const nv = await readCpuFlags(fixtureRoot('power-powernv'));
  assert.equal(nv.arch, 'power');
  assert.equal(nv.platform, 'PowerNV');
  assert.equal(checkCpu(nv).id, 'cpu.powernv');
  assert.equal(checkCpu(nv).status, 'pass');
  const ps = await readCpuFlags(fixtureRoot('power-pseries'));
  assert.equal(checkCpu(ps).status, 'warn');
  assert.match(checkCpu(ps).fix ?? '', /PowerNV/);
});

test('a word merely containing vmx is not the vmx flag', () => {
  const cpu = parseCpuInfo('vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx_ept_x svmlike\n');
  assert.equal(cpu.vmx, false);
  assert.equal(cpu.svm, false);
});

test('unreadable cpuinfo is reported, not thrown', async () => {
  const cpu = await readCpuFlags('/nonexistent-kt-host');
  assert.equal(cpu.readable, false);
  assert.equal(checkCpu(cpu).status, 'fail');
});
