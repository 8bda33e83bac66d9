// SEV host detection and capacity against recorded host data (test/fixtures/sev, the
// amd-sev-* host roots): this machine has no SEV, so the real code runs through the
// host-capabilities seam (a domain-capabilities fetcher + a host root for /sys).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SevHostCapabilities,
  UNLIMITED_SLOTS,
  checkSevSlots,
  describeSevSlots,
  memEncryptionSlots,
  readSev,
  sevTraits,
} from '../../src/host/sev.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const domcaps = (name: string) => readFileSync(join(FIX, 'sev', name), 'utf8');
const hostRoot = (name: string) => join(FIX, 'host', name);
const MACHINES = {
  pc: 'pc-i440fx-7.2',
  'pc-i440fx-7.2': 'pc-i440fx-7.2',
  q35: 'pc-q35-7.2',
  'pc-q35-7.2': 'pc-q35-7.2',
};

/** A fetcher serving recorded documents per machine type, counting the calls. */
function recorded(byMachine: Record<string, string>) {
  const calls: string[] = [];
  const fetch = async (arch: string, machine: string) => {
    calls.push(`${arch}/${machine}`);
    const f = byMachine[machine];
    if (!f) throw new Error(`no recorded domain capabilities for ${machine}`);
    return domcaps(f);
  };
  return { fetch, calls };
}

test('kernel: sev=Y (newer kernels) and sev=1 (older) both count; sev=0 does not', async () => {
  assert.equal((await readSev(hostRoot('amd-sev-y'))).sev, true);
  assert.equal((await readSev(hostRoot('amd-sev-y'))).sevEs, true);
  assert.equal((await readSev(hostRoot('amd-sev-1'))).sev, true);
  assert.equal((await readSev(hostRoot('amd-sev-1'))).sevEs, false);
  assert.equal((await readSev(hostRoot('amd-sev-0'))).sev, false);
  assert.equal((await readSev(hostRoot('intel'))).kvmAmd, false);
});

test('detect: Milan host (sev=Y) reports SEV and SEV-ES with the q35 fields; asked once per machine', async () => {
  const r = recorded({
    'pc-i440fx-7.2': 'domcaps-epyc-milan-pc.xml',
    'pc-q35-7.2': 'domcaps-epyc-milan-q35.xml',
  });
  const caps = new SevHostCapabilities(r.fetch, () => readSev(hostRoot('amd-sev-y')));
  const s = await caps.detect('x86_64', MACHINES, 'q35');
  assert.equal(s.supported, true);
  assert.equal(s.es, true);
  assert.equal(s.machine, 'pc-q35-7.2');
  assert.deepEqual(s.caps, {
    supported: true,
    cbitpos: 51,
    reducedPhysBits: 1,
    maxGuests: 502,
    maxESGuests: 7,
  });
  // The per-(arch, machine) cache: later lookups do not ask libvirt again.
  const pc1 = await caps.forMachine('x86_64', 'pc-i440fx-7.2');
  const pc2 = await caps.forMachine('x86_64', 'pc-i440fx-7.2');
  await caps.forMachine('x86_64', 'pc-q35-7.2');
  assert.equal(pc1.cbitpos, 51);
  assert.equal(pc2, pc1);
  assert.deepEqual(r.calls, ['x86_64/pc-q35-7.2', 'x86_64/pc-i440fx-7.2']);
  assert.equal(await caps.detect('x86_64', MACHINES, 'q35'), s, 'detection is decided once');
});

test('detect: sev=1 with no SEV-ES; a failed fetch is not cached', async () => {
  let fail = true;
  const caps = new SevHostCapabilities(
    async (_a, m) => {
      if (fail) throw new Error('libvirt unreachable');
      return domcaps(m.includes('q35') ? 'domcaps-epyc-milan-q35.xml' : 'domcaps-epyc-milan-pc.xml');
    },
    () => readSev(hostRoot('amd-sev-1')),
  );
  await assert.rejects(caps.forMachine('x86_64', 'pc-q35-7.2'), /unreachable/);
  fail = false;
  assert.equal((await caps.forMachine('x86_64', 'pc-q35-7.2')).maxGuests, 502);
  const s = await caps.detect('x86_64', MACHINES, 'pc');
  assert.equal(s.supported, true);
  assert.equal(s.es, false, 'kvm_amd sev_es=0 turns SEV-ES off even though libvirt reports ES slots');
});

