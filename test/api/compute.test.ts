// Compute v2.1 through inject(): versions, faults, flavors, server lifecycle with the fake
// driver, actions and their events, isolation between projects.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_TRANSPORTS } from '../../src/service/core.js';
import { LoopbackAgent } from '../../src/compute/contract/loopback.js';
import { startHarness, uploadImage, type Harness } from './harness.js';

for (const agent of AGENT_TRANSPORTS) {
  describe(`compute API (${agent} agent)`, () => {
    let h: Harness;
    let imageId: string;
    before(async () => {
      h = await startHarness({ agent });
      imageId = await uploadImage(h, h.admin, 'boot', undefined, { visibility: 'public' });
    });
    after(async () => {
      await h.close();
    });

    test('discovery is open; version headers on every reply, errors included', async () => {
      const root = await h.call('compute', 'GET', '/');
      assert.equal(root.status, 200);
      const versions = (root.body as { versions: { id: string }[] }).versions;
      assert.equal(versions[0].id, 'v2.0');
      assert.equal(versions[1].id, 'v2.1');
      const v = await h.call('compute', 'GET', '/v2.1/');
      assert.equal((v.body as { version: { min_version: string } }).version.min_version, '2.1');
      const unauth = await h.call('compute', 'GET', '/v2.1/servers');
      assert.equal(unauth.status, 401);
      assert.equal(unauth.headers['openstack-api-version'], 'compute 2.1');
      assert.ok((unauth.body as { unauthorized: { code: number } }).unauthorized);
      const bad = await h.call('compute', 'GET', '/v2.1/servers', { token: 'nope' });
      assert.equal(bad.status, 401);
      const tooNew = await h.call('compute', 'GET', '/v2.1/flavors', {
        token: h.admin,
        headers: { 'OpenStack-API-Version': 'compute 2.37' },
      });
      assert.equal(tooNew.status, 406);
      assert.match(
        (tooNew.body as { computeFault: { message: string } }).computeFault.message,
        /maximum is 2.1/,
      );
      const latest = await h.call('compute', 'GET', '/v2.1/flavors', {
        token: h.admin,
        headers: { 'X-OpenStack-Nova-API-Version': 'latest' },
      });
      assert.equal(latest.status, 200);
    });

    test('flavors: create (admin only), validate extra specs, list, 404', async () => {
      const denied = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.member,
        body: { flavor: { name: 'x', ram: 64, vcpus: 1, disk: 1 } },
      });
      assert.equal(denied.status, 403);
      const made = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.admin,
        body: { flavor: { name: 'kt.enc', ram: '128', vcpus: 1, disk: 1, id: null } },
      });
      assert.equal(made.status, 200, made.text);
      const f = (made.body as { flavor: Record<string, unknown> }).flavor;
      assert.equal(f.ram, 128);
      assert.equal(f.swap, '');
      const unknownField = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.admin,
        body: { flavor: { name: 'y', ram: 64, vcpus: 1, disk: 1, bogus: 1 } },
      });
      assert.equal(unknownField.status, 400);
      for (const [k, v] of [
        ['hw:mem_encryption', 'maybe'],
        ['trait:HW_CPU_X86_AVX', 'preferred'],
        ['hw:cpu_policy', 'exclusive'],
        ['hw:cpu_bogus', '1'],
      ]) {
        const r = await h.call('compute', 'POST', `/v2.1/flavors/${f.id}/os-extra_specs`, {
          token: h.admin,
          body: { extra_specs: { [k]: v } },
        });
        assert.equal(r.status, 400, `${k}=${v} must be refused`);
      }
      const ok = await h.call('compute', 'POST', `/v2.1/flavors/${f.id}/os-extra_specs`, {
        token: h.admin,
        body: { extra_specs: { 'hw:mem_encryption': 'True', 'hw:cpu_policy': 'dedicated' } },
      });
      assert.equal(ok.status, 200);
      const one = await h.call('compute', 'GET', `/v2.1/flavors/${f.id}/os-extra_specs/hw:cpu_policy`, {
        token: h.member,
      });
      assert.deepEqual(one.body, { 'hw:cpu_policy': 'dedicated' });
      const list = await h.call('compute', 'GET', '/v2.1/flavors/detail?is_public=None', { token: h.member });
      const names = (list.body as { flavors: { name: string }[] }).flavors.map((x) => x.name);
      assert.ok(names.includes('m1.nano') && names.includes('kt.enc'));
      const missing = await h.call('compute', 'GET', '/v2.1/flavors/m1.nano', { token: h.member });
      assert.equal(missing.status, 404);
      assert.ok((missing.body as { itemNotFound: unknown }).itemNotFound);
    });

    test('server lifecycle: create → ACTIVE, actions, console, events with timings, delete', async () => {
      const c = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: {
          server: {
            name: 'vm1',
            imageRef: imageId,
            flavorRef: '0',
            min_count: 1,
            max_count: 1,
            block_device_mapping_v2: [
              {
                uuid: imageId,
                boot_index: 0,
                source_type: 'image',
                destination_type: 'local',
                delete_on_termination: true,
              },
            ],
          },
        },
      });
      assert.equal(c.status, 202, c.text);
      const id = (c.body as { server: { id: string; adminPass: string } }).server.id;
      const s = await h.waitFor(h.member, id, (x) => x.status === 'ACTIVE');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.equal(s['OS-EXT-STS:task_state'], null);
      assert.deepEqual(s.addresses, {});
      assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'admin-only attributes hidden from members');
      const asAdmin = await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.admin });
      assert.equal(
        (asAdmin.body as { server: Record<string, unknown> }).server['OS-EXT-SRV-ATTR:host'],
        'kt-node1',
      );

      // Another project's server is a 404 everywhere.
      assert.equal((await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.other })).status, 404);
      assert.equal(
        (
          await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
            token: h.other,
            body: { 'os-stop': null },
          })
        ).status,
        404,
      );
      const theirs = await h.call('compute', 'GET', '/v2.1/servers/detail', { token: h.other });
      assert.equal((theirs.body as { servers: unknown[] }).servers.length, 0);

      const wrongState = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
        token: h.member,
        body: { 'os-start': null },
      });
      assert.equal(wrongState.status, 409);
      assert.match(
        (wrongState.body as { conflictingRequest: { message: string } }).conflictingRequest.message,
        /vm_state active/,
      );

      for (const [action, status] of [
        [{ 'os-stop': null }, 'SHUTOFF'],
        [{ 'os-start': null }, 'ACTIVE'],
        [{ reboot: { type: 'SOFT' } }, 'ACTIVE'],
        [{ pause: null }, 'PAUSED'],
        [{ unpause: null }, 'ACTIVE'],
        [{ suspend: null }, 'SUSPENDED'],
        [{ resume: null }, 'ACTIVE'],
      ] as const) {
        const r = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
          token: h.member,
          body: action,
        });
        assert.equal(r.status, 202, `${JSON.stringify(action)}: ${r.text}`);
        await h.waitFor(h.member, id, (x) => x.status === status && x['OS-EXT-STS:task_state'] === null);
      }
      const console = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
        token: h.member,
        body: { 'os-getConsoleOutput': { length: 50 } },
      });
      assert.equal(console.status, 200);
      assert.match((console.body as { output: string }).output, /GUEST-BOOTED/);
      const unknownAction = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
        token: h.member,
        body: { frobnicate: null },
      });
      assert.equal(unknownAction.status, 400);

      const actions = await h.call('compute', 'GET', `/v2.1/servers/${id}/os-instance-actions`, {
        token: h.member,
      });
      const list = (actions.body as { instanceActions: { action: string; request_id: string }[] })
        .instanceActions;
      assert.equal(list[list.length - 1].action, 'create');
      assert.deepEqual(list.map((a) => a.action).sort(), [
        'create',
        'pause',
        'reboot',
        'resume',
        'start',
        'stop',
        'suspend',
        'unpause',
      ]);
      const create = list.find((a) => a.action === 'create')!;
      const detail = await h.call(
        'compute',
        'GET',
        `/v2.1/servers/${id}/os-instance-actions/${create.request_id}`,
        { token: h.member },
      );
      const events = (
        detail.body as {
          instanceAction: {
            events: { event: string; start_time: string; finish_time: string; result: string }[];
          };
        }
      ).instanceAction.events;
      const names = events.map((e) => e.event);
      for (const phase of [
        'conductor_schedule_and_build_instances',
        'compute_prepare_root_disk',
        'compute_spawn',
        'compute_build_and_run_instance',
      ]) {
        assert.ok(names.includes(phase), `phase ${phase} recorded: ${names.join(', ')}`);
      }
      for (const e of events) {
        assert.equal(e.result, 'Success');
        assert.ok(Date.parse(e.finish_time + 'Z') >= Date.parse(e.start_time + 'Z'));
      }

      const del = await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
      assert.equal(del.status, 204);
      const end = Date.now() + 5000;
      while ((await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.member })).status !== 404) {
        assert.ok(Date.now() < end, 'server disappears after delete');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(h.disks.created.has(id), false, 'root disk removed');
      assert.deepEqual(await h.driver.list(), []);
    });

    test('no valid host names the failing constraint; the server ends in ERROR with a fault', async () => {
      const f = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.admin,
        body: { flavor: { name: 'kt.huge', ram: 1024 * 1024, vcpus: 1, disk: 1, id: '9001' } },
      });
      assert.equal(f.status, 200);
      const c = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.admin,
        body: { server: { name: 'too-big', imageRef: imageId, flavorRef: '9001' } },
      });
      assert.equal(c.status, 202);
      const id = (c.body as { server: { id: string } }).server.id;
      const s = await h.waitFor(h.admin, id, (x) => x.status === 'ERROR');
      const fault = s.fault as { message: string; code: number; details: string };
      // Nova's message; which host lacked what is in the details (this caller is an admin).
      assert.equal(fault.message, 'No valid host was found. There are not enough hosts available.');
      assert.match(fault.details, /No valid host was found\. kt-node1: MEMORY_MB: 1048576 requested/);
      const required = await h.call('compute', 'POST', '/v2.1/flavors/9001/os-extra_specs', {
        token: h.admin,
        body: { extra_specs: { 'trait:HW_CPU_X86_AMD_SEV': 'required' } },
      });
      assert.equal(required.status, 200);
      await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.admin });
    });

    test('bad input is 400, never 500', async () => {
      const cases: [string, unknown][] = [
        ['no name', { server: { imageRef: imageId, flavorRef: '0' } }],
        ['unknown field', { server: { name: 'x', imageRef: imageId, flavorRef: '0', bogus: true } }],
        [
          'unknown image',
          { server: { name: 'x', imageRef: '00000000-0000-4000-8000-000000000000', flavorRef: '0' } },
        ],
        ['bad image ref', { server: { name: 'x', imageRef: 'not-a-uuid', flavorRef: '0' } }],
        ['unknown flavor', { server: { name: 'x', imageRef: imageId, flavorRef: 'nope' } }],
        [
          'networks',
          { server: { name: 'x', imageRef: imageId, flavorRef: '0', networks: [{ uuid: 'n1' }] } },
        ],
        [
          'volume bdm',
          {
            server: {
              name: 'x',
              flavorRef: '0',
              block_device_mapping_v2: [
                { source_type: 'volume', destination_type: 'volume', uuid: 'v', boot_index: 0 },
              ],
            },
          },
        ],
        ['metadata type', { server: { name: 'x', imageRef: imageId, flavorRef: '0', metadata: { a: 1 } } }],
        ['not an object', []],
      ];
      for (const [what, body] of cases) {
        const r = await h.call('compute', 'POST', '/v2.1/servers', { token: h.member, body });
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.ok((r.body as { badRequest: { message: string } }).badRequest.message.length > 0);
      }
      const notJson = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        payload: '{"server":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(notJson.status, 400);
      const limit = await h.call('compute', 'GET', '/v2.1/servers?limit=-1', { token: h.member });
      assert.equal(limit.status, 400);
      const regex = await h.call('compute', 'GET', '/v2.1/servers?name=(', { token: h.member });
      assert.equal(regex.status, 400);
      const unknownServer = await h.call('compute', 'GET', '/v2.1/servers/vm-by-name', { token: h.member });
      assert.equal(unknownServer.status, 404);
    });

    test('hypervisors, services, AZ, limits, keypairs', async () => {
      const hv = await h.call('compute', 'GET', '/v2.1/os-hypervisors/detail', { token: h.admin });
      const list = (hv.body as { hypervisors: Record<string, unknown>[] }).hypervisors;
      assert.equal(list[0].hypervisor_hostname, 'kt-node1');
      assert.equal(typeof list[0].id, 'number');
      assert.equal(typeof list[0].cpu_info, 'string');
      assert.equal((await h.call('compute', 'GET', '/v2.1/os-hypervisors', { token: h.member })).status, 403);
      const show = await h.call('compute', 'GET', `/v2.1/os-hypervisors/${list[0].id}`, { token: h.admin });
      assert.equal(show.status, 200);
      const svc = await h.call('compute', 'GET', '/v2.1/os-services?binary=nova-compute', { token: h.admin });
      assert.equal((svc.body as { services: { state: string }[] }).services[0].state, 'up');
      const az = await h.call('compute', 'GET', '/v2.1/os-availability-zone', { token: h.member });
      assert.equal(
        (az.body as { availabilityZoneInfo: { zoneName: string }[] }).availabilityZoneInfo[0].zoneName,
        'nova',
      );
      const limits = await h.call('compute', 'GET', '/v2.1/limits', { token: h.member });
      assert.equal(
        typeof (limits.body as { limits: { absolute: Record<string, number> } }).limits.absolute
          .totalInstancesUsed,
        'number',
      );
      const kp = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
        token: h.member,
        body: { keypair: { name: 'k1' } },
      });
      assert.equal(kp.status, 200, kp.text);
      const k = (kp.body as { keypair: { private_key: string; fingerprint: string; public_key: string } })
        .keypair;
      assert.match(k.private_key, /PRIVATE KEY/);
      assert.match(k.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const dup = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
        token: h.member,
        body: { keypair: { name: 'k1' } },
      });
      assert.equal(dup.status, 409);
      const imported = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
        token: h.member,
        body: { keypair: { name: 'k2', public_key: k.public_key } },
      });
      assert.equal(imported.status, 200);
      const badKey = await h.call('compute', 'POST', '/v2.1/os-keypairs', {
        token: h.member,
        body: { keypair: { name: 'k3', public_key: 'ssh-rsa notbase64!!' } },
      });
      assert.equal(badKey.status, 400);
      const kps = await h.call('compute', 'GET', '/v2.1/os-keypairs', { token: h.member });
      assert.equal((kps.body as { keypairs: { keypair: { name: string } }[] }).keypairs.length, 2);
      assert.equal(
        (await h.call('compute', 'DELETE', '/v2.1/os-keypairs/k1', { token: h.member })).status,
        202,
      );
      assert.equal((await h.call('compute', 'GET', '/v2.1/os-keypairs/k1', { token: h.member })).status, 404);
    });
    test('os-hypervisors reads the host report from the database, never from the agent', async () => {
      const report = await h.core.repos.hostReports.get('kt-node1');
      assert.ok(report, 'the agent published its report at start');
      h.core.agents.unregister('kt-node1');
      try {
        const hv = await h.call('compute', 'GET', '/v2.1/os-hypervisors/detail', { token: h.admin });
        assert.equal(hv.status, 200, hv.text);
        const one = (hv.body as { hypervisors: Record<string, unknown>[] }).hypervisors[0];
        assert.equal(one.hypervisor_type, report.report.hypervisorType);
        assert.equal(one.hypervisor_version, report.report.hypervisorVersion);
        assert.equal(JSON.parse(String(one.cpu_info)).arch, (report.report.cpuInfo as { arch: string }).arch);
      } finally {
        h.core.agents.register(
          agent === 'loopback' ? new LoopbackAgent(h.core.localAgent) : h.core.localAgent,
        );
      }
    });

    test('a host that is down: actions are a 409 naming the host and the fix; DELETE deletes locally', async () => {
      const r = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'kt-down', imageRef: imageId, flavorRef: '1' } },
      });
      assert.equal(r.status, 202, r.text);
      const id = (r.body as { server: { id: string } }).server.id;
      await h.waitFor(h.member, id, (s) => s.status === 'ACTIVE');
      const stale = new Date(Date.now() - 120_000).toISOString();
      await h.core.repos.db
        .updateTable('services')
        .set({ updated_at: stale })
        .where('host', '=', 'kt-node1')
        .where('binary', '=', 'nova-compute')
        .execute();
      try {
        for (const body of [
          { 'os-stop': null },
          { 'os-getConsoleOutput': {} },
          { createImage: { name: 'x' } },
        ]) {
          const a = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, { token: h.member, body });
          assert.equal(a.status, 409, `${JSON.stringify(body)}: ${a.text}`);
          assert.match(a.text, /Compute host kt-node1 is not reachable: it is down \(last heartbeat/);
          assert.match(a.text, /Fix: start or restart the Kestrel compute service on kt-node1/);
        }
        const shown = await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.member });
        assert.equal(
          (shown.body as { server: Record<string, unknown> }).server['OS-EXT-STS:task_state'],
          null,
        );
        const del = await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
        assert.equal(del.status, 204);
        assert.equal(
          (await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.member })).status,
          404,
        );
      } finally {
        await h.core.repos.services.heartbeat('kt-node1', 'nova-compute', 'compute', 'nova');
      }
      // The guest the local delete left behind is what the host's start-up reconciliation removes.
      await h.driver.destroy(id).catch(() => undefined);
    });
  });
}

