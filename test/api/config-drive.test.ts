// Config drive, keypair and user data through the Compute API (fake hypervisor, real
// genisoimage): what the drive holds is read back with isoinfo as a guest would see it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import { run } from '../../src/util/run.js';
import { startHarness, uploadImage, type Harness } from './harness.js';

class RecordingDriver extends FakeDriver {
  readonly specs = new Map<string, InstanceSpec>();
  override async spawn(spec: InstanceSpec): Promise<void> {
    this.specs.set(spec.uuid, spec);
    return super.spawn(spec);
  }
}

let h: Harness;
let driver: RecordingDriver;
let imageId: string;
const SCRIPT = '#!/bin/sh\necho "KESTREL-USER-DATA-RAN on $(hostname)"\n';

before(async () => {
  driver = new RecordingDriver({ bootMessage: 'GUEST-BOOTED' });
  h = await startHarness({ driver, tempPrefix: 'kt-config-drive-' });
  imageId = await uploadImage(h, h.admin, 'cd-img', undefined, { visibility: 'public' });
});
after(() => h.close());

async function isoFile(iso: string, path: string): Promise<string> {
  return (await run(['isoinfo', '-R', '-i', iso, '-x', path])).stdout;
}

async function create(token: string, server: Record<string, unknown>) {
  return h.call('compute', 'POST', '/v2.1/servers', {
    token,
    body: { server: { flavorRef: '1', imageRef: imageId, ...server } },
  });
}

test('--key-name, --user-data, --property, --config-drive true: the drive holds them in Nova layout', async () => {
  const kp = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
    token: h.member,
    body: { keypair: { name: 'cd-key' } },
  });
  assert.equal(kp.status, 200, kp.text);
  const publicKey = (kp.body as { keypair: { public_key: string } }).keypair.public_key;
  const r = await create(h.member, {
    name: 'Web Server_1',
    key_name: 'cd-key',
    user_data: Buffer.from(SCRIPT).toString('base64'),
    metadata: { role: 'web' },
    config_drive: true,
  });
  assert.equal(r.status, 202, r.text);
  const id = (r.body as { server: { id: string } }).server.id;
  const s = await h.waitFor(h.member, id, (x) => x.status === 'ACTIVE');
  assert.equal(s.config_drive, 'True');
  const drive = driver.specs.get(id)!.configDrive!;
  assert.equal(drive.format, 'iso9660');
  assert.ok(drive.path.endsWith(`${id}/disk.config`));
  const info = await run(['isoinfo', '-d', '-i', drive.path]);
  assert.match(info.stdout, /^Volume id: config-2$/m);
  const md = JSON.parse(await isoFile(drive.path, '/openstack/latest/meta_data.json'));
  assert.equal(md.uuid, id);
  assert.equal(md.name, 'Web Server_1');
  assert.equal(md.hostname, 'web-server-1.novalocal');
  assert.equal(md.launch_index, 0);
  assert.equal(md.availability_zone, 'nova');
  assert.equal(md.project_id, h.memberProjectId);
  assert.deepEqual(md.meta, { role: 'web' });
  assert.deepEqual(md.public_keys, { 'cd-key': publicKey });
  assert.deepEqual(md.keys, [{ name: 'cd-key', type: 'ssh', data: publicKey }]);
  assert.equal(Buffer.from(md.random_seed, 'base64').length, 512);
  assert.equal(await isoFile(drive.path, '/openstack/latest/user_data'), SCRIPT);
  assert.equal(await isoFile(drive.path, '/ec2/latest/user-data'), SCRIPT);
  assert.deepEqual(JSON.parse(await isoFile(drive.path, '/openstack/latest/network_data.json')), {
    links: [],
    networks: [],
    services: [],
  });

  // Stop / start keep the drive as it is; a rebuild makes a fresh one (a new random seed).
  const action = async (body: unknown, status: string) => {
    const a = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, { token: h.member, body });
    assert.equal(a.status, 202, a.text);
    await h.waitFor(h.member, id, (x) => x.status === status && x['OS-EXT-STS:task_state'] === null);
  };
  const seed = md.random_seed;
  await action({ 'os-stop': null }, 'SHUTOFF');
  await action({ 'os-start': null }, 'ACTIVE');
  assert.equal(JSON.parse(await isoFile(drive.path, '/openstack/latest/meta_data.json')).random_seed, seed);
  await action({ rebuild: { imageRef: imageId } }, 'ACTIVE');
  const rebuilt = JSON.parse(await isoFile(drive.path, '/openstack/latest/meta_data.json'));
  assert.notEqual(rebuilt.random_seed, seed);
  assert.equal(rebuilt.uuid, id);
  assert.equal(await isoFile(drive.path, '/openstack/latest/user_data'), SCRIPT);

  // Delete removes it with the instance directory.
  const del = await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
  assert.equal(del.status, 204);
  const end = Date.now() + 10_000;
  while (existsSync(drive.path) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  assert.ok(!existsSync(drive.path), 'the config drive is removed with the server');
});

test('no --config-drive and no force_config_drive: no drive, config_drive ""', async () => {
  const r = await create(h.member, { name: 'plain' });
  assert.equal(r.status, 202, r.text);
  const id = (r.body as { server: { id: string } }).server.id;
  const s = await h.waitFor(h.member, id, (x) => x.status === 'ACTIVE');
  assert.equal(s.config_drive, '');
  assert.equal(driver.specs.get(id)!.configDrive, undefined);
  await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
});

test('bad user data and config_drive are a 400 naming the field and the fix; nothing is created', async () => {
  const notB64 = await create(h.member, { name: 'x', user_data: 'this is not base64!' });
  assert.equal(notB64.status, 400);
  assert.match(notB64.text, /user_data: it is not base64 text/);
  const badPad = await create(h.member, { name: 'x', user_data: 'abc' });
  assert.equal(badPad.status, 400);
  const big = await create(h.member, { name: 'x', user_data: 'A'.repeat(65536) });
  assert.equal(big.status, 400);
  assert.match(big.text, /65536 characters long, more than the 65535 allowed/);
  const notBool = await create(h.member, { name: 'x', config_drive: 'maybe' });
  assert.equal(notBool.status, 400);
  assert.match(notBool.text, /config_drive/);
  // The limit itself is fine.
  const max = await create(h.member, { name: 'max-ud', user_data: 'A'.repeat(65532) });
  assert.equal(max.status, 202, max.text);
  const id = (max.body as { server: { id: string } }).server.id;
  assert.equal(await h.core.repos.instances.userData(id), 'A'.repeat(65532));
  assert.ok(!(await h.core.repos.instances.list()).some((i) => i.displayName === 'x'));
  await h.waitFor(h.member, id, (x) => x.status === 'ACTIVE');
  await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
});

test("another user's keypair cannot be used", async () => {
  const r = await create(h.other, { name: 'steal', key_name: 'cd-key' });
  assert.equal(r.status, 400);
  assert.match(r.text, /keypair cd-key does not exist/);
});
