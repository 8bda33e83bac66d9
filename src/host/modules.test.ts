import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCpuFlags } from './cpu.js';
import { checkKvmModules, moduleFix, readKvmModules } from './modules.js';
import { fixtureRoot } from './test-fixtures.js';

test('Intel: kvm and kvm_intel from /proc/modules pass', async () => {
  const root = fixtureRoot('intel');
  const mods = await readKvmModules(root);
  assert.deepEqual(
    mods.map((m) => `${m.name}:${m.state}`),
    ['kvm:loaded', 'kvm_intel:loaded'],
  );
  assert.equal(checkKvmModules(mods, await readCpuFlags(root)).status, 'pass');
});

test('AMD and POWER hardware modules', async () => {
  assert.ok((await readKvmModules(fixtureRoot('amd-sev-1'))).some((m) => m.name === 'kvm_amd'));
  const power = fixtureRoot('power-powernv');
  const mods = await readKvmModules(power);
  assert.ok(mods.some((m) => m.name === 'kvm_hv'));
  assert.equal(checkKvmModules(mods, await readCpuFlags(power)).status, 'pass');
});

test('PVM host: built-in kvm and kvm_pvm reported as they are', async () => {
  const root = fixtureRoot('pvm');
  const mods = await readKvmModules(root);
  assert.deepEqual(
    mods.map((m) => `${m.name}:${m.state}`),
    ['kvm:builtin', 'kvm_pvm:builtin'],
  );
  const c = checkKvmModules(mods, await readCpuFlags(root));
  assert.equal(c.status, 'warn');
  assert.match(c.found, /kvm_pvm \(built in\)/);
  assert.match(c.found, /no kvm_intel/);
});

test('no kvm module: warns with modprobe and /etc/modules lines', async () => {
  const root = fixtureRoot('no-extensions');
  const c = checkKvmModules(await readKvmModules(root), await readCpuFlags(root));
  assert.equal(c.status, 'warn');
  assert.match(c.found, /no kvm modules/);
  assert.match(c.fix ?? '', /modprobe kvm && modprobe kvm-intel/);
  assert.match(c.fix ?? '', /\/etc\/modules/);
  assert.match(c.fix ?? '', /no supported architecture for os type 'hvm'/);
});

test('moduleFix names both vendors when the CPU is unknown', () => {
  const fix = moduleFix(undefined);
  assert.match(fix, /kvm-intel/);
  assert.match(fix, /kvm-amd/);
  assert.match(moduleFix('kvm_hv'), /modprobe kvm-hv/);
});