for (const agent of AGENT_TRANSPORTS) {
  describe(`compute API: a failed build (${agent} agent)`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ agent });
    });
    after(async () => {
      await h.close();
    });

    test('the driver refuses the guest: ERROR with a fault, the disk undone, allocations freed', async () => {
      const imageId = await uploadImage(h, h.member, 'odd', undefined, {
        hw_machine_type: 'no-such-machine-9.9',
      });
      const c = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'doomed', imageRef: imageId, flavorRef: '0' } },
      });
      assert.equal(c.status, 202, c.text);
      const id = (c.body as { server: { id: string } }).server.id;
      const s = await h.waitFor(h.admin, id, (x) => x.status === 'ERROR');
      const fault = s.fault as { message: string; details: string };
      assert.match(fault.message, /Build of instance failed/);
      assert.match(fault.details, /machine/i);
      assert.equal(h.disks.created.has(id), false, 'the revert stack removed the root disk');
      assert.deepEqual(await h.core.repos.placement.allocationsOf(id), []);
      const actions = await h.call('compute', 'GET', `/v2.1/servers/${id}/os-instance-actions`, {
        token: h.admin,
      });
      const rid = (actions.body as { instanceActions: { request_id: string }[] }).instanceActions[0]
        .request_id;
      const detail = await h.call('compute', 'GET', `/v2.1/servers/${id}/os-instance-actions/${rid}`, {
        token: h.admin,
      });
      const events = (
        detail.body as { instanceAction: { events: { event: string; result: string; traceback: string }[] } }
      ).instanceAction.events;
      const spawn = events.find((e) => e.event === 'compute_spawn');
      assert.equal(spawn?.result, 'Error');
      assert.ok(spawn?.traceback);
      assert.equal(
        (await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member })).status,
        204,
      );
    });
  });
}
