// Identity administration through inject(): every admin call with Keystone's shapes, every
// refusal (non-admin, reader writes, one domain, fixed roles, 409s), and token invalidation
// when a role, a user or a project changes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uploadImage, type Harness, type Reply } from '../api/harness.js';

type Obj = Record<string, unknown>;
const body = (r: Reply) => r.body as Obj;
const msg = (r: Reply) => ((r.body as { error?: { message?: string } }).error?.message ?? r.text) as string;

describe('identity administration API', () => {
  let h: Harness;
  const login = async (user: string, password: string, project: string) => {
    const r = await h.call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { id: 'default' }, password } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      },
    });
    return { status: r.status, token: String(r.headers['x-subject-token']), reply: r };
  };
  const roleId = async (name: string) => {
    const r = await h.call('identity', 'GET', `/v3/roles?name=${name}`, { token: h.admin });
    const roles = (body(r).roles as { id: string; name: string }[]) ?? [];
    assert.equal(roles.length, 1, `exactly one role named ${name}: ${r.text}`);
    return roles[0].id;
  };
  const createProject = async (name: string) => {
    const r = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name, description: `kt-identity ${name}`, domain_id: 'default', enabled: true } },
    });
    assert.equal(r.status, 201, r.text);
    return (body(r).project as Obj).id as string;
  };
  const createUser = async (name: string, password: string, projectId?: string) => {
    const r = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name, password, default_project_id: projectId, enabled: true } },
    });
    assert.equal(r.status, 201, r.text);
    return (body(r).user as Obj).id as string;
  };
  const grant = (p: string, u: string, r: string, method = 'PUT', token = h.admin) =>
    h.call('identity', method, `/v3/projects/${p}/users/${u}/roles/${r}`, { token });

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('roles admin, member and reader exist from the first start; list by name, show by id or name', async () => {
    const all = await h.call('identity', 'GET', '/v3/roles', { token: h.admin });
    assert.equal(all.status, 200);
    assert.deepEqual(
      (body(all).roles as { name: string }[]).map((r) => r.name),
      ['admin', 'member', 'reader'],
    );
    const id = await roleId('reader');
    const show = await h.call('identity', 'GET', `/v3/roles/${id}`, { token: h.admin });
    assert.equal(show.status, 200);
    assert.equal((body(show).role as Obj).name, 'reader');
    assert.equal((body(show).role as Obj).domain_id, null);
    const byName = await h.call('identity', 'GET', '/v3/roles/member', { token: h.admin });
    assert.equal((body(byName).role as Obj).name, 'member');
    assert.equal((await h.call('identity', 'GET', '/v3/roles/nope', { token: h.admin })).status, 404);
    for (const [m, u] of [
      ['POST', '/v3/roles'],
      ['PATCH', `/v3/roles/${id}`],
      ['DELETE', `/v3/roles/${id}`],
    ] as const) {
      const r = await h.call('identity', m, u, { token: h.admin, body: { role: { name: 'x' } } });
      assert.equal(r.status, 403, `${m} ${u}`);
      assert.match(msg(r), /three roles/);
    }
    assert.equal((await h.call('identity', 'GET', `/v3/roles/${id}`, { token: h.member })).status, 403);
  });

  test('projects: create, list with name and domain_id filters, show, update, delete; conflicts', async () => {
    const id = await createProject('kt-p1');
    const dup = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'kt-p1' } },
    });
    assert.equal(dup.status, 409);
    const byName = await h.call('identity', 'GET', '/v3/projects?name=kt-p1', { token: h.admin });
    const list = body(byName).projects as Obj[];
    assert.equal(list.length, 1);
    assert.equal(list[0].id, id);
    assert.equal(list[0].domain_id, 'default');
    const inDefault = await h.call('identity', 'GET', '/v3/projects?domain_id=default', { token: h.admin });
    assert.ok((body(inDefault).projects as Obj[]).some((p) => p.id === id));
    const elsewhere = await h.call('identity', 'GET', '/v3/projects?domain_id=other', { token: h.admin });
    assert.deepEqual(body(elsewhere).projects, []);
    const show = await h.call('identity', 'GET', `/v3/projects/${id}`, { token: h.admin });
    assert.equal((body(show).project as Obj).description, 'kt-identity kt-p1');
    const upd = await h.call('identity', 'PATCH', `/v3/projects/${id}`, {
      token: h.admin,
      body: { project: { name: 'kt-p1b', description: 'changed', enabled: false } },
    });
    assert.equal(upd.status, 200, upd.text);
    assert.deepEqual(
      [
        (body(upd).project as Obj).name,
        (body(upd).project as Obj).description,
        (body(upd).project as Obj).enabled,
      ],
      ['kt-p1b', 'changed', false],
    );
    const clash = await h.call('identity', 'PATCH', `/v3/projects/${id}`, {
      token: h.admin,
      body: { project: { name: 'demo' } },
    });
    assert.equal(clash.status, 409);
    const bad = await h.call('identity', 'POST', '/v3/projects', { token: h.admin, body: { project: {} } });
    assert.equal(bad.status, 400);
    assert.match(msg(bad), /name is required/);
    const unknown = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'x', colour: 'red' } },
    });
    assert.equal(unknown.status, 400);
    assert.match(msg(unknown), /colour/);
    const del = await h.call('identity', 'DELETE', `/v3/projects/${id}`, { token: h.admin });
    assert.equal(del.status, 204);
    assert.equal((await h.call('identity', 'GET', `/v3/projects/${id}`, { token: h.admin })).status, 404);
    assert.equal((await h.call('identity', 'DELETE', `/v3/projects/${id}`, { token: h.admin })).status, 404);
  });

  test('a project that still owns servers or images cannot be deleted (409)', async () => {
    const pid = await createProject('kt-owner');
    const uid = await createUser('kt-owner-user', 'ownerpw', pid);
    assert.equal((await grant(pid, uid, await roleId('member'))).status, 204);
    const { token } = await login('kt-owner-user', 'ownerpw', 'kt-owner');
    const img = await uploadImage(h, token, 'kt-owned');
    const refused = await h.call('identity', 'DELETE', `/v3/projects/${pid}`, { token: h.admin });
    assert.equal(refused.status, 409);
    assert.match(msg(refused), /0 server\(s\) and 1 image\(s\)/);
    const made = await h.call('compute', 'POST', '/v2.1/servers', {
      token,
      body: { server: { name: 'kt-owned-vm', imageRef: img, flavorRef: '0' } },
    });
    assert.equal(made.status, 202, made.text);
    const sid = (body(made).server as Obj).id as string;
    await h.waitFor(token, sid, (s) => s.status === 'ACTIVE');
    assert.equal((await h.call('image', 'DELETE', `/v2/images/${img}`, { token })).status, 204);
    const still = await h.call('identity', 'DELETE', `/v3/projects/${pid}`, { token: h.admin });
    assert.equal(still.status, 409);
    assert.match(msg(still), /1 server\(s\) and 0 image\(s\)/);
    assert.equal((await h.call('compute', 'DELETE', `/v2.1/servers/${sid}`, { token })).status, 204);
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const r = await h.call('compute', 'GET', `/v2.1/servers/${sid}`, { token: h.admin });
      if (r.status === 404) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal((await h.call('identity', 'DELETE', `/v3/projects/${pid}`, { token: h.admin })).status, 204);
    // Its member's token is gone with it.
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token })).status, 401);
  });

  test('users: create with password and default project, list, show, update, password change, delete', async () => {
    const pid = await createProject('kt-users');
    const uid = await createUser('kt-carol', 'carolpw', pid);
    const show = await h.call('identity', 'GET', `/v3/users/${uid}`, { token: h.admin });
    assert.equal((body(show).user as Obj).default_project_id, pid);
    assert.equal((body(show).user as Obj).domain_id, 'default');
    const list = await h.call('identity', 'GET', '/v3/users?name=kt-carol', { token: h.admin });
    assert.equal((body(list).users as Obj[]).length, 1);
    const dup = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name: 'kt-carol', password: 'x' } },
    });
    assert.equal(dup.status, 409);
    const noPw = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name: 'kt-nopw' } },
    });
    assert.equal(noPw.status, 400);
    assert.match(msg(noPw), /password/);
    const badProject = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name: 'kt-x', password: 'x', default_project_id: 'nope' } },
    });
    assert.equal(badProject.status, 400);
    const email = await h.call('identity', 'POST', '/v3/users', {
      token: h.admin,
      body: { user: { name: 'kt-x', password: 'x', email: 'x@example.org' } },
    });
    assert.equal(email.status, 400);
    assert.match(msg(email), /e-mail|email/);

    assert.equal((await grant(pid, uid, await roleId('member'))).status, 204);
    const first = await login('kt-carol', 'carolpw', 'kt-users');
    assert.equal(first.status, 201);
    const renamed = await h.call('identity', 'PATCH', `/v3/users/${uid}`, {
      token: h.admin,
      body: { user: { name: 'kt-carol2', password: 'carolpw2' } },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((body(renamed).user as Obj).name, 'kt-carol2');
    // A new password revokes the user's tokens and the old password stops working.
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: first.token })).status, 401);
    assert.equal((await login('kt-carol2', 'carolpw', 'kt-users')).status, 401);
    const second = await login('kt-carol2', 'carolpw2', 'kt-users');
    assert.equal(second.status, 201);

    // Self-service password change proves the old password.
    const wrong = await h.call('identity', 'POST', `/v3/users/${uid}/password`, {
      token: second.token,
      body: { user: { original_password: 'nope', password: 'carolpw3' } },
    });
    assert.equal(wrong.status, 401);
    const other = await h.call('identity', 'POST', `/v3/users/${uid}/password`, {
      token: h.member,
      body: { user: { original_password: 'carolpw2', password: 'carolpw3' } },
    });
    assert.equal(other.status, 403);
    const own = await h.call('identity', 'POST', `/v3/users/${uid}/password`, {
      token: second.token,
      body: { user: { original_password: 'carolpw2', password: 'carolpw3' } },
    });
    assert.equal(own.status, 204, own.text);
    assert.equal((await login('kt-carol2', 'carolpw3', 'kt-users')).status, 201);

    // Disabling revokes; deleting revokes.
    const third = await login('kt-carol2', 'carolpw3', 'kt-users');
    const off = await h.call('identity', 'PATCH', `/v3/users/${uid}`, {
      token: h.admin,
      body: { user: { enabled: false } },
    });
    assert.equal((body(off).user as Obj).enabled, false);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: third.token })).status, 401);
    assert.equal((await login('kt-carol2', 'carolpw3', 'kt-users')).status, 401);
    await h.call('identity', 'PATCH', `/v3/users/${uid}`, {
      token: h.admin,
      body: { user: { enabled: true } },
    });
    const fourth = await login('kt-carol2', 'carolpw3', 'kt-users');
    assert.equal(fourth.status, 201);
    assert.equal((await h.call('identity', 'DELETE', `/v3/users/${uid}`, { token: h.admin })).status, 204);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: fourth.token })).status, 401);
    assert.equal((await h.call('identity', 'GET', `/v3/users/${uid}`, { token: h.admin })).status, 404);
  });

  test('role assignments: grant, check (HEAD), list, role_assignments filters, revoke', async () => {
    const pid = await createProject('kt-assign');
    const uid = await createUser('kt-dave', 'davepw');
    const member = await roleId('member');
    const reader = await roleId('reader');
    assert.equal((await grant(pid, uid, member, 'HEAD')).status, 404);
    assert.equal((await grant(pid, uid, member)).status, 204);
    assert.equal((await grant(pid, uid, member)).status, 204, 'granting twice is fine');
    assert.equal((await grant(pid, uid, reader)).status, 204);
    assert.equal((await grant(pid, uid, member, 'HEAD')).status, 204);
    assert.equal((await grant(pid, uid, 'nope')).status, 404);
    assert.equal((await grant('nope', uid, member)).status, 404);
    assert.equal((await grant(pid, 'nope', member)).status, 404);
    const roles = await h.call('identity', 'GET', `/v3/projects/${pid}/users/${uid}/roles`, {
      token: h.admin,
    });
    assert.deepEqual(
      (body(roles).roles as Obj[]).map((r) => r.name),
      ['member', 'reader'],
    );
    const ra = await h.call(
      'identity',
      'GET',
      `/v3/role_assignments?user.id=${uid}&scope.project.id=${pid}&include_names=True`,
      { token: h.admin },
    );
    assert.equal(ra.status, 200);
    const list = body(ra).role_assignments as {
      role: { id: string; name?: string };
      user: { id: string; name?: string };
      scope: { project: { id: string; name?: string } };
      links: { assignment: string };
    }[];
    assert.deepEqual(
      list.map((a) => [a.user.name, a.scope.project.name, a.role.name]),
      [
        ['kt-dave', 'kt-assign', 'member'],
        ['kt-dave', 'kt-assign', 'reader'],
      ],
    );
    assert.match(list[0].links.assignment, new RegExp(`/v3/projects/${pid}/users/${uid}/roles/${member}$`));
    const byRole = await h.call('identity', 'GET', `/v3/role_assignments?role.id=${reader}&effective`, {
      token: h.admin,
    });
    const readers = body(byRole).role_assignments as { user: { id: string; name?: string } }[];
    assert.ok(readers.some((a) => a.user.id === uid));
    assert.equal(readers[0].user.name, undefined, 'no names unless include_names');
    const mine = await h.call('identity', 'GET', `/v3/users/${uid}/projects`, { token: h.admin });
    assert.deepEqual(
      (body(mine).projects as Obj[]).map((p) => p.name),
      ['kt-assign'],
    );
    const own = await h.call('identity', 'GET', '/v3/auth/projects', { token: h.member });
    assert.deepEqual(
      (body(own).projects as Obj[]).map((p) => p.name),
      ['demo'],
    );
    assert.equal(
      (await h.call('identity', 'GET', `/v3/users/${uid}/projects`, { token: h.member })).status,
      403,
    );
    const groups = await h.call('identity', 'GET', '/v3/role_assignments?group.id=g1', { token: h.admin });
    assert.deepEqual(body(groups).role_assignments, []);
    assert.equal((await grant(pid, uid, reader, 'DELETE')).status, 204);
    assert.equal((await grant(pid, uid, reader, 'DELETE')).status, 404);
    assert.equal((await grant(pid, uid, reader, 'HEAD')).status, 404);
  });

  test('everything above is admin only', async () => {
    const calls: [string, string, unknown?][] = [
      ['POST', '/v3/projects', { project: { name: 'kt-no' } }],
      ['PATCH', `/v3/projects/${h.memberProjectId}`, { project: { name: 'kt-no' } }],
      ['DELETE', `/v3/projects/${h.memberProjectId}`],
      ['POST', '/v3/users', { user: { name: 'kt-no', password: 'x' } }],
      ['GET', '/v3/roles'],
      ['GET', '/v3/role_assignments'],
      ['PUT', `/v3/projects/${h.memberProjectId}/users/x/roles/admin`],
      ['GET', `/v3/projects/${h.memberProjectId}/users/x/roles`],
    ];
    for (const [m, u, b] of calls) {
      const r = await h.call('identity', m, u, { token: h.member, body: b });
      assert.equal(r.status, 403, `${m} ${u}: ${r.text}`);
      assert.match(msg(r), /admin role/);
    }
    assert.equal(
      (await h.call('identity', 'POST', '/v3/projects', { body: { project: { name: 'x' } } })).status,
      401,
    );
  });

  test('one domain: default shows and lists; creating or changing domains is refused', async () => {
    const show = await h.call('identity', 'GET', '/v3/domains/default', { token: h.member });
    assert.equal((body(show).domain as Obj).name, 'Default');
    const list = await h.call('identity', 'GET', '/v3/domains', { token: h.admin });
    assert.deepEqual(
      (body(list).domains as Obj[]).map((d) => d.id),
      ['default'],
    );
    const made = await h.call('identity', 'POST', '/v3/domains', {
      token: h.admin,
      body: { domain: { name: 'x' } },
    });
    assert.equal(made.status, 403);
    assert.match(msg(made), /exactly one domain/);
    assert.equal((await h.call('identity', 'DELETE', '/v3/domains/default', { token: h.admin })).status, 403);
    const elsewhere = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'kt-elsewhere', domain_id: 'other' } },
    });
    assert.equal(elsewhere.status, 403);
    const asDomain = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'kt-dom', is_domain: true } },
    });
    assert.equal(asDomain.status, 403);
  });

  test('the service never loses its last admin, nor deletes the caller or its project', async () => {
    const admins = await h.call('identity', 'GET', `/v3/role_assignments?role.id=${await roleId('admin')}`, {
      token: h.admin,
    });
    const a = (
      body(admins).role_assignments as { user: { id: string }; scope: { project: { id: string } } }[]
    )[0];
    const self = await h.call('identity', 'DELETE', `/v3/users/${a.user.id}`, { token: h.admin });
    assert.equal(self.status, 409);
    const revoke = await grant(a.scope.project.id, a.user.id, 'admin', 'DELETE');
    assert.equal(revoke.status, 409);
    assert.match(msg(revoke), /no other enabled user would keep the admin role/);
    const own = await h.call('identity', 'DELETE', `/v3/projects/${a.scope.project.id}`, { token: h.admin });
    assert.equal(own.status, 409);
  });
});