test('detect: no SEV when the kernel has it off, when libvirt says no, or on other arches', async () => {
  const all = recorded({
    'pc-i440fx-7.2': 'domcaps-epyc-milan-pc.xml',
    'pc-q35-7.2': 'domcaps-epyc-milan-q35.xml',
  });
  const off = await new SevHostCapabilities(all.fetch, () => readSev(hostRoot('amd-sev-0'))).detect(
    'x86_64',
    MACHINES,
  );
  assert.equal(off.supported, false);
  assert.match(off.reason!, /parameters\/sev is 0/);
  assert.deepEqual(all.calls, [], 'libvirt is not asked when the kernel has SEV off');
  const intel = await new SevHostCapabilities(all.fetch, () => readSev(hostRoot('intel'))).detect(
    'x86_64',
    MACHINES,
  );
  assert.match(intel.reason!, /kvm_amd is not loaded/);
  const no = recorded({ 'pc-i440fx-7.2': 'domcaps-no-sev-q35.xml', 'pc-q35-7.2': 'domcaps-no-sev-q35.xml' });
  const lv = await new SevHostCapabilities(no.fetch, () => readSev(hostRoot('amd-sev-y'))).detect(
    'x86_64',
    MACHINES,
  );
  assert.equal(lv.supported, false);
  assert.match(lv.reason!, /do not report <sev supported='yes'>/);
  const arm = await new SevHostCapabilities(all.fetch, () => readSev(hostRoot('amd-sev-y'))).detect(
    'aarch64',
    {},
  );
  assert.equal(arm.supported, false);
});

test('capacity: option, detected maxGuests, the option above the hardware, no SEV, unknown max', async () => {
  const milan = { supported: true, caps: { supported: true, maxGuests: 502 } };
  assert.deepEqual(memEncryptionSlots(milan, null), { total: 502, warnings: [] });
  assert.deepEqual(memEncryptionSlots(milan, 15), { total: 15, warnings: [] });
  assert.equal(memEncryptionSlots(milan, 0).total, 0, '0 disables SEV on the host');
  const over = memEncryptionSlots(milan, 600);
  assert.equal(over.total, 502);
  assert.match(over.warnings[0], /600 exceeds the 502 SEV guests the hardware supports/);
  const none = memEncryptionSlots({ supported: false, reason: 'kvm_amd is not loaded' }, 15);
  assert.equal(none.total, 0);
  assert.match(none.warnings[0], /cannot run SEV guests \(kvm_amd is not loaded\)/);
  assert.deepEqual(memEncryptionSlots({ supported: false }, null), { total: 0, warnings: [] });
  const naples = { supported: true, caps: { supported: true, cbitpos: 47 } };
  const unknown = memEncryptionSlots(naples, null);
  assert.equal(unknown.total, UNLIMITED_SLOTS);
  assert.match(unknown.warnings[0], /set \[libvirt\] num_memory_encrypted_guests/);
  assert.deepEqual(memEncryptionSlots(naples, 15), { total: 15, warnings: [] });
});

test('capacity from recorded hosts end to end: Naples on libvirt 7 needs the option', async () => {
  const r = recorded({ 'pc-q35-7.2': 'domcaps-epyc-naples-libvirt7-q35.xml' });
  const s = await new SevHostCapabilities(r.fetch, () => readSev(hostRoot('amd-sev-1'))).detect(
    'x86_64',
    { q35: 'pc-q35-7.2' },
    'q35',
  );
  assert.equal(s.caps?.cbitpos, 47);
  assert.equal(s.caps?.maxGuests, undefined);
  assert.equal(memEncryptionSlots(s, 15).total, 15);
  assert.deepEqual(sevTraits(s, 15), ['HW_CPU_X86_AMD_SEV']);
  assert.deepEqual(sevTraits(s, 0), [], 'no trait when the operator set 0 slots');
  assert.deepEqual(sevTraits({ supported: true, es: true }, 5), [
    'HW_CPU_X86_AMD_SEV',
    'HW_CPU_X86_AMD_SEV_ES',
  ]);
});

test('slots used / total for doctor and os-hypervisors', () => {
  assert.equal(describeSevSlots(3, 15), '3 of 15 SEV guest slots used (12 free)');
  assert.equal(checkSevSlots(3, 15).status, 'pass');
  const full = checkSevSlots(15, 15);
  assert.equal(full.status, 'warn');
  assert.match(full.fix!, /every memory-encryption slot is taken/);
  assert.equal(checkSevSlots(0, 0).status, 'skip');
  assert.match(describeSevSlots(2, UNLIMITED_SLOTS), /no limit known/);
});

test('hostStatus: slots and traits for placement, each warning logged once', async () => {
  const r = recorded({
    'pc-q35-7.2': 'domcaps-epyc-milan-q35.xml',
    'pc-i440fx-7.2': 'domcaps-epyc-milan-pc.xml',
  });
  const caps = new SevHostCapabilities(r.fetch, () => readSev(hostRoot('amd-sev-y')));
  const warned: string[] = [];
  const a = await caps.hostStatus('x86_64', MACHINES, 'q35', 600, (m) => warned.push(m));
  const b = await caps.hostStatus('x86_64', MACHINES, 'q35', 600, (m) => warned.push(m));
  assert.equal(a.slots, 502);
  assert.deepEqual(b.traits, ['HW_CPU_X86_AMD_SEV', 'HW_CPU_X86_AMD_SEV_ES']);
  assert.equal(warned.length, 1);
  assert.match(warned[0], /exceeds the 502/);
});
