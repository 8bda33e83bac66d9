// Issue 11 against real guests: the all-in-one service (startService) with the libvirt driver
// and TCG boot-sector guests (domains kt-sa-<random>-<uuid>), driven through the Compute API
// and then through the Debian `openstack` CLI: rebuild (same domain uuid, disk recreated),
// shelve (domain undefined, disk removed, snapshot image stored) / unshelve (boots again from
// the shelved image, which is then deleted), createBackup with rotation, the state refusals,
// and `server set --name`, `server lock`, `server rebuild`, `server shelve` / `unshelve`,
// `server backup create`. About a minute; every domain and file is removed afterwards.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LibvirtClient } from '../../src/libvirt/index.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { parseConfigText } from '../../src/config/index.js';
import { startService, type RunningService } from '../../src/service/service.js';
import { run, type RunResult } from '../../src/util/run.js';
import { injectApi } from '../api/harness.js';
import { testImages } from '../virt/libvirt-harness.js';

type Server = Record<string, unknown>;
const TAG = `kt-sa-${randomBytes(3).toString('hex')}`;
const ADMIN_PW = `${TAG}-pw`;

const hasOpenstack =
  (await run(['openstack', '--version'], { timeoutMs: 30_000 }).catch(() => undefined))?.code === 0;

describe('server actions on real TCG guests (libvirt driver)', () => {
  let dir: string;
  let client: LibvirtClient;
  let driver: LibvirtDriver;
  let svc: RunningService;
  let admin: string;
  let member: string;
  let imageId: string;
  const flavorRef = `${TAG}-flavor`;
  const servers = new Set<string>();

  const call = async (method: string, url: string, token: string, body?: unknown) => {
    const r = await injectApi(svc.core.apps.compute, method, url, { token, body });
    return {
      status: r.status,
      headers: r.headers,
      text: r.text,
      body: r.text ? JSON.parse(r.text) : undefined,
    };
  };
  const act = (id: string, body: unknown, token = admin) =>
    call('POST', `/v2.1/servers/${id}/action`, token, body);
  const waitFor = async (id: string, status: string, ms = 90_000): Promise<Server> => {
    const end = Date.now() + ms;
    let last: Server = {};
    while (Date.now() < end) {
      last = (await call('GET', `/v2.1/servers/${id}`, admin)).body.server as Server;
      if (last.status === status && last['OS-EXT-STS:task_state'] === null) return last;
      if (last.status === 'ERROR' && status !== 'ERROR')
        throw new Error(`server ${id} went to ERROR: ${JSON.stringify(last.fault)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `server ${id} did not reach ${status}; last ${String(last.status)}/${String(last['OS-EXT-STS:task_state'])}`,
    );
  };
  const consoleHas = async (id: string, text: string, ms = 30_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const r = await act(id, { 'os-getConsoleOutput': { length: -1 } });
      if (r.status === 200 && String(r.body.output).includes(text)) return;
      await new Promise((res) => setTimeout(res, 300));
    }
    throw new Error(`console of ${id} never showed ${text}`);
  };
  const boot = async (name: string) => {
    const r = await call('POST', '/v2.1/servers', admin, {
      server: { name: `${TAG}-${name}`, imageRef: imageId, flavorRef },
    });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id as string;
    servers.add(id);
    await waitFor(id, 'ACTIVE');
    return id;
  };
  const login = async (user: string, password: string, project: string) => {
    const r = await svc.core.apps.identity.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { name: 'Default' }, password } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      }),
    });
    assert.equal(r.statusCode, 201, r.body);
    return String(r.headers['x-subject-token']);
  };
  const diskOf = (id: string) => join(dir, 'instances', id, 'disk');

  before(async () => {
    const images = testImages();
    dir = mkdtempSync(join('/tmp', `${TAG}-`));
    chmodSync(dir, 0o755); // libvirt-qemu must reach the disks
    const { config } = parseConfigText(
      [
        '[network]',
        'enabled = false', // this test's guests need no NICs
        '[DEFAULT]',
        `state_path = ${join(dir, 'state')}`,
        `instances_path = ${join(dir, 'instances')}`,
        `host = ${TAG}-host`,
        'reserved_host_memory_mb = 0',
        '[libvirt]',
        'virt_type = qemu',
        '[api]',
        `admin_password = ${ADMIN_PW}`,
        'listen_host = 127.0.0.1',
        '',
      ].join('\n'),
    );
    client = await LibvirtClient.connect({ uri: 'qemu:///system' });
    driver = new LibvirtDriver({
      client,
      virtType: 'qemu',
      cpuMode: 'none',
      namePrefix: `${TAG}-`,
      instancesPath: join(dir, 'instances'),
    });
    await driver.init();
    svc = await startService({
      config,
      driver,
      ports: { identity: 0, compute: 0, image: 0 },
      testImagesDir: dirname(images.bootSector),
      startedTimeoutMs: 60_000,
    });
    assert.ok(svc.demoImage, 'the boot-sector image was imported');
    imageId = svc.demoImage;
    admin = await login('admin', ADMIN_PW, 'admin');
    // The boot sector ignores ACPI: no clean-shutdown wait (Nova's os_shutdown_timeout).
    const patch = await svc.core.apps.image.inject({
      method: 'PATCH',
      url: `/v2/images/${imageId}`,
      headers: { 'x-auth-token': admin, 'content-type': 'application/openstack-images-v2.1-json-patch' },
      payload: JSON.stringify([{ op: 'add', path: '/os_shutdown_timeout', value: '0' }]),
    });
    assert.equal(patch.statusCode, 200, patch.body);
    const f = await call('POST', '/v2.1/flavors', admin, {
      flavor: { name: flavorRef, ram: 32, vcpus: 1, disk: 1, id: flavorRef },
    });
    assert.equal(f.status, 200, f.text);
    // A member of the admin project (not an administrator), for the lock refusal.
    const ids = svc.core.repos.identity;
    const project = (await ids.listProjects()).find((p) => p.name === 'admin')!;
    const u = await ids.createUser({
      name: `${TAG}-member`,
      password: 'memberpw',
      defaultProjectId: project.id,
    });
    await ids.assignRole(u.id, project.id, (await ids.ensureRole('member')).id);
    member = await login(`${TAG}-member`, 'memberpw', 'admin');
  });

  after(async () => {
    for (const id of servers) await call('DELETE', `/v2.1/servers/${id}`, admin).catch(() => undefined);
    await svc?.core.serverOps.settle();
    await svc?.core.servers.settle();
    for (const uuid of (await driver?.list().catch(() => [])) ?? [])
      await driver.destroy(uuid).catch(() => undefined);
    await svc?.stop();
    await driver?.close();
    await client?.close().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('rebuild recreates the disk under the same domain; refused while paused', async () => {
    const id = await boot('rebuild');
    await consoleHas(id, 'GUEST-BOOTED');
    const before = (await driver.info(id)).state;
    assert.equal(before, 1);
    const r = await act(id, { rebuild: { imageRef: imageId, name: `${TAG}-rebuilt` } });
    assert.equal(r.status, 202, r.text);
    const s = await waitFor(id, 'ACTIVE');
    assert.equal(s.name, `${TAG}-rebuilt`);
    assert.ok((await driver.list()).includes(id), 'the domain kept its uuid');
    assert.ok(existsSync(diskOf(id)), 'a new root disk');
    await consoleHas(id, 'GUEST-BOOTED');
    const ev = await call(
      'GET',
      `/v2.1/servers/${id}/os-instance-actions/${String(r.headers['x-openstack-request-id'])}`,
      admin,
    );
    const events = (ev.body.instanceAction.events as { event: string; result: string }[]).map((e) => e.event);
    assert.ok(
      events.includes('compute_rebuild_instance') && events.includes('compute_spawn'),
      events.join(','),
    );
    assert.equal((await act(id, { pause: null })).status, 202);
    await waitFor(id, 'PAUSED');
    const refused = await act(id, { rebuild: { imageRef: imageId } });
    assert.equal(refused.status, 409);
    assert.match(refused.text, /while it is in vm_state paused/);
  });

  test('shelve offloads (domain undefined, disk removed), unshelve boots from the shelved image', async () => {
    const id = await boot('shelve');
    assert.equal((await act(id, { shelve: null })).status, 202);
    await waitFor(id, 'SHELVED_OFFLOADED');
    assert.ok(!(await driver.list()).includes(id), 'the domain is undefined');
    assert.ok(!existsSync(diskOf(id)), 'the disk is removed');
    assert.equal((await svc.core.repos.placement.allocationsOf(id)).length, 0, 'allocations released');
    const shelved = (await svc.core.repos.images.list()).find((i) => i.properties.instance_uuid === id);
    assert.ok(
      shelved && shelved.status === 'active' && (shelved.size ?? 0) > 0,
      'the snapshot is in the image store',
    );
    const refused = await act(id, { createBackup: { name: 'x', backup_type: 'daily', rotation: 1 } });
    assert.equal(refused.status, 409);
    assert.equal((await act(id, { unshelve: null })).status, 202);
    await waitFor(id, 'ACTIVE');
    assert.ok((await driver.list()).includes(id));
    await consoleHas(id, 'GUEST-BOOTED');
    assert.equal(await svc.core.repos.images.get(shelved.id), undefined, 'the shelved image is deleted');
  });

  test('createBackup keeps `rotation` backups, each a real qcow2 in the store', async () => {
    const id = await boot('backup');
    const made: string[] = [];
    for (const n of [1, 2]) {
      const r = await act(id, { createBackup: { name: `${TAG}-bk${n}`, backup_type: 'daily', rotation: 1 } });
      assert.equal(r.status, 202, r.text);
      made.push(String(r.headers.location).split('/').pop()!);
      await svc.core.serverOps.settle();
      await waitFor(id, 'ACTIVE');
    }
    const left = (await svc.core.repos.images.list()).filter((i) => i.properties.instance_uuid === id);
    assert.deepEqual(
      left.map((i) => i.id),
      [made[1]],
    );
    assert.equal(left[0].status, 'active');
    assert.equal(left[0].diskFormat, 'qcow2');
    assert.ok((left[0].virtualSize ?? 0) >= 512);
    // The member may not act on a locked server; the admin may.
    assert.equal((await act(id, { lock: null })).status, 202);
    const locked = await act(id, { createBackup: { name: 'x', backup_type: 'daily', rotation: 1 } }, member);
    assert.equal(locked.status, 409);
    assert.match(locked.text, /is locked/);
    assert.equal((await act(id, { unlock: null })).status, 202);
  });

  test(
    'the openstack CLI: server set --name, lock, rebuild, shelve / unshelve, backup create',
    { skip: !hasOpenstack && 'python3-openstackclient is not installed' },
    async () => {
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
      Object.assign(env, {
        OS_AUTH_URL: svc.endpoints.identity,
        OS_USERNAME: 'admin',
        OS_PASSWORD: ADMIN_PW,
        OS_PROJECT_NAME: 'admin',
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_IDENTITY_API_VERSION: '3',
      });
      const osc = (...args: string[]): Promise<RunResult> =>
        run(['openstack', ...args], { env, timeoutMs: 180_000 });
      const ok = async (...args: string[]) => {
        const r = await osc(...args);
        assert.equal(r.code, 0, `openstack ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
        return r.stdout.trim();
      };
      const id = await boot('cli');
      await ok('server', 'set', '--name', `${TAG}-cli-renamed`, id);
      assert.equal(await ok('server', 'show', id, '-f', 'value', '-c', 'name'), `${TAG}-cli-renamed`);
      await ok('server', 'lock', id);
      const stop = await act(id, { 'os-stop': null }, member);
      assert.equal(stop.status, 409, 'locked through the CLI');
      await ok('server', 'unlock', id);
      await ok('server', 'rebuild', '--image', imageId, '--wait', id);
      assert.equal((await waitFor(id, 'ACTIVE')).id, id);
      await ok('server', 'shelve', '--wait', id);
      await waitFor(id, 'SHELVED_OFFLOADED');
      await ok('server', 'unshelve', '--wait', id);
      await waitFor(id, 'ACTIVE');
      await ok(
        'server',
        'backup',
        'create',
        '--name',
        `${TAG}-cli-bk`,
        '--type',
        'weekly',
        '--rotate',
        '1',
        '--wait',
        id,
      );
      const bk = (await svc.core.repos.images.list()).filter(
        (i) => i.properties.instance_uuid === id && i.properties.image_type === 'backup',
      );
      assert.equal(bk.length, 1);
      assert.equal(bk[0].status, 'active');
      // A refusal as the CLI prints it.
      await ok('server', 'pause', id);
      await waitFor(id, 'PAUSED');
      const r = await osc('server', 'rebuild', '--image', imageId, id);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /Cannot 'rebuild' instance .* vm_state paused/);
    },
  );
});
