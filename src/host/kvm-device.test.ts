import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statFromDeviceFacts, formatMode, type StatFn } from './device-stat.js';
import { checkKvmDevice, readKvmDevice } from './kvm-device.js';
import { checkVhostNet, readVhostNet } from './vhost-net.js';
import { canReadWrite } from './users.js';
import { fixtureRoot } from './test-fixtures.js';

async function facts(name: string): Promise<StatFn> {
  const fn = await statFromDeviceFacts(fixtureRoot(name));
  assert.ok(fn, `${name} has device-facts.json`);
  return fn;
}

test('/dev/kvm 0660 root:kvm usable by libvirt-qemu passes', async () => {
  const root = fixtureRoot('intel');
  const d = await readKvmDevice(root, await facts('intel'));
  assert.equal(d.groupName, 'kvm');
  assert.equal(d.qemu.user, 'libvirt-qemu');
  assert.equal(d.usableByQemu, true);
  const c = checkKvmDevice(d);
  assert.equal(c.status, 'pass');
  assert.match(c.found, /crw-rw---- root:kvm/);
});

test('/dev/kvm 0600 root:root warns with udevadm trigger, chgrp/chmod and the 50-90 s symptom', async () => {
  const root = fixtureRoot('intel-kvm-0600');
  const d = await readKvmDevice(root, await facts('intel-kvm-0600'));
  assert.equal(d.usableByQemu, false);
  const c = checkKvmDevice(d);
  assert.equal(c.status, 'warn');
  assert.match(c.found, /crw------- root:root/);
  assert.match(c.found, /group is not kvm/);
  assert.match(c.fix ?? '', /udevadm trigger/);
  assert.match(c.fix ?? '', /chgrp kvm \/dev\/kvm && chmod 0660 \/dev\/kvm/);
  assert.match(c.fix ?? '', /50-90 s/);
});

test('/dev/kvm missing', async () => {
  const d = await readKvmDevice(fixtureRoot('no-extensions'), await facts('no-extensions'));
  const c = checkKvmDevice(d);
  assert.equal(c.status, 'warn');
  assert.match(c.found, /does not exist/);
});

test('group kvm but mode 0600: group is right, access is not', async () => {
  const root = fixtureRoot('intel');
  const stat: StatFn = () =>
    Promise.resolve({ exists: true, isCharDevice: true, mode: 0o600, uid: 0, gid: 107 });
  const c = checkKvmDevice(await readKvmDevice(root, stat));
  assert.equal(c.status, 'warn');
  assert.doesNotMatch(c.found, /group is not kvm/);
  assert.match(c.found, /cannot open it read-write/);
});

test('permission rule: owner bits, then group bits, then other', () => {
  const acct = { user: 'q', uid: 5, gids: [107], groupNames: ['kvm'] };
  assert.equal(canReadWrite(acct, { mode: 0o600, uid: 5, gid: 0 }), true);
  assert.equal(canReadWrite(acct, { mode: 0o066, uid: 5, gid: 107 }), false); // owner bits win
  assert.equal(canReadWrite(acct, { mode: 0o660, uid: 0, gid: 107 }), true);
  assert.equal(canReadWrite(acct, { mode: 0o606, uid: 0, gid: 107 }), false); // group bits win
  assert.equal(canReadWrite(acct, { mode: 0o666, uid: 0, gid: 0 }), true);
  assert.equal(canReadWrite({ ...acct, uid: 0 }, { mode: 0o600, uid: 1, gid: 1 }), true);
  assert.equal(formatMode({ exists: true, isCharDevice: true, mode: 0o660, uid: 0, gid: 0 }), 'crw-rw----');
});

test('vhost-net present / absent', async () => {
  assert.equal(checkVhostNet(await readVhostNet(await facts('intel'))).status, 'pass');
  const c = checkVhostNet(await readVhostNet(await facts('pvm')));
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /modprobe vhost_net/);
});
