// Identity v3 and Image v2 through inject(): discovery, token life (issue, validate,
// revoke, expiry), uploads with checksums, JSON-patch, filters, hostile images never active,
// visibility across projects, and the body-size limit.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawImage, startHarness, uploadImage, type Harness } from './harness.js';

describe('identity API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('discovery and a token with a catalog of the three services', async () => {
    const root = await h.call('identity', 'GET', '/');
    assert.equal(root.status, 300);
    assert.equal((root.body as { versions: { values: { id: string }[] } }).versions.values[0].id, 'v3.14');
    const r = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: 'adminpw' } },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    assert.equal(r.status, 201);
    assert.ok(r.headers['x-subject-token']);
    const tok = (r.body as { token: Record<string, unknown> }).token;
    assert.match(String(tok.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const catalog = tok.catalog as {
      type: string;
      endpoints: { region: string; region_id: string; interface: string }[];
    }[];
    assert.deepEqual(catalog.map((s) => s.type).sort(), ['compute', 'identity', 'image']);
    for (const s of catalog) for (const e of s.endpoints) assert.ok(e.region && e.region_id);
    assert.deepEqual((tok.roles as { name: string }[]).map((x) => x.name).sort(), [
      'admin',
      'member',
      'reader',
    ]);
  });

  test('wrong password, unknown user and unknown project are 401; malformed is 400', async () => {
    const auth = (user: string, password: string, project = 'admin') => ({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    });
    assert.equal(
      (await h.call('identity', 'POST', '/v3/auth/tokens', { body: auth('admin', 'wrong') })).status,
      401,
    );
    assert.equal(
      (await h.call('identity', 'POST', '/v3/auth/tokens', { body: auth('nobody', 'x') })).status,
      401,
    );
    assert.equal(
      (await h.call('identity', 'POST', '/v3/auth/tokens', { body: auth('alice', 'alicepw', 'admin') }))
        .status,
      401,
    );
    assert.equal((await h.call('identity', 'POST', '/v3/auth/tokens', { body: { nope: 1 } })).status, 400);
    const e = await h.call('identity', 'POST', '/v3/auth/tokens', { body: auth('admin', 'wrong') });
    assert.equal((e.body as { error: { code: number } }).error.code, 401);
  });

  test('token auth, validation, revocation and expiry', async () => {
    const r = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['token'], token: { id: h.member } } } },
    });
    assert.equal(r.status, 201);
    const t2 = String(r.headers['x-subject-token']);
    const check = await h.call('identity', 'GET', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': t2 },
    });
    assert.equal(check.status, 200);
    assert.equal((check.body as { token: { user: { name: string } } }).token.user.name, 'alice');
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: t2 })).status, 200);
    const del = await h.call('identity', 'DELETE', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': t2 },
    });
    assert.equal(del.status, 204);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: t2 })).status, 401);
    const user = await h.core.repos.identity.findUser({ name: 'alice' });
    const expired = await h.core.repos.identity.issueToken({
      userId: user!.id,
      projectId: h.memberProjectId,
      methods: ['password'],
      ttlSeconds: 0,
    });
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: expired.token })).status, 401);
    assert.equal((await h.call('image', 'GET', '/v2/images', { token: expired.token })).status, 401);
    const projects = await h.call('identity', 'GET', '/v3/projects?name=demo', { token: h.member });
    assert.equal((projects.body as { projects: unknown[] }).projects.length, 1);
    assert.equal((await h.call('identity', 'GET', '/v3/roles', { token: h.member })).status, 403);
  });

  test('the reader role may read but not change', async () => {
    const p = await h.core.repos.identity.findProject({ name: 'demo' });
    const u = await h.core.repos.identity.createUser({
      name: 'rita',
      password: 'ritapw',
      defaultProjectId: p!.id,
    });
    await h.core.repos.identity.assignRole(
      u.id,
      p!.id,
      (await h.core.repos.identity.ensureRole('reader')).id,
    );
    const r = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'rita', domain: { id: 'default' }, password: 'ritapw' } },
          },
          scope: { project: { id: p!.id } },
        },
      },
    });
    const reader = String(r.headers['x-subject-token']);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers/detail', { token: reader })).status, 200);
    const create = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
      token: reader,
      body: { keypair: { name: 'r1' } },
    });
    assert.equal(create.status, 403);
    assert.equal(
      (await h.call('image', 'POST', '/v2/images', { token: reader, body: { name: 'x' } })).status,
      403,
    );
  });
});

