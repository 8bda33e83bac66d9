import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFirmware, readFirmware } from './firmware.js';
import { fixtureRoot } from './test-fixtures.js';

test('OVMF images and descriptors found, one without secure boot: pass', async () => {
  const f = await readFirmware(fixtureRoot('intel'));
  assert.equal(f.ovmfImages.length, 3);
  assert.equal(f.descriptors.length, 2);
  const plain = f.descriptors.find((d) => d.file.endsWith('60-edk2-x86_64.json'));
  assert.ok(plain);
  assert.equal(plain.executable, '/usr/share/OVMF/OVMF_CODE_4M.fd');
  assert.equal(plain.filesPresent, true);
  assert.deepEqual(plain.interfaceTypes, ['uefi']);
  assert.equal(checkFirmware(f).status, 'pass');
});

test('no OVMF: warn with the package to install', async () => {
  const c = checkFirmware(await readFirmware(fixtureRoot('amd-sev-y')));
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /apt-get install ovmf/);
});

test('only secure-boot descriptors: warn about Security Violation', async () => {
  const f = await readFirmware(fixtureRoot('intel'));
  const secureOnly = { ...f, descriptors: f.descriptors.filter((d) => d.features.includes('secure-boot')) };
  const c = checkFirmware(secureOnly);
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /Security Violation/);
});

test('a descriptor whose executable is missing does not count', async () => {
  const f = await readFirmware(fixtureRoot('intel'));
  const broken = { ...f, descriptors: f.descriptors.map((d) => ({ ...d, filesPresent: false })) };
  assert.equal(checkFirmware(broken).status, 'warn');
});
