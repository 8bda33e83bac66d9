// What real clients (openstacksdk, the openstack CLI, Terraform) send and Kestrel refused:
// each test is the request a client makes, answered as Nova or Glance answers it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uploadImage, rawImage, type Harness } from './harness.js';

const JSON_CT = { 'content-type': 'application/json' };

describe('client compatibility: requests real clients send', () => {
  let h: Harness;
  let image: string;
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-compat-' });
    image = await uploadImage(h, h.admin, 'kt-compat-img', undefined, { visibility: 'public' });
  });
  after(() => h?.close());

  test('Content-Type: application/json with no body: image delete, deactivate, tag PUT and server delete succeed', async () => {
    const own = await uploadImage(h, h.admin, 'kt-compat-doomed');
    const tag = await h.call('image', 'PUT', `/v2/images/${own}/tags/kt-tag`, {
      token: h.admin,
      headers: JSON_CT,
    });
    assert.equal(tag.status, 204, tag.text);
    const untag = await h.call('image', 'DELETE', `/v2/images/${own}/tags/kt-tag`, {
      token: h.admin,
      headers: JSON_CT,
    });
    assert.equal(untag.status, 204, untag.text);
    for (const action of ['deactivate', 'reactivate']) {
      const r = await h.call('image', 'POST', `/v2/images/${own}/actions/${action}`, {
        token: h.admin,
        headers: JSON_CT,
      });
      assert.equal(r.status, 204, `${action}: ${r.text}`);
    }
    const del = await h.call('image', 'DELETE', `/v2/images/${own}`, { token: h.admin, headers: JSON_CT });
    assert.equal(del.status, 204, del.text);
    assert.equal((await h.call('image', 'GET', `/v2/images/${own}`, { token: h.admin })).status, 404);

    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-compat-vm', imageRef: image, flavorRef: '1' } },
    });
    const id = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.member, id, (s) => s.status === 'ACTIVE');
    const sdel = await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, {
      token: h.member,
      headers: JSON_CT,
    });
    assert.equal(sdel.status, 204, sdel.text);
  });

  test('os-flavor-access:is_public as a string ("True", "false", "1", "off"), as Nova\'s boolean takes it', async () => {
    const cases: [string, boolean][] = [
      ['True', true],
      ['false', false],
      ['1', true],
      ['off', false],
    ];
    for (const [i, [value, want]] of cases.entries()) {
      const r = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.admin,
        body: {
          flavor: { name: `kt.compat.${i}`, ram: 64, vcpus: 1, disk: 1, 'os-flavor-access:is_public': value },
        },
      });
      assert.equal(r.status, 200, `${value}: ${r.text}`);
      assert.equal(
        (r.body as { flavor: Record<string, unknown> }).flavor['os-flavor-access:is_public'],
        want,
      );
    }
    const bad = await h.call('compute', 'POST', '/v2.1/flavors', {
      token: h.admin,
      body: {
        flavor: { name: 'kt.compat.bad', ram: 64, vcpus: 1, disk: 1, 'os-flavor-access:is_public': 'maybe' },
      },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /os-flavor-access:is_public must be a boolean/);
  });

  test('Glance\'s older JSON-patch media type (v2.0: [{"replace": "/name", "value": …}])', async () => {
    const r = await h.call('image', 'PATCH', `/v2/images/${image}`, {
      token: h.admin,
      payload: JSON.stringify([
        { replace: '/name', value: 'kt-compat-renamed' },
        { add: '/kt_prop', value: 'v' },
      ]),
      headers: { 'content-type': 'application/openstack-images-v2.0-json-patch' },
    });
    assert.equal(r.status, 200, r.text);
    const body = r.body as Record<string, unknown>;
    assert.equal(body.name, 'kt-compat-renamed');
    assert.equal(body.kt_prop, 'v');
  });

  test('min_count without max_count boots min_count servers (Nova takes max_count = min_count)', async () => {
    const r = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-compat-multi', imageRef: image, flavorRef: '1', min_count: 2 } },
    });
    assert.equal(r.status, 202, r.text);
    const list = await h.call('compute', 'GET', '/v2.1/servers?name=kt-compat-multi', { token: h.member });
    const servers = (list.body as { servers: { id: string }[] }).servers;
    assert.equal(servers.length, 2);
    for (const s of servers) {
      await h.waitFor(h.member, s.id, (x) => x.status === 'ACTIVE');
      await h.call('compute', 'DELETE', `/v2.1/servers/${s.id}`, { token: h.member });
    }
  });

  test('GET /v2/images/ (an empty id) is 404, not the list', async () => {
    const r = await h.call('image', 'GET', '/v2/images/', { token: h.member });
    assert.equal(r.status, 404, r.text);
    assert.equal((r.body as { code: string }).code, '404 Not Found');
  });

  test('a raw upload whose size is not a whole number of sectors, a kernel (aki) and a ramdisk (ari) are stored', async () => {
    // qemu-img (really run) rounds a raw file's virtual size up to 512 bytes; the inspector does not.
    const odd = rawImage(1024 * 1024 + 123);
    const rawId = await uploadImage(h, h.member, 'kt-compat-odd', odd);
    const raw = await h.call('image', 'GET', `/v2/images/${rawId}`, { token: h.member });
    assert.equal((raw.body as { status: string; size: number }).status, 'active');
    assert.equal((raw.body as { size: number }).size, odd.length);
    for (const fmt of ['aki', 'ari']) {
      const data = Buffer.alloc(4097, 7); // not a disk at all: no MBR, odd size
      const id = await uploadImage(h, h.member, `kt-compat-${fmt}`, data, {
        disk_format: fmt,
        container_format: fmt,
      });
      const got = await h.call('image', 'GET', `/v2/images/${id}`, { token: h.member });
      assert.equal((got.body as { status: string }).status, 'active', `${fmt}: ${got.text}`);
    }
  });

  test("PUT /servers/{id} and rebuild answer Nova's shorter server view; hypervisors carry only schema keys", async () => {
    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.admin,
      body: { server: { name: 'kt-compat-shape', imageRef: image, flavorRef: '1' } },
    });
    const id = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.admin, id, (s) => s.status === 'ACTIVE');
    const SHOW_KEYS = [
      'id',
      'name',
      'status',
      'tenant_id',
      'user_id',
      'metadata',
      'hostId',
      'image',
      'flavor',
      'created',
      'updated',
      'addresses',
      'accessIPv4',
      'accessIPv6',
      'links',
      'OS-DCF:diskConfig',
      'progress',
    ].sort();
    const put = await h.call('compute', 'PUT', `/v2.1/servers/${id}`, {
      token: h.admin,
      body: { server: { name: 'kt-compat-shape2' } },
    });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(Object.keys((put.body as { server: object }).server).sort(), SHOW_KEYS);
    const rebuild = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
      token: h.admin,
      body: { rebuild: { imageRef: image } },
    });
    assert.equal(rebuild.status, 202, rebuild.text);
    const keys = Object.keys((rebuild.body as { server: object }).server).filter((k) => k !== 'progress');
    assert.deepEqual(keys.sort(), [...SHOW_KEYS.filter((k) => k !== 'progress'), 'adminPass'].sort());
    await h.waitFor(h.admin, id, (s) => s.status === 'ACTIVE');
    const full = await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.admin });
    assert.ok('OS-EXT-STS:vm_state' in (full.body as { server: object }).server, 'GET keeps the full view');

    const hv = await h.call('compute', 'GET', '/v2.1/os-hypervisors/detail', { token: h.admin });
    const first = (hv.body as { hypervisors: Record<string, unknown>[] }).hypervisors[0];
    assert.equal('mem_encryption_slots' in first, false);
    const cpu = JSON.parse(String(first.cpu_info)) as { kestrel: Record<string, number> };
    assert.equal(typeof cpu.kestrel.mem_encryption_slots, 'number');
  });

  test("the Compute API's image proxy: a snapshot followed through /v2.1/images, its metadata, its delete", async () => {
    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-compat-snap', imageRef: image, flavorRef: '1' } },
    });
    const id = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.member, id, (s) => s.status === 'ACTIVE');
    // A snapshot as createImage leaves it (the API harness's disks are names only, so the
    // image is made through the Image API with the properties a snapshot carries).
    const snapId = await uploadImage(h, h.member, 'kt-compat-snapshot', undefined, {
      instance_uuid: id,
      image_type: 'snapshot',
      purpose: 'test',
    });
    const r = await h.call('compute', 'GET', `/v2.1/images/${snapId}`, { token: h.member });
    assert.equal(r.status, 200, r.text);
    const shown = (r.body as { image: Record<string, unknown> }).image;
    assert.equal(shown.status, 'ACTIVE');
    assert.equal(shown.progress, 100);
    assert.equal(shown.name, 'kt-compat-snapshot');
    assert.equal((shown.server as { id: string }).id, id);
    assert.equal((shown.metadata as Record<string, string>).purpose, 'test');
    assert.deepEqual(Object.keys(shown).sort(), [
      'OS-EXT-IMG-SIZE:size',
      'created',
      'id',
      'links',
      'metadata',
      'minDisk',
      'minRam',
      'name',
      'progress',
      'server',
      'status',
      'updated',
    ]);
    const links = shown.links as { rel: string; href: string }[];
    assert.equal(links.find((l) => l.rel === 'alternate')?.href, `http://127.0.0.1:9292/images/${snapId}`);

    const list = await h.call('compute', 'GET', '/v2.1/images', { token: h.member });
    assert.ok((list.body as { images: { id: string }[] }).images.some((i) => i.id === snapId));
    const byServer = await h.call('compute', 'GET', `/v2.1/images/detail?server=${id}&type=snapshot`, {
      token: h.member,
    });
    assert.deepEqual(
      (byServer.body as { images: { id: string }[] }).images.map((i) => i.id),
      [snapId],
    );
    const bad = await h.call('compute', 'GET', '/v2.1/images/detail?changes-since=garbage', {
      token: h.member,
    });
    assert.equal(bad.status, 400, bad.text);

    const M = `/v2.1/images/${snapId}/metadata`;
    const post = await h.call('compute', 'POST', M, { token: h.member, body: { metadata: { a: '1' } } });
    assert.equal(post.status, 200, post.text);
    assert.equal((post.body as { metadata: Record<string, string> }).metadata.a, '1');
    const item = await h.call('compute', 'PUT', `${M}/b`, { token: h.member, body: { meta: { b: '2' } } });
    assert.deepEqual(item.body, { meta: { b: '2' } });
    assert.deepEqual((await h.call('compute', 'GET', `${M}/b`, { token: h.member })).body, {
      meta: { b: '2' },
    });
    const put = await h.call('compute', 'PUT', M, { token: h.member, body: { metadata: { only: 'x' } } });
    assert.deepEqual((put.body as { metadata: object }).metadata, { only: 'x' });
    assert.equal((await h.call('compute', 'DELETE', `${M}/only`, { token: h.member })).status, 204);
    assert.equal((await h.call('compute', 'GET', `${M}/only`, { token: h.member })).status, 404);
    const core = await h.call('compute', 'POST', M, { token: h.member, body: { metadata: { name: 'x' } } });
    assert.equal(core.status, 400, core.text);
    const ctl = await h.call('compute', 'POST', M, { token: h.member, body: { metadata: { k: 'a\u0000' } } });
    assert.equal(ctl.status, 400, ctl.text);

    assert.equal(
      (await h.call('compute', 'DELETE', `/v2.1/images/${snapId}`, { token: h.member })).status,
      204,
    );
    assert.equal((await h.call('compute', 'GET', `/v2.1/images/${snapId}`, { token: h.member })).status, 404);
    assert.equal((await h.call('image', 'GET', `/v2/images/${snapId}`, { token: h.member })).status, 404);
    await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
  });
});