describe('image API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('create, upload with MD5 checksum, download, show, list filters', async () => {
    const data = rawImage(2 * 1024 * 1024);
    const id = await uploadImage(h, h.member, 'mine', data, {
      hw_firmware_type: 'uefi',
      'trait:HW_CPU_X86_AVX': 'required',
    });
    const show = await h.call('image', 'GET', `/v2/images/${id}`, { token: h.member });
    const img = show.body as Record<string, unknown>;
    assert.equal(img.status, 'active');
    assert.equal(img.size, data.length);
    assert.equal(img.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(img.os_hash_value, createHash('sha512').update(data).digest('hex'));
    assert.equal(img.hw_firmware_type, 'uefi');
    const dl = await h.call('image', 'GET', `/v2/images/${id}/file`, { token: h.member });
    assert.equal(dl.status, 200);
    assert.equal(dl.headers['content-md5'], img.checksum);
    const list = await h.call('image', 'GET', `/v2/images?id=in:${id},00000000-0000-4000-8000-000000000000`, {
      token: h.member,
    });
    assert.deepEqual(
      (list.body as { images: { id: string }[] }).images.map((i) => i.id),
      [id],
    );
    const byName = await h.call('image', 'GET', '/v2/images?name=mine', { token: h.member });
    assert.equal((byName.body as { images: unknown[] }).images.length, 1);
    // Private to its project: another project sees nothing.
    assert.equal((await h.call('image', 'GET', `/v2/images/${id}`, { token: h.other })).status, 404);
    const theirs = await h.call('image', 'GET', '/v2/images', { token: h.other });
    assert.equal((theirs.body as { images: unknown[] }).images.length, 0);
    assert.equal((await h.call('image', 'GET', '/v2/images/not-a-uuid', { token: h.member })).status, 404);
    const again = await h.call('image', 'PUT', `/v2/images/${id}/file`, {
      token: h.member,
      payload: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(again.status, 409);
  });

  test('JSON-patch updates; reserved and invalid properties refused; wrong media type 415', async () => {
    const id = await uploadImage(h, h.member, 'patchme');
    const patch = (ops: unknown, ct = 'application/openstack-images-v2.1-json-patch') =>
      h.call('image', 'PATCH', `/v2/images/${id}`, {
        token: h.member,
        payload: JSON.stringify(ops),
        headers: { 'content-type': ct },
      });
    const ok = await patch([
      { op: 'add', path: '/hw_machine_type', value: 'q35' },
      { op: 'replace', path: '/name', value: 'patched' },
      { op: 'add', path: '/tags', value: ['t1'] },
    ]);
    assert.equal(ok.status, 200, ok.text);
    assert.equal((ok.body as { name: string }).name, 'patched');
    assert.equal((ok.body as { hw_machine_type: string }).hw_machine_type, 'q35');
    assert.equal((await patch([{ op: 'remove', path: '/hw_machine_type' }])).status, 200);
    assert.equal((await patch([{ op: 'remove', path: '/hw_machine_type' }])).status, 409);
    assert.equal((await patch([{ op: 'add', path: '/hw_mem_encryption', value: 'perhaps' }])).status, 400);
    assert.equal((await patch([{ op: 'add', path: '/trait:HW_CPU_X86_AVX', value: 'wanted' }])).status, 400);
    assert.equal((await patch([{ op: 'add', path: '/hw_cpu_bogus', value: '1' }])).status, 400);
    assert.equal((await patch([{ op: 'add', path: '/checksum', value: 'x' }])).status, 403);
    assert.equal((await patch([{ op: 'add', path: '/x', value: 'y' }], 'application/json')).status, 415);
    assert.equal((await patch({ op: 'add' })).status, 400);
    const bad = await h.call('image', 'POST', '/v2/images', {
      token: h.member,
      body: { name: 'x', disk_format: 'floppy', container_format: 'bare' },
    });
    assert.equal(bad.status, 400);
    const prot = await h.call('image', 'POST', '/v2/images', {
      token: h.member,
      body: { name: 'p', protected: true },
    });
    const pid = (prot.body as { id: string }).id;
    assert.equal((await h.call('image', 'DELETE', `/v2/images/${pid}`, { token: h.member })).status, 403);
    await h.call('image', 'PATCH', `/v2/images/${pid}`, {
      token: h.member,
      payload: JSON.stringify([{ op: 'replace', path: '/protected', value: false }]),
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    });
    assert.equal((await h.call('image', 'DELETE', `/v2/images/${pid}`, { token: h.member })).status, 204);
    assert.equal((await h.call('image', 'GET', `/v2/images/${pid}`, { token: h.member })).status, 404);
  });

  test('a hostile image (qcow2 with a backing file) is killed with the reason, never active', async () => {
    const file = join(h.dir, 'hostile.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname', file, '1M']);
    const c = await h.call('image', 'POST', '/v2/images', {
      token: h.member,
      body: { name: 'evil', disk_format: 'qcow2', container_format: 'bare' },
    });
    const id = (c.body as { id: string }).id;
    const up = await h.call('image', 'PUT', `/v2/images/${id}/file`, {
      token: h.member,
      payload: readFileSync(file),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(up.status, 400, up.text);
    assert.match((up.body as { message: string }).message, /refused.*backing/i);
    const show = await h.call('image', 'GET', `/v2/images/${id}`, { token: h.member });
    assert.equal((show.body as { status: string }).status, 'killed');
    // A mislabelled image (raw bytes declared qcow2) is refused too.
    const c2 = await h.call('image', 'POST', '/v2/images', {
      token: h.member,
      body: { name: 'liar', disk_format: 'qcow2', container_format: 'bare' },
    });
    const id2 = (c2.body as { id: string }).id;
    const up2 = await h.call('image', 'PUT', `/v2/images/${id2}/file`, {
      token: h.member,
      payload: rawImage(),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(up2.status, 400);
    const boot = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'x', imageRef: id, flavorRef: '0' } },
    });
    assert.equal(boot.status, 400);
    assert.match((boot.body as { badRequest: { message: string } }).badRequest.message, /not active/);
  });

  test('JSON bodies over the limit are 413', async () => {
    const big = { server: { name: 'x'.repeat(2 * 1024 * 1024), imageRef: 'x', flavorRef: '0' } };
    const r = await h.call('compute', 'POST', '/v2.1/servers', { token: h.member, body: big });
    assert.equal(r.status, 413);
    assert.ok((r.body as { overLimit: unknown }).overLimit);
  });
});
