// `kestrel doctor`'s SEV slot check on recorded AMD hosts, with libvirt answering from the
// recorded SEV domain capabilities (this machine has no SEV).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDoctor, type DoctorReport } from '../../src/host/index.js';
import { fakeLibvirt } from '../../src/host/test-fixtures.js';
import type { KvmProbeFn } from '../../src/host/kvm-probe.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');

function libvirtFrom(file: string) {
  return fakeLibvirt({
    libVersion: 9_000_000,
    hvVersion: 7_002_000,
    domainCapabilities: () => readFileSync(join(FIX, 'sev', file), 'utf8'),
  });
}

const noProbe = (async () => {
  throw new Error('no probe on recorded hosts');
}) as unknown as KvmProbeFn;

async function slots(
  host: string,
  file: string,
  configured: number | null,
): Promise<DoctorReport['checks'][number]> {
  const r = await runDoctor({
    hostRoot: join(FIX, 'host', host),
    virtTypeSetting: 'auto',
    runProbe: false,
    probe: noProbe,
    libvirt: libvirtFrom(file),
    numMemoryEncryptedGuests: configured,
  });
  const c = r.checks.find((x) => x.id === 'sev.slots');
  assert.ok(c, `sev.slots in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
}

test('doctor: SEV slots from maxGuests, from the option, and the option above the hardware', async () => {
  const detected = await slots('amd-sev-y', 'domcaps-epyc-milan-q35.xml', null);
  assert.equal(detected.status, 'pass');
  assert.match(detected.found, /^502 MEM_ENCRYPTION_CONTEXT slots \(libvirt's maxGuests\)/);
  const option = await slots('amd-sev-1', 'domcaps-epyc-milan-q35.xml', 15);
  assert.match(option.found, /^15 MEM_ENCRYPTION_CONTEXT slots \(\[libvirt\] num_memory_encrypted_guests\)/);
  const over = await slots('amd-sev-y', 'domcaps-epyc-milan-q35.xml', 600);
  assert.equal(over.status, 'warn');
  assert.match(over.fix ?? '', /exceeds the 502/);
  const unknown = await slots('amd-sev-y', 'domcaps-epyc-naples-libvirt7-q35.xml', null);
  assert.equal(unknown.status, 'warn');
  assert.match(unknown.found, /unlimited/);
});

test('doctor: no SEV (kernel off) gives 0 slots, and a warning when the option is set', async () => {
  const off = await slots('amd-sev-0', 'domcaps-epyc-milan-q35.xml', null);
  assert.equal(off.status, 'skip');
  assert.match(off.found, /0 MEM_ENCRYPTION_CONTEXT slots \(the kernel has SEV off\)/);
  const set = await slots('amd-sev-0', 'domcaps-epyc-milan-q35.xml', 15);
  assert.equal(set.status, 'warn');
  assert.match(set.found, /num_memory_encrypted_guests = 15 but this host cannot run SEV guests/);
});
