// What a role means on every API (identity, compute, image), through inject(): a reader only
// reads its project, a member works only within its project, and a revoked role takes effect
// on the very next request (no cached token context survives it).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uploadImage, type Harness, type Reply } from '../api/harness.js';

type Obj = Record<string, unknown>;
const body = (r: Reply) => r.body as Obj;

function faultMessage(r: Reply): string {
  const b = r.body as Record<string, unknown>;
  if (typeof b.message === 'string') return b.message;
  const inner = Object.values(b)[0] as { message?: string } | undefined;
  return inner?.message ?? r.text;
}

describe('roles enforced on identity, compute and image', () => {
  let h: Harness;
  let readerToken: string;
  let readerId: string;
  let serverId: string;
  let imageId: string;
  let memberRole: string;

  before(async () => {
    h = await startHarness();
    const roles = await h.call('identity', 'GET', '/v3/roles', { token: h.admin });
    const byName = new Map((body(roles).roles as { id: string; name: string }[]).map((r) => [r.name, r.id]));
    memberRole = byName.get('member')!;
    const u = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name: 'kt-reader', password: 'readerpw', default_project_id: h.memberProjectId } },
    });
    readerId = (body(u).user as Obj).id as string;
    const g = await h.call(
      'identity',
      'PUT',
      `/v3/projects/${h.memberProjectId}/users/${readerId}/roles/${byName.get('reader')}`,
      { token: h.admin },
    );
    assert.equal(g.status, 204);
    const t = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: readerId, password: 'readerpw' } },
          },
        },
      },
    });
    assert.equal(t.status, 201, t.text);
    readerToken = String(t.headers['x-subject-token']);
    imageId = await uploadImage(h, h.member, 'kt-member-image');
    const s = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-member-vm', imageRef: imageId, flavorRef: '0' } },
    });
    assert.equal(s.status, 202, s.text);
    serverId = (body(s).server as Obj).id as string;
    await h.waitFor(h.member, serverId, (x) => x.status === 'ACTIVE');
  });
  after(async () => {
    await h.close();
  });

  test('a reader reads its project on every API', async () => {
    const servers = await h.call('compute', 'GET', '/v2.1/servers', { token: readerToken });
    assert.equal(servers.status, 200);
    assert.deepEqual(
      (body(servers).servers as Obj[]).map((s) => s.id),
      [serverId],
    );
    assert.equal(
      (await h.call('compute', 'GET', `/v2.1/servers/${serverId}`, { token: readerToken })).status,
      200,
    );
    assert.equal((await h.call('image', 'GET', `/v2/images/${imageId}`, { token: readerToken })).status, 200);
    assert.equal((await h.call('identity', 'GET', '/v3/auth/catalog', { token: readerToken })).status, 200);
    assert.equal(
      (await h.call('compute', 'HEAD', `/v2.1/servers/${serverId}`, { token: readerToken })).status,
      200,
    );
  });

  test('a reader cannot write anything: 403 that names the role and the fix', async () => {
    const writes: ['compute' | 'image' | 'identity', string, string, unknown?][] = [
      ['compute', 'POST', `/v2.1/servers/${serverId}/action`, { 'os-stop': null }],
      ['compute', 'PUT', `/v2.1/servers/${serverId}`, { server: { name: 'renamed' } }],
      ['compute', 'DELETE', `/v2.1/servers/${serverId}`],
      ['compute', 'POST', '/v2.1/servers', { server: { name: 'x', imageRef: imageId, flavorRef: '0' } }],
      ['compute', 'POST', '/v2.1/os-keypairs', { keypair: { name: 'kt-k' } }],
      ['image', 'POST', '/v2/images', { name: 'x', disk_format: 'raw', container_format: 'bare' }],
      ['image', 'DELETE', `/v2/images/${imageId}`],
      ['identity', 'POST', '/v3/projects', { project: { name: 'x' } }],
    ];
    for (const [api, m, u, b] of writes) {
      const r = await h.call(api, m, u, { token: readerToken, body: b });
      assert.equal(r.status, 403, `${api} ${m} ${u}: ${r.text}`);
      assert.match(faultMessage(r), /only the reader role .* Fix: .*member/);
    }
    const still = await h.call('compute', 'GET', `/v2.1/servers/${serverId}`, { token: h.member });
    assert.equal((body(still).server as Obj).name, 'kt-member-vm');
    assert.equal((body(still).server as Obj).status, 'ACTIVE');
  });

  test('a reader may still revoke its own token', async () => {
    const t = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { id: readerId, password: 'readerpw' } } },
        },
      },
    });
    const tok = String(t.headers['x-subject-token']);
    const r = await h.call('identity', 'DELETE', '/v3/auth/tokens', {
      token: tok,
      headers: { 'x-subject-token': tok },
    });
    assert.equal(r.status, 204);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: tok })).status, 401);
  });

  test("another project's member neither sees nor changes the server", async () => {
    assert.equal(
      (await h.call('compute', 'GET', `/v2.1/servers/${serverId}`, { token: h.other })).status,
      404,
    );
    const stop = await h.call('compute', 'POST', `/v2.1/servers/${serverId}/action`, {
      token: h.other,
      body: { 'os-stop': null },
    });
    assert.equal(stop.status, 404);
    assert.equal(
      (await h.call('compute', 'DELETE', `/v2.1/servers/${serverId}`, { token: h.other })).status,
      404,
    );
    const img = await h.call('image', 'DELETE', `/v2/images/${imageId}`, { token: h.other });
    assert.ok(img.status === 404 || img.status === 403, `image delete by another project: ${img.status}`);
    const list = await h.call('compute', 'GET', '/v2.1/servers', { token: h.other });
    assert.deepEqual(body(list).servers, []);
  });

  test('token validation (GET/HEAD /v3/auth/tokens) and revocation', async () => {
    const v = await h.call('identity', 'GET', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': readerToken },
    });
    assert.equal(v.status, 200);
    const tok = body(v).token as { roles: { name: string }[]; user: { id: string } };
    assert.equal(tok.user.id, readerId);
    assert.deepEqual(
      tok.roles.map((r) => r.name),
      ['reader'],
    );
    const head = await h.call('identity', 'HEAD', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': readerToken },
    });
    assert.equal(head.status, 200);
  });

  test('a revoked role stops the token at once, even right after it was used', async () => {
    const u = await h.call('identity', 'GET', '/v3/users?name=alice', { token: h.admin });
    const alice = (body(u).users as { id: string }[])[0].id;
    // Warm the token cache, then revoke.
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: h.member })).status, 200);
    const r = await h.call(
      'identity',
      'DELETE',
      `/v3/projects/${h.memberProjectId}/users/${alice}/roles/${memberRole}`,
      { token: h.admin },
    );
    assert.equal(r.status, 204);
    const after = await h.call('compute', 'GET', '/v2.1/servers', { token: h.member });
    assert.equal(after.status, 401);
    const v = await h.call('identity', 'GET', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': h.member },
    });
    assert.equal(v.status, 404);
    // Re-granting does not bring the old token back; a new login works.
    await h.call('identity', 'PUT', `/v3/projects/${h.memberProjectId}/users/${alice}/roles/${memberRole}`, {
      token: h.admin,
    });
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: h.member })).status, 401);
  });

  test('narrowing a member to reader takes effect on the next request', async () => {
    const roles = await h.call('identity', 'GET', '/v3/roles?name=reader', { token: h.admin });
    const reader = (body(roles).roles as { id: string }[])[0].id;
    const bob = (
      body(await h.call('identity', 'GET', '/v3/users?name=bob', { token: h.admin })).users as {
        id: string;
      }[]
    )[0].id;
    const projects = await h.call('identity', 'GET', '/v3/projects?name=other', { token: h.admin });
    const other = (body(projects).projects as { id: string }[])[0].id;
    const kp = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
      token: h.other,
      body: { keypair: { name: 'kt-bob-1' } },
    });
    assert.equal(kp.status, 200, kp.text);
    await h.call('identity', 'PUT', `/v3/projects/${other}/users/${bob}/roles/${reader}`, { token: h.admin });
    await h.call('identity', 'DELETE', `/v3/projects/${other}/users/${bob}/roles/${memberRole}`, {
      token: h.admin,
    });
    const denied = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
      token: h.other,
      body: { keypair: { name: 'kt-bob-2' } },
    });
    assert.equal(denied.status, 403);
    assert.equal((await h.call('compute', 'GET', '/v2.1/os-keypairs', { token: h.other })).status, 200);
  });
});
