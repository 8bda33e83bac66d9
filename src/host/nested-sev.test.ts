import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNested, readNested } from './nested.js';
import { checkKernelSev, checkLibvirtSev, parseDomainCapsSev, readSev } from './sev.js';
import { isParamEnabled } from './module-params.js';
import { fixtureRoot } from './test-fixtures.js';

test('nested: Y on Intel, 1 on AMD pass; N warns with the modprobe.d lines', async () => {
  const intel = await readNested(fixtureRoot('intel'));
  assert.deepEqual(intel, { module: 'kvm_intel', value: 'Y', enabled: true });
  assert.equal(checkNested(intel).status, 'pass');
  const amd = await readNested(fixtureRoot('amd-sev-0'));
  assert.equal(amd.module, 'kvm_amd');
  assert.equal(amd.enabled, true);
  const off = await readNested(fixtureRoot('intel-kvm-0600'));
  assert.equal(off.enabled, false);
  const c = checkNested(off);
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /options kvm_intel nested=1/);
  assert.match(c.fix ?? '', /\/etc\/modprobe\.d\/kvm\.conf/);
  assert.equal(checkNested(await readNested(fixtureRoot('pvm'))).status, 'skip');
});

test('kernel boolean parameters: Y and 1 are on, N and 0 are off', () => {
  for (const v of ['Y', '1', 'y']) assert.equal(isParamEnabled(v), true, v);
  for (const v of ['N', '0', '', undefined]) assert.equal(isParamEnabled(v), false, String(v));
});

test('SEV: sev=Y (newer kernels) and sev=1 (older) both count; sev=0 does not', async () => {
  const y = await readSev(fixtureRoot('amd-sev-y'));
  assert.equal(y.sev, true);
  assert.equal(y.sevEs, true);
  assert.deepEqual(
    checkKernelSev(y, true).map((c) => c.status),
    ['pass', 'pass'],
  );
  const one = await readSev(fixtureRoot('amd-sev-1'));
  assert.equal(one.sev, true);
  assert.equal(one.sevEs, false);
  assert.deepEqual(
    checkKernelSev(one, true).map((c) => c.status),
    ['pass', 'warn'],
  );
  const zero = await readSev(fixtureRoot('amd-sev-0'));
  assert.equal(zero.sev, false);
  const [c] = checkKernelSev(zero, true);
  assert.equal(c.status, 'warn');
  assert.match(c.found, /sev = 0/);
  assert.match(c.fix ?? '', /options kvm_amd sev=1/);
});

test('SEV on an Intel host is skipped', async () => {
  const s = await readSev(fixtureRoot('intel'));
  assert.equal(s.kvmAmd, false);
  assert.deepEqual(
    checkKernelSev(s, false).map((c) => c.status),
    ['skip', 'skip'],
  );
});

const DOMCAPS_SEV = `<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path><domain>kvm</domain><machine>pc-q35-7.2</machine><arch>x86_64</arch>
  <features>
    <gic supported='no'/>
    <sev supported='yes'>
      <cbitpos>47</cbitpos>
      <reducedPhysBits>1</reducedPhysBits>
      <maxGuests>15</maxGuests>
      <maxESGuests>494</maxESGuests>
    </sev>
  </features>
</domainCapabilities>`;

test("libvirt domain capabilities: <sev supported='yes'> with its fields", () => {
  const caps = parseDomainCapsSev(DOMCAPS_SEV);
  assert.deepEqual(caps, {
    supported: true,
    cbitpos: 47,
    reducedPhysBits: 1,
    maxGuests: 15,
    maxESGuests: 494,
  });
  const c = checkLibvirtSev(caps, undefined);
  assert.equal(c.status, 'pass');
  assert.match(c.found, /cbitpos 47/);
});

test("libvirt domain capabilities: <sev supported='no'> and no <sev> at all", () => {
  assert.equal(
    parseDomainCapsSev("<domainCapabilities><features><sev supported='no'/></features></domainCapabilities>")
      .supported,
    false,
  );
  assert.equal(parseDomainCapsSev('<domainCapabilities><features/></domainCapabilities>').supported, false);
  assert.equal(checkLibvirtSev({ supported: false }, undefined).status, 'warn');
  assert.equal(checkLibvirtSev(undefined, 'libvirt is not reachable').status, 'skip');
});
