// End to end: `kestrel serve --driver fake` on a temp state_path and random ports, driven by
// the Debian `openstack` CLI and by `kestrel`'s own identity commands. An admin creates a
// project and a member user; the member logs in and boots a server; another project's member
// and a reader cannot change it; revoking the member role stops the member's token at once.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, type RunResult } from '../../src/util/run.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
// The CLI from source, without bin/kestrel's wrapper process (a signal must reach the service itself).
const KESTREL = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
const TAG = `kt-identity-${Math.random().toString(36).slice(2, 8)}`;
const ADMIN_PW = `${TAG}-admin-pw`;

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** The environment without any OS_* credentials of the caller's own. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
  return { ...env, KESTREL_FROM_SOURCE: '1', ...extra };
}

const hasOpenstack =
  (await run(['openstack', '--version'], { timeoutMs: 30_000 }).catch(() => undefined))?.code === 0;

describe(
  'identity administration through the openstack CLI and kestrel',
  { skip: !hasOpenstack && 'the openstack CLI is not installed (python3-openstackclient)' },
  () => {
    let dir: string;
    let serve: ChildProcess;
    let authUrl: string;
    let adminEnv: NodeJS.ProcessEnv;
    let serverId = '';
    let memberToken = '';
    let adminToken = '';
    let imageUrl = '';
    let imageId = '';
    const adminApi = async (
      method: string,
      url: string,
      body?: unknown,
    ): Promise<Record<string, unknown>> => {
      const r = await fetch(url, {
        method,
        headers: { 'x-auth-token': adminToken, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${text}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };

    const userEnv = (user: string, password: string, project: string) =>
      cleanEnv({
        OS_AUTH_URL: authUrl,
        OS_USERNAME: user,
        OS_PASSWORD: password,
        OS_PROJECT_NAME: project,
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_IDENTITY_API_VERSION: '3',
        OS_REGION_NAME: 'RegionOne',
      });
    const osc = (env: NodeJS.ProcessEnv, ...args: string[]): Promise<RunResult> =>
      run(['openstack', ...args], { env, timeoutMs: 120_000 });
    const ok = async (env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> => {
      const r = await osc(env, ...args);
      assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
      return r.stdout.trim();
    };
    const refused = async (env: NodeJS.ProcessEnv, pattern: RegExp, ...args: string[]): Promise<string> => {
      const r = await osc(env, ...args);
      assert.notEqual(r.code, 0, `openstack ${args.join(' ')} should have failed:\n${r.stdout}`);
      assert.match(r.stderr + r.stdout, pattern, `openstack ${args.join(' ')}`);
      return r.stderr;
    };
    const kestrel = (env: NodeJS.ProcessEnv, ...args: string[]) =>
      run([process.execPath, ...KESTREL, ...args], { env, timeoutMs: 60_000, cwd: ROOT });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `${TAG}-`));
      const [pi, pc, pm] = [await freePort(), await freePort(), await freePort()];
      const conf = join(dir, 'kestrel.conf');
      writeFileSync(
        conf,
        [
          '[network]',
          'enabled = false', // this test's guests need no NICs
          '[DEFAULT]',
          `state_path = ${join(dir, 'state')}`,
          `instances_path = ${join(dir, 'instances')}`,
          '[api]',
          `identity_port = ${pi}`,
          `compute_port = ${pc}`,
          `image_port = ${pm}`,
          `admin_password = ${ADMIN_PW}`,
          '',
        ].join('\n'),
      );
      serve = spawn(process.execPath, [...KESTREL, 'serve', '--config', conf, '--driver', 'fake'], {
        cwd: ROOT,
        env: cleanEnv({ KESTREL_TEST_IMAGES: join(dir, 'no-test-images'), KESTREL_LOG_LEVEL: 'warn' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      serve.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(
          () => rej(new Error(`kestrel serve did not start in 60 s:\n${out}\n${err}`)),
          60_000,
        );
        serve.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('Stop with Ctrl-C')) {
            clearTimeout(timer);
            res();
          }
        });
        serve.once('exit', (code) => {
          clearTimeout(timer);
          rej(new Error(`kestrel serve exited (${code}):\n${out}\n${err}`));
        });
      });
      authUrl = `http://127.0.0.1:${pi}/v3`;
      adminEnv = userEnv('admin', ADMIN_PW, 'admin');
      imageUrl = `http://127.0.0.1:${pm}`;
      const t = await fetch(`${authUrl}/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PW } },
            },
            scope: { project: { name: 'admin', domain: { id: 'default' } } },
          },
        }),
      });
      assert.equal(t.status, 201);
      adminToken = t.headers.get('x-subject-token')!;
    });

    after(async () => {
      if (serve && serve.exitCode === null) {
        const exited = new Promise((res) => serve.once('exit', res));
        serve.kill('SIGTERM');
        await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000))]);
        if (serve.exitCode === null) serve.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test('admin creates a project, a member user and its role with openstack', async () => {
      await ok(adminEnv, 'project', 'create', '--description', 'identity e2e', `${TAG}-proj`);
      await ok(
        adminEnv,
        'user',
        'create',
        '--project',
        `${TAG}-proj`,
        '--password',
        `${TAG}-member-pw`,
        `${TAG}-member`,
      );
      await ok(adminEnv, 'role', 'add', '--project', `${TAG}-proj`, '--user', `${TAG}-member`, 'member');
      // The rest of the cast through the API directly (each openstack call costs seconds).
      const proj = await adminApi('GET', `${authUrl}/projects?name=${TAG}-proj`);
      const projId = (proj.projects as { id: string }[])[0].id;
      const other = await adminApi('POST', `${authUrl}/projects`, { project: { name: `${TAG}-other` } });
      const otherId = (other.project as { id: string }).id;
      const roles = await adminApi('GET', `${authUrl}/roles`);
      const role = new Map((roles.roles as { id: string; name: string }[]).map((r) => [r.name, r.id]));
      for (const [u, p, r] of [
        ['reader', projId, 'reader'],
        ['stranger', otherId, 'member'],
      ] as const) {
        const made = await adminApi('POST', `${authUrl}/users`, {
          user: { name: `${TAG}-${u}`, password: `${TAG}-${u}-pw`, default_project_id: p },
        });
        await adminApi(
          'PUT',
          `${authUrl}/projects/${p}/users/${(made.user as { id: string }).id}/roles/${role.get(r)}`,
        );
      }
      const assigned = await ok(
        adminEnv,
        'role',
        'assignment',
        'list',
        '--project',
        `${TAG}-proj`,
        '--names',
        '-f',
        'value',
        '-c',
        'Role',
        '-c',
        'User',
      );
      assert.deepEqual(assigned.split('\n').sort(), [
        `member ${TAG}-member@Default`,
        `reader ${TAG}-reader@Default`,
      ]);
      await refused(adminEnv, /exactly one domain|403/, 'domain', 'create', `${TAG}-dom`);
      // The image everyone boots (public, so the member's project can use it).
      const data = Buffer.alloc(1024 * 1024);
      data[510] = 0x55;
      data[511] = 0xaa;
      const img = await adminApi('POST', `${imageUrl}/v2/images`, {
        name: `${TAG}-img`,
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
      });
      imageId = img.id as string;
      const up = await fetch(`${imageUrl}/v2/images/${imageId}/file`, {
        method: 'PUT',
        headers: { 'x-auth-token': adminToken, 'content-type': 'application/octet-stream' },
        body: data,
      });
      assert.equal(up.status, 204);
    });

    test('the member logs in, issues a token and boots a server', async () => {
      const env = userEnv(`${TAG}-member`, `${TAG}-member-pw`, `${TAG}-proj`);
      memberToken = await ok(env, 'token', 'issue', '-f', 'value', '-c', 'id');
      assert.ok(memberToken.length > 20);
      const out = await ok(
        env,
        'server',
        'create',
        '--image',
        `${TAG}-img`,
        '--flavor',
        'm1.nano',
        '--wait',
        '-f',
        'value',
        '-c',
        'id',
        `${TAG}-vm`,
      );
      serverId = out.split('\n').pop()!;
      assert.equal(await ok(env, 'server', 'show', '-f', 'value', '-c', 'status', serverId), 'ACTIVE');
    });

    test("another project's member cannot see or change the server", async () => {
      const env = userEnv(`${TAG}-stranger`, `${TAG}-stranger-pw`, `${TAG}-other`);
      await refused(env, /No server with a name or ID|could not be found/i, 'server', 'stop', serverId);
      await refused(env, /No server with a name or ID|could not be found/i, 'server', 'delete', serverId);
      assert.equal(await ok(env, 'server', 'list', '-f', 'value', '-c', 'ID'), '');
    });

    test('a reader sees the server but any change is refused with 403', async () => {
      const env = userEnv(`${TAG}-reader`, `${TAG}-reader-pw`, `${TAG}-proj`);
      assert.equal(await ok(env, 'server', 'show', '-f', 'value', '-c', 'status', serverId), 'ACTIVE');
      await refused(env, /reader role.*HTTP 403|HTTP 403/s, 'server', 'stop', serverId);
      const admin = await ok(
        adminEnv,
        'server',
        'show',
        '-f',
        'value',
        '-c',
        'status',
        '-c',
        'name',
        serverId,
      );
      assert.deepEqual(admin.split('\n').sort(), ['ACTIVE', `${TAG}-vm`], 'the server is unchanged');
    });

    test('the project cannot be deleted while it owns the server (409)', async () => {
      await refused(adminEnv, /still owns 1 server|409/, 'project', 'delete', `${TAG}-proj`);
    });

    test('token validation and revocation: openstack token revoke', async () => {
      const env = userEnv(`${TAG}-member`, `${TAG}-member-pw`, `${TAG}-proj`);
      const spare = await ok(env, 'token', 'issue', '-f', 'value', '-c', 'id');
      const head = await fetch(`${authUrl}/auth/tokens`, {
        method: 'HEAD',
        headers: { 'x-auth-token': memberToken, 'x-subject-token': spare },
      });
      assert.equal(head.status, 200);
      await ok(adminEnv, 'token', 'revoke', spare);
      const gone = await fetch(`${authUrl}/auth/tokens`, {
        headers: { 'x-auth-token': memberToken, 'x-subject-token': spare },
      });
      assert.equal(gone.status, 404);
    });

    test('revoking the member role stops the member token at once', async () => {
      const tokenEnv = cleanEnv({
        OS_AUTH_TYPE: 'token',
        OS_AUTH_URL: authUrl,
        OS_TOKEN: memberToken,
        OS_PROJECT_NAME: `${TAG}-proj`,
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_IDENTITY_API_VERSION: '3',
      });
      assert.match(await ok(tokenEnv, 'server', 'list', '-f', 'value', '-c', 'ID'), new RegExp(serverId));
      await ok(adminEnv, 'role', 'remove', '--project', `${TAG}-proj`, '--user', `${TAG}-member`, 'member');
      await refused(tokenEnv, /401|authenticat|unknown, revoked or expired/i, 'server', 'list');
      const direct = await fetch(`${authUrl}/auth/catalog`, {
        headers: { 'x-auth-token': memberToken },
      });
      assert.equal(direct.status, 401);
      const env = userEnv(`${TAG}-member`, `${TAG}-member-pw`, `${TAG}-proj`);
      await refused(env, /401|has no role|authenticat/i, 'token', 'issue');
    });

    test('kestrel project, user and role commands', async () => {
      const env = cleanEnv({ OS_CLIENT_CONFIG_FILE: join(dir, 'state', 'clouds.yaml'), OS_CLOUD: 'kestrel' });
      const k = async (...args: string[]) => {
        const r = await kestrel(env, ...args);
        assert.equal(r.code, 0, `kestrel ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
        return r.stdout;
      };
      const p = JSON.parse(
        await k('project', 'create', `${TAG}-k`, '--description', 'from kestrel', '--json'),
      ) as {
        name: string;
        description: string;
      };
      assert.deepEqual([p.name, p.description], [`${TAG}-k`, 'from kestrel']);
      await k('user', 'create', `${TAG}-kuser`, '--password', 'kpw', '--project', `${TAG}-k`);
      await k('role', 'add', 'reader', '--project', `${TAG}-k`, '--user', `${TAG}-kuser`);
      const list = await k('role', 'assignment', 'list', '--project', `${TAG}-k`);
      assert.match(list, new RegExp(`reader\\s+${TAG}-kuser\\s+${TAG}-k`));
      const u = JSON.parse(await k('user', 'set', `${TAG}-kuser`, '--disable', '--json')) as {
        enabled: boolean;
      };
      assert.equal(u.enabled, false);
      await k('user', 'delete', `${TAG}-kuser`);
      await k('project', 'delete', `${TAG}-k`);
      const refusal = await kestrel(env, 'project', 'delete', `${TAG}-proj`);
      assert.equal(refusal.code, 1);
      assert.match(refusal.stderr, /still owns 1 server\(s\).*HTTP 409/);
    });

    test('clean-up: the server and the projects go', async () => {
      await ok(adminEnv, 'server', 'delete', '--wait', serverId);
      await adminApi('DELETE', `${imageUrl}/v2/images/${imageId}`);
      for (const name of [`${TAG}-proj`, `${TAG}-other`]) {
        const found = await adminApi('GET', `${authUrl}/projects?name=${name}`);
        await adminApi('DELETE', `${authUrl}/projects/${(found.projects as { id: string }[])[0].id}`);
      }
      for (const u of ['member', 'reader', 'stranger']) {
        const found = await adminApi('GET', `${authUrl}/users?name=${TAG}-${u}`);
        await adminApi('DELETE', `${authUrl}/users/${(found.users as { id: string }[])[0].id}`);
      }
    });
  },
);
