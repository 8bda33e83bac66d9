// GET /servers/detail and GET /servers/{id} byte for byte against an independent statement of
// the view (the keys, their order and the caller-dependent parts: admin-only OS-EXT-SRV-ATTR,
// fault details of 5xx faults for admins only), for an admin and a member, over servers with
// metadata, faults, a lock, a config drive, a key name, a task under way, a stopped and a
// deleted server. The view code is tuned for speed; this pins what it must keep answering.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { startHarness, type Harness } from './harness.js';
import type { Fault, Instance } from '../../src/db/index.js';
import { statusOf } from '../../src/control/server-state.js';

const novaTime = (iso: string | null) => (iso === null ? null : iso.replace(/\.\d+Z$/, 'Z'));
const novaMicros = (iso: string | null) => {
  if (iso === null) return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}` : iso;
};

/** What Compute v2.1 shows of a server with every 2.1 extension, in Nova's key order. */
function expectedServer(base: string, admin: boolean, i: Instance, fault: Fault | undefined) {
  const status = statusOf(i.vmState, i.taskState);
  const s: Record<string, unknown> = {
    id: i.uuid,
    name: i.displayName,
    status,
    tenant_id: i.projectId,
    user_id: i.userId,
    metadata: i.metadata,
    hostId: i.host
      ? createHash('sha224')
          .update(i.projectId + i.host)
          .digest('hex')
      : '',
    image: { id: i.imageId, links: [{ rel: 'bookmark', href: `${base}/images/${i.imageId}` }] },
    flavor: { id: i.flavorId, links: [{ rel: 'bookmark', href: `${base}/flavors/${i.flavorId}` }] },
    created: novaTime(i.createdAt),
    updated: novaTime(i.updatedAt),
    addresses: {},
    accessIPv4: i.accessIpv4,
    accessIPv6: i.accessIpv6,
    links: [
      { rel: 'self', href: `${base}/v2.1/servers/${i.uuid}` },
      { rel: 'bookmark', href: `${base}/servers/${i.uuid}` },
    ],
    'OS-DCF:diskConfig': i.diskConfig,
  };
  if (['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE'].includes(status)) {
    s.progress = status === 'ACTIVE' ? 100 : 0;
  }
  s.key_name = i.keyName;
  s.config_drive = i.configDrive ? 'True' : '';
  s.security_groups = [{ name: 'default' }];
  s['OS-EXT-AZ:availability_zone'] = i.availabilityZone;
  s['OS-SRV-USG:launched_at'] = novaMicros(i.launchedAt);
  s['OS-SRV-USG:terminated_at'] = novaMicros(i.terminatedAt);
  s['OS-EXT-STS:vm_state'] = i.vmState;
  s['OS-EXT-STS:task_state'] = i.taskState;
  s['OS-EXT-STS:power_state'] = i.powerState;
  s['os-extended-volumes:volumes_attached'] = [];
  if (admin) {
    s['OS-EXT-SRV-ATTR:host'] = i.host;
    s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = i.node;
    s['OS-EXT-SRV-ATTR:instance_name'] = `instance-${i.number.toString(16).padStart(8, '0')}`;
  }
  if ((status === 'ERROR' || status === 'DELETED') && fault) {
    const f: Record<string, unknown> = {
      code: fault.code,
      message: fault.message,
      created: novaTime(fault.createdAt),
    };
    if (admin || fault.code < 500) f.details = fault.details;
    s.fault = f;
  }
  return s;
}

describe('server views: detail list and show against the stated view', () => {
  let h: Harness;
  const base = 'http://localhost:80';
  const uuids: string[] = [];
  let deletedUuid = '';
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-service-api-views-' });
    const repo = h.core.repos.instances;
    const flavor = { ...(await h.core.repos.flavors.get('1'))!, extraSpecs: {} };
    const make = async (name: string, extra: Partial<Parameters<typeof repo.create>[0]> = {}) => {
      const uuid = randomUUID();
      await repo.create({
        uuid,
        displayName: name,
        projectId: h.memberProjectId,
        userId: 'u-views',
        flavor,
        imageId: randomUUID(),
        availabilityZone: 'nova',
        keyName: null,
        metadata: {},
        reservationId: 'r-views',
        accessIpv4: '',
        accessIpv6: '',
        diskConfig: 'AUTO',
        ...extra,
      });
      uuids.push(uuid);
      return uuid;
    };
    const active = { vmState: 'active', taskState: null, powerState: 1, host: 'kt-node1', node: 'kt-node1' };
    const a = await make('with "metadata" ünicode\n', {
      metadata: { role: 'web', 'x"y': 'line\nbreak', empty: '' },
      keyName: 'k1',
      configDrive: true,
      accessIpv4: '192.0.2.7',
      diskConfig: 'MANUAL',
    });
    await repo.update(a, { ...active, launchedAt: '2026-01-02T03:04:05.123Z' });
    const locked = await make('locked');
    await repo.update(locked, { ...active, locked: true });
    const err500 = await make('host fault');
    await repo.update(err500, { vmState: 'error', taskState: null, host: 'kt-node1', node: 'kt-node1' });
    await repo.addFault(err500, { code: 500, message: 'No valid host', details: 'Traceback: host secret' });
    await repo.addFault(err500, { code: 503, message: 'later fault', details: 'host path /srv/x' });
    const err400 = await make('user fault');
    await repo.update(err400, { vmState: 'error', taskState: null });
    await repo.addFault(err400, { code: 400, message: 'bad image', details: 'the image is not bootable' });
    await make('building'); // building / scheduling, no host
    const stopping = await make('stopping');
    await repo.update(stopping, { ...active, taskState: 'powering-off' });
    const stopped = await make('stopped');
    await repo.update(stopped, { vmState: 'stopped', taskState: null, powerState: 4, host: 'kt-node1' });
    deletedUuid = await make('deleted');
    await repo.update(deletedUuid, { vmState: 'error', taskState: null });
    await repo.addFault(deletedUuid, { code: 500, message: 'gone', details: 'host detail' });
    await repo.markDeleted(deletedUuid);
  });
  after(async () => {
    await h.close();
  });

  const expected = async (admin: boolean, ids: string[]) => {
    const repo = h.core.repos.instances;
    const faults = await repo.latestFaults(ids);
    const out = [];
    for (const id of ids) {
      const i = (await repo.get(id, { includeDeleted: true }))!;
      out.push(expectedServer(base, admin, i, faults.get(id)));
    }
    return out;
  };

  for (const who of ['admin', 'member'] as const) {
    test(`GET /servers/detail and /servers/{id} as ${who} are the stated view, byte for byte`, async () => {
      const token = who === 'admin' ? h.admin : h.member;
      const url =
        who === 'admin'
          ? `/v2.1/servers/detail?all_tenants=1&project_id=${h.memberProjectId}`
          : '/v2.1/servers/detail';
      const r = await h.call('compute', 'GET', url, { token });
      assert.equal(r.status, 200, r.text);
      const listed = (r.body as { servers: { id: string }[] }).servers.map((s) => s.id);
      const live = uuids.filter((u) => u !== deletedUuid);
      assert.deepEqual([...listed].sort(), [...live].sort());
      assert.equal(r.text, JSON.stringify({ servers: await expected(who === 'admin', listed) }));
      for (const id of live) {
        const one = await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token });
        assert.equal(one.status, 200, one.text);
        assert.equal(one.text, JSON.stringify({ server: (await expected(who === 'admin', [id]))[0] }));
      }
    });
  }

  test('a deleted server with its fault, as an admin lists it (status=DELETED)', async () => {
    const r = await h.call(
      'compute',
      'GET',
      `/v2.1/servers/detail?all_tenants=1&project_id=${h.memberProjectId}&status=DELETED`,
      { token: h.admin },
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, JSON.stringify({ servers: await expected(true, [deletedUuid]) }));
    const f = (r.body as { servers: { fault: { details?: string } }[] }).servers[0].fault;
    assert.equal(f.details, 'host detail');
  });

  test('the member sees 4xx fault details only; the admin sees the newest fault with details', async () => {
    const m = await h.call('compute', 'GET', '/v2.1/servers/detail', { token: h.member });
    const byName = new Map(
      (m.body as { servers: { name: string; fault?: Record<string, unknown> }[] }).servers.map((s) => [
        s.name,
        s,
      ]),
    );
    assert.deepEqual(Object.keys(byName.get('host fault')!.fault!), ['code', 'message', 'created']);
    assert.equal(byName.get('host fault')!.fault!.code, 503);
    assert.equal(byName.get('user fault')!.fault!.details, 'the image is not bootable');
    assert.equal(
      Object.keys(byName.get('locked')!).some((k) => k.startsWith('OS-EXT-SRV-ATTR')),
      false,
    );
  });
});
