// Issue 11's server surface through the Compute API (inject) on the fake driver: update and
// metadata, rebuild, lock, shelve / offload / unshelve, createBackup with rotation, the admin
// actions, soft delete, changePassword, diagnostics, multiple create — each with the refusals
// Nova gives (state 409s, lock 409, admin 403, schema 400).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_TRANSPORTS } from '../../src/service/core.js';
import { runChecked } from '../../src/util/run.js';
import { startHarness, uploadImage, type Harness, type Reply } from '../api/harness.js';

type Server = Record<string, unknown>;
const msg = (r: Reply) => JSON.stringify(r.body);

for (const agent of AGENT_TRANSPORTS) {
  describe(`server actions (fake driver) (${agent} agent)`, () => {
    let h: Harness;
    let imageId: string;
    let image2: string;
    const flavorRef = 'kt-sa-tiny';

    const act = (token: string, id: string, body: unknown) =>
      h.call('compute', 'POST', `/v2.1/servers/${id}/action`, { token, body });
    const show = async (id: string, token = h.admin) =>
      (await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token })).body as { server: Server };
    const settled = (status: string) => (s: Server) =>
      s.status === status && s['OS-EXT-STS:task_state'] === null;
    const boot = async (name: string, token = h.member, extra: Record<string, unknown> = {}) => {
      const r = await h.call('compute', 'POST', '/v2.1/servers', {
        token,
        body: { server: { name, imageRef: imageId, flavorRef, ...extra } },
      });
      assert.equal(r.status, 202, r.text);
      const id = (r.body as { server: { id: string } }).server.id;
      await h.waitFor(token, id, settled('ACTIVE'));
      return id;
    };
    const actions = async (id: string) =>
      (
        (await h.call('compute', 'GET', `/v2.1/servers/${id}/os-instance-actions`, { token: h.admin }))
          .body as { instanceActions: { action: string; message: string | null }[] }
      ).instanceActions;

    before(async () => {
      h = await startHarness({ agent });
      // The fake driver's snapshot is a few bytes the image store's inspector refuses; write a
      // real (empty) qcow2 instead so shelve and backup reach the store.
      h.driver.snapshot = async (_uuid, target, format) => {
        await runChecked(['qemu-img', 'create', '-q', '-f', format, target, '1M']);
      };
      imageId = await uploadImage(h, h.admin, 'kt-sa-boot', undefined, { visibility: 'public' });
      image2 = await uploadImage(h, h.admin, 'kt-sa-other', undefined, { visibility: 'public' });
      const f = await h.call('compute', 'POST', '/v2.1/flavors', {
        token: h.admin,
        body: { flavor: { name: 'kt-sa.tiny', ram: 64, vcpus: 1, disk: 1, id: flavorRef } },
      });
      assert.equal(f.status, 200, f.text);
    });
    after(async () => {
      await h.core.serverOps.settle();
      await h.close();
    });

    test('PUT /servers/{id} and the metadata calls, with Nova validation', async () => {
      const id = await boot('kt-sa-meta');
      const up = await h.call('compute', 'PUT', `/v2.1/servers/${id}`, {
        token: h.member,
        body: { server: { name: 'kt-sa-renamed', accessIPv4: '10.0.0.9', 'OS-DCF:diskConfig': 'MANUAL' } },
      });
      assert.equal(up.status, 200, up.text);
      const s = (up.body as { server: Server }).server;
      assert.equal(s.name, 'kt-sa-renamed');
      assert.equal(s.accessIPv4, '10.0.0.9');
      assert.equal(s['OS-DCF:diskConfig'], 'MANUAL');
      const base = `/v2.1/servers/${id}/metadata`;
      const put = await h.call('compute', 'PUT', base, {
        token: h.member,
        body: { metadata: { a: '1', b: '2' } },
      });
      assert.deepEqual(put.body, { metadata: { a: '1', b: '2' } });
      const post = await h.call('compute', 'POST', base, { token: h.member, body: { metadata: { c: '3' } } });
      assert.deepEqual(post.body, { metadata: { a: '1', b: '2', c: '3' } });
      const one = await h.call('compute', 'GET', `${base}/c`, { token: h.member });
      assert.deepEqual(one.body, { meta: { c: '3' } });
      const setOne = await h.call('compute', 'PUT', `${base}/d`, {
        token: h.member,
        body: { meta: { d: '4' } },
      });
      assert.deepEqual(setOne.body, { meta: { d: '4' } });
      assert.equal((await h.call('compute', 'DELETE', `${base}/a`, { token: h.member })).status, 204);
      assert.equal((await h.call('compute', 'GET', `${base}/a`, { token: h.member })).status, 404);
      const list = await h.call('compute', 'GET', base, { token: h.member });
      assert.deepEqual(list.body, { metadata: { b: '2', c: '3', d: '4' } });
      // Nova's limits: key 1-255, value ≤ 255, at most maxServerMeta (128) items after the merge.
      const longKey = await h.call('compute', 'POST', base, {
        token: h.member,
        body: { metadata: { ['k'.repeat(256)]: 'v' } },
      });
      assert.equal(longKey.status, 400);
      const longValue = await h.call('compute', 'POST', base, {
        token: h.member,
        body: { metadata: { k: 'v'.repeat(256) } },
      });
      assert.equal(longValue.status, 400);
      const many = Object.fromEntries(Array.from({ length: 126 }, (_, i) => [`m${i}`, 'x']));
      const tooMany = await h.call('compute', 'POST', base, { token: h.member, body: { metadata: many } });
      assert.equal(tooMany.status, 403, tooMany.text);
      assert.match(msg(tooMany), /metadata_items/);
      const mismatch = await h.call('compute', 'PUT', `${base}/x`, {
        token: h.member,
        body: { meta: { y: '1' } },
      });
      assert.equal(mismatch.status, 400);
      // A locked server refuses metadata writes from non-admins.
      assert.equal((await act(h.member, id, { lock: null })).status, 202);
      const locked = await h.call('compute', 'POST', base, {
        token: h.member,
        body: { metadata: { z: '1' } },
      });
      assert.equal(locked.status, 409);
      assert.match(msg(locked), new RegExp(`Instance ${id} is locked`));
      assert.equal((await h.call('compute', 'DELETE', `${base}/b`, { token: h.member })).status, 409);
      assert.equal(
        (await h.call('compute', 'POST', base, { token: h.admin, body: { metadata: { z: '1' } } })).status,
        200,
      );
      assert.equal((await act(h.member, id, { unlock: null })).status, 202);
    });

    test('lock / unlock: locked_reason refused at 2.1, actions refused for non-admins, admin lock needs admin unlock', async () => {
      const id = await boot('kt-sa-lock');
      const reason = await act(h.member, id, { lock: { locked_reason: 'maintenance' } });
      assert.equal(reason.status, 400);
      assert.match(msg(reason), /2\.73/);
      assert.equal((await act(h.member, id, { lock: null })).status, 202);
      assert.equal((await show(id)).server.status, 'ACTIVE');
      for (const body of [{ 'os-stop': null }, { shelve: null }, { rebuild: { imageRef: imageId } }]) {
        const r = await act(h.member, id, body);
        assert.equal(r.status, 409, `${JSON.stringify(body)}: ${r.text}`);
        assert.match(msg(r), new RegExp(`Instance ${id} is locked`));
      }
      const del = await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member });
      assert.equal(del.status, 409);
      // The admin may act on a locked server.
      assert.equal((await act(h.admin, id, { 'os-stop': null })).status, 202);
      await h.waitFor(h.admin, id, settled('SHUTOFF'));
      assert.equal((await act(h.member, id, { unlock: null })).status, 202);
      // Locked by the admin (another project): the owner may not unlock it.
      assert.equal((await act(h.admin, id, { lock: null })).status, 202);
      assert.equal((await act(h.member, id, { unlock: null })).status, 403);
      assert.equal((await act(h.admin, id, { unlock: null })).status, 202);
      const names = (await actions(id)).map((a) => a.action);
      assert.ok(names.includes('lock') && names.includes('unlock'), names.join(','));
    });

    test('rebuild: same uuid, new image, name and metadata; SHUTOFF stays SHUTOFF; refusals', async () => {
      const id = await boot('kt-sa-rebuild');
      const r = await act(h.member, id, {
        rebuild: { imageRef: image2, name: 'kt-sa-rebuilt', metadata: { role: 'web' }, adminPass: 'pw-1' },
      });
      assert.equal(r.status, 202, r.text);
      const body = (r.body as { server: Server }).server;
      assert.equal(body.id, id);
      assert.equal(body.adminPass, 'pw-1');
      assert.equal(body.name, 'kt-sa-rebuilt');
      const done = await h.waitFor(h.member, id, settled('ACTIVE'));
      assert.equal((done.image as { id: string }).id, image2);
      assert.deepEqual(done.metadata, { role: 'web' });
      assert.equal(h.driver.list !== undefined, true);
      assert.ok((await h.driver.list()).includes(id), 'the guest keeps its uuid');
      const rebuildAction = (await actions(id)).find((a) => a.action === 'rebuild');
      assert.ok(rebuildAction && rebuildAction.message === null);

      // From SHUTOFF: rebuilt and left SHUTOFF.
      assert.equal((await act(h.member, id, { 'os-stop': null })).status, 202);
      await h.waitFor(h.member, id, settled('SHUTOFF'));
      assert.equal((await act(h.member, id, { rebuild: { imageRef: imageId } })).status, 202);
      const off = await h.waitFor(h.member, id, settled('SHUTOFF'));
      assert.equal((off.image as { id: string }).id, imageId);
      assert.equal(off['OS-EXT-STS:power_state'], 4);

      // Refusals: wrong state, unknown image, unknown key, missing imageRef, personality.
      assert.equal((await act(h.member, id, { 'os-start': null })).status, 202);
      await h.waitFor(h.member, id, settled('ACTIVE'));
      assert.equal((await act(h.member, id, { pause: null })).status, 202);
      await h.waitFor(h.member, id, settled('PAUSED'));
      const paused = await act(h.member, id, { rebuild: { imageRef: image2 } });
      assert.equal(paused.status, 409);
      assert.match(msg(paused), /Cannot 'rebuild' instance .* while it is in vm_state paused/);
      assert.equal((await act(h.member, id, { unpause: null })).status, 202);
      await h.waitFor(h.member, id, settled('ACTIVE'));
      const cases: [unknown, number][] = [
        [{ imageRef: '00000000-0000-4000-8000-000000000000' }, 400],
        [{ imageRef: image2, bogus: 1 }, 400],
        [{ name: 'x' }, 400],
        [{ imageRef: image2, personality: [] }, 400],
        [{ imageRef: image2, metadata: { k: 1 } }, 400],
      ];
      for (const [arg, status] of cases) {
        const x = await act(h.member, id, { rebuild: arg });
        assert.equal(x.status, status, `${JSON.stringify(arg)}: ${x.text}`);
      }
    });

    test('rebuild re-runs the SEV and trait checks for the new image', async () => {
      const id = await boot('kt-sa-rebuild-sev');
      const sevImage = await uploadImage(h, h.admin, 'kt-sa-sev', undefined, {
        visibility: 'public',
        hw_mem_encryption: 'true',
      });
      const sev = await act(h.member, id, { rebuild: { imageRef: sevImage } });
      assert.equal(sev.status, 400, sev.text);
      assert.match(msg(sev), /hw_firmware_type|uefi/);
      const traitImage = await uploadImage(h, h.admin, 'kt-sa-trait', undefined, {
        visibility: 'public',
        'trait:CUSTOM_KT_SA_NOWHERE': 'required',
      });
      const trait = await act(h.member, id, { rebuild: { imageRef: traitImage } });
      assert.equal(trait.status, 400, trait.text);
      assert.match(msg(trait), /CUSTOM_KT_SA_NOWHERE/);
      assert.equal((await show(id)).server.status, 'ACTIVE');
    });

    test('shelve offloads at once (offload time 0), unshelve boots from the shelved image and deletes it', async () => {
      const id = await boot('kt-sa-shelve');
      const r = await act(h.member, id, { shelve: null });
      assert.equal(r.status, 202, r.text);
      const s = await h.waitFor(h.member, id, settled('SHELVED_OFFLOADED'));
      assert.equal(s['OS-EXT-STS:power_state'], 0);
      const adminView = (await show(id)).server;
      assert.equal(adminView['OS-EXT-SRV-ATTR:host'], null);
      assert.ok(!(await h.driver.list()).includes(id), 'the guest is undefined');
      assert.equal((await h.core.repos.placement.allocationsOf(id)).length, 0);
      const images = await h.call('image', 'GET', '/v2/images', { token: h.member });
      const shelved = (images.body as { images: { id: string; name: string; status: string }[] }).images.find(
        (i) => i.name === 'kt-sa-shelve-shelved',
      );
      assert.ok(shelved, 'the shelved image exists');
      assert.equal(shelved.status, 'active');
      // shelve again / start while offloaded: 409
      assert.equal((await act(h.member, id, { shelve: null })).status, 409);
      assert.equal((await act(h.member, id, { 'os-start': null })).status, 409);
      const az = await act(h.member, id, { unshelve: { availability_zone: 'nova' } });
      assert.equal(az.status, 400);
      assert.equal((await act(h.member, id, { unshelve: null })).status, 202);
      const back = await h.waitFor(h.member, id, settled('ACTIVE'));
      assert.equal((back.image as { id: string }).id, imageId, 'image_ref stays the original image');
      assert.ok((await h.driver.list()).includes(id));
      assert.ok((await h.core.repos.placement.allocationsOf(id)).length > 0, 'scheduled again');
      assert.equal(
        (await h.call('image', 'GET', `/v2/images/${shelved.id}`, { token: h.member })).status,
        404,
      );
      const names = (await actions(id)).map((a) => a.action);
      assert.deepEqual(names.slice(0, 2), ['unshelve', 'shelve']);
    });

    test('shelved_offload_time -1 keeps SHELVED; shelveOffload is admin-only; N seconds offloads by timer', async () => {
      h.core.serverOps.configure({ shelvedOffloadTime: -1 });
      try {
        const id = await boot('kt-sa-keep');
        assert.equal((await act(h.member, id, { shelve: null })).status, 202);
        const s = await h.waitFor(h.member, id, settled('SHELVED'));
        assert.equal(s['OS-EXT-STS:power_state'], 4);
        assert.ok((await h.core.repos.placement.allocationsOf(id)).length > 0, 'still holds its host');
        assert.equal((await act(h.member, id, { shelveOffload: null })).status, 403);
        assert.equal((await act(h.admin, id, { shelveOffload: null })).status, 202);
        await h.waitFor(h.member, id, settled('SHELVED_OFFLOADED'));
        assert.equal((await act(h.admin, id, { shelveOffload: null })).status, 409);

        // SHELVED (not offloaded) → unshelve powers the same guest on.
        const id2 = await boot('kt-sa-keep2');
        assert.equal((await act(h.member, id2, { shelve: null })).status, 202);
        await h.waitFor(h.member, id2, settled('SHELVED'));
        assert.equal((await act(h.member, id2, { unshelve: null })).status, 202);
        await h.waitFor(h.member, id2, settled('ACTIVE'));

        h.core.serverOps.configure({ shelvedOffloadTime: 1 });
        const id3 = await boot('kt-sa-timer');
        assert.equal((await act(h.member, id3, { shelve: null })).status, 202);
        await h.waitFor(h.member, id3, settled('SHELVED'));
        await h.waitFor(h.member, id3, settled('SHELVED_OFFLOADED'), 5000);
        for (const x of [id, id2, id3])
          assert.equal(
            (await h.call('compute', 'DELETE', `/v2.1/servers/${x}`, { token: h.member })).status,
            204,
          );
      } finally {
        h.core.serverOps.configure({ shelvedOffloadTime: 0 });
      }
    });

    test('createBackup: Location, rotation deletes the oldest of the same type, refusals', async () => {
      const id = await boot('kt-sa-backup');
      const backups = async (type: string) =>
        (await h.core.repos.images.list()).filter(
          (i) => i.properties.instance_uuid === id && i.properties.backup_type === type,
        );
      const made: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await act(h.member, id, {
          createBackup: { name: `kt-sa-bk-${i}`, backup_type: 'daily', rotation: 2 },
        });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.text, '');
        const loc = String(r.headers.location);
        assert.match(loc, /\/v2\.1\/images\/[0-9a-f-]{36}$/, 'Nova 2.1: <compute URL>/images/<id>');
        made.push(loc.split('/').pop()!);
        await h.core.serverOps.settle();
        await h.waitFor(h.member, id, settled('ACTIVE'));
      }
      const daily = await backups('daily');
      assert.deepEqual(
        daily.map((i) => i.id).sort(),
        made.slice(1).sort(),
        'the oldest backup was rotated out',
      );
      assert.ok(daily.every((i) => i.status === 'active' && i.properties.image_type === 'backup'));
      const weekly = await act(h.member, id, {
        createBackup: { name: 'w', backup_type: 'weekly', rotation: 1 },
      });
      assert.equal(weekly.status, 202);
      await h.core.serverOps.settle();
      assert.equal((await backups('daily')).length, 2, 'another type is not rotated');
      const zero = await act(h.member, id, {
        createBackup: { name: 'z', backup_type: 'weekly', rotation: 0 },
      });
      assert.equal(zero.status, 202);
      assert.equal(zero.headers.location, undefined, 'no Location with rotation 0');
      await h.core.serverOps.settle();
      assert.equal((await backups('weekly')).length, 0, 'rotation 0 keeps none');
      for (const bad of [
        { name: 'x', rotation: 1 },
        { name: 'x', backup_type: 'daily', rotation: -1 },
        { name: 'x', backup_type: 'daily', rotation: 1, extra: 1 },
      ]) {
        assert.equal((await act(h.member, id, { createBackup: bad })).status, 400, JSON.stringify(bad));
      }
      assert.equal((await act(h.member, id, { suspend: null })).status, 202);
      await h.waitFor(h.member, id, settled('SUSPENDED'));
      assert.equal((await act(h.member, id, { resume: null })).status, 202);
      await h.waitFor(h.member, id, settled('ACTIVE'));
      assert.ok(
        (await actions(id)).filter((a) => a.action === 'createBackup').every((a) => a.message === null),
      );
    });

    test('failures undo their own steps: shelve, unshelve and rebuild', async () => {
      const id = await boot('kt-sa-undo');
      const snapshot = h.driver.snapshot;
      const spawn = h.driver.spawn;
      try {
        h.driver.snapshot = async () => {
          throw new Error('kt-sa injected snapshot failure');
        };
        assert.equal((await act(h.member, id, { shelve: null })).status, 202);
        await h.core.serverOps.settle();
        const back = await h.waitFor(h.member, id, settled('ACTIVE'));
        assert.equal(back['OS-EXT-STS:power_state'], 1, 'powered on again');
        assert.equal((await actions(id))[0].message, 'Error');
        const names = (await h.core.repos.images.list()).map((i) => i.name);
        assert.ok(!names.includes('kt-sa-undo-shelved'), 'the half-made shelved image is gone');
        h.driver.snapshot = snapshot;

        // Unshelve of an offloaded server whose spawn fails: offloaded again, nothing held.
        assert.equal((await act(h.member, id, { shelve: null })).status, 202);
        await h.waitFor(h.member, id, settled('SHELVED_OFFLOADED'));
        h.driver.spawn = async () => {
          throw new Error('kt-sa injected spawn failure');
        };
        assert.equal((await act(h.member, id, { unshelve: null })).status, 202);
        await h.core.serverOps.settle();
        await h.waitFor(h.member, id, settled('SHELVED_OFFLOADED'));
        assert.equal((await h.core.repos.placement.allocationsOf(id)).length, 0);
        assert.ok(!h.disks.created.has(id), 'the new disk was removed');
        h.driver.spawn = spawn;
        assert.equal((await act(h.member, id, { unshelve: null })).status, 202);
        await h.waitFor(h.member, id, settled('ACTIVE'));

        // Rebuild whose spawn fails: ERROR with the fault, new disk and guest removed.
        h.driver.spawn = async () => {
          throw new Error('kt-sa injected spawn failure');
        };
        assert.equal((await act(h.member, id, { rebuild: { imageRef: image2 } })).status, 202);
        await h.core.serverOps.settle();
        const failed = await h.waitFor(h.member, id, settled('ERROR'));
        // The member reads a short message with the request id; the cause is for admins.
        assert.match(
          JSON.stringify(failed.fault),
          /Rebuild of instance failed: an internal error occurred \(request req-/,
        );
        assert.doesNotMatch(JSON.stringify(failed.fault), /injected spawn failure/);
        const asAdmin = await h.waitFor(h.admin, id, settled('ERROR'));
        assert.match(
          JSON.stringify(asAdmin.fault),
          /Rebuild of instance failed: kt-sa injected spawn failure/,
        );
        assert.ok(!h.disks.created.has(id) && !(await h.driver.list()).includes(id));
        h.driver.spawn = spawn;
        // From ERROR a rebuild is allowed (Nova), and repairs the server.
        assert.equal((await act(h.member, id, { rebuild: { imageRef: image2 } })).status, 202);
        await h.waitFor(h.member, id, settled('ACTIVE'));
      } finally {
        h.driver.snapshot = snapshot;
        h.driver.spawn = spawn;
      }
    });

    test('os-resetState (admin), changePassword without a guest agent, diagnostics', async () => {
      const id = await boot('kt-sa-admin');
      assert.equal((await act(h.member, id, { 'os-resetState': { state: 'error' } })).status, 403);
      assert.equal((await act(h.admin, id, { 'os-resetState': { state: 'paused' } })).status, 400);
      assert.equal((await act(h.admin, id, { 'os-resetState': { state: 'error' } })).status, 202);
      assert.equal((await show(id)).server.status, 'ERROR');
      assert.equal((await act(h.admin, id, { 'os-resetState': { state: 'active' } })).status, 202);
      assert.equal((await show(id)).server.status, 'ACTIVE');

      const pw = await act(h.member, id, { changePassword: { adminPass: 'secret-1' } });
      assert.equal(pw.status, 409, pw.text);
      assert.match(msg(pw), /QEMU guest agent is not enabled/);
      assert.equal((await act(h.member, id, { changePassword: {} })).status, 400);

      const d = await h.call('compute', 'GET', `/v2.1/servers/${id}/diagnostics`, { token: h.admin });
      assert.equal(d.status, 200, d.text);
      assert.ok(Number((d.body as { memory: number }).memory) > 0);
      assert.equal(
        (await h.call('compute', 'GET', `/v2.1/servers/${id}/diagnostics`, { token: h.member })).status,
        403,
      );
      assert.equal((await act(h.member, id, { 'os-stop': null })).status, 202);
      await h.waitFor(h.member, id, settled('SHUTOFF'));
      assert.equal((await act(h.member, id, { changePassword: { adminPass: 'x' } })).status, 409);
      assert.equal(
        (await h.call('compute', 'GET', `/v2.1/servers/${id}/diagnostics`, { token: h.admin })).status,
        409,
      );
    });

    test('reclaim_instance_interval > 0: DELETE soft-deletes, restore, forceDelete, reclaim', async () => {
      h.core.serverOps.configure({ reclaimInstanceInterval: 3600 });
      try {
        const id = await boot('kt-sa-soft');
        assert.equal((await act(h.member, id, { restore: null })).status, 409);
        assert.equal(
          (await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member })).status,
          204,
        );
        const soft = await h.waitFor(h.member, id, settled('SOFT_DELETED'));
        assert.equal(soft['OS-EXT-STS:power_state'], 4);
        assert.ok((await h.core.repos.placement.allocationsOf(id)).length > 0, 'allocations kept');
        assert.equal((await act(h.member, id, { restore: null })).status, 202);
        await h.waitFor(h.member, id, settled('ACTIVE'));
        assert.equal(
          (await h.call('compute', 'DELETE', `/v2.1/servers/${id}`, { token: h.member })).status,
          204,
        );
        await h.waitFor(h.member, id, settled('SOFT_DELETED'));
        assert.equal((await act(h.member, id, { forceDelete: null })).status, 202);
        await h.core.servers.settle();
        assert.equal(
          (await h.call('compute', 'GET', `/v2.1/servers/${id}`, { token: h.member })).status,
          404,
        );

        const id2 = await boot('kt-sa-reclaim');
        assert.equal(
          (await h.call('compute', 'DELETE', `/v2.1/servers/${id2}`, { token: h.member })).status,
          204,
        );
        await h.waitFor(h.member, id2, settled('SOFT_DELETED'));
        assert.equal(await h.core.serverOps.reclaimNow(Date.now()), 0, 'not old enough yet');
        assert.equal(await h.core.serverOps.reclaimNow(Date.now() + 3601_000), 1);
        await h.core.servers.settle();
        assert.equal(
          (await h.call('compute', 'GET', `/v2.1/servers/${id2}`, { token: h.member })).status,
          404,
        );
      } finally {
        h.core.serverOps.configure({ reclaimInstanceInterval: 0 });
      }
    });

    test('multiple create, return_reservation_id, OS-DCF:diskConfig, all_tenants with host and status filters', async () => {
      const r = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: {
          server: {
            name: 'kt-sa-multi',
            imageRef: imageId,
            flavorRef,
            min_count: 2,
            max_count: 2,
            return_reservation_id: true,
            'OS-DCF:diskConfig': 'MANUAL',
          },
        },
      });
      assert.equal(r.status, 202, r.text);
      const rid = (r.body as { reservation_id: string }).reservation_id;
      assert.match(rid, /^r-/);
      await h.core.servers.settle();
      const list = await h.call('compute', 'GET', `/v2.1/servers/detail?reservation_id=${rid}`, {
        token: h.member,
      });
      const servers = (list.body as { servers: Server[] }).servers;
      assert.deepEqual(servers.map((s) => s.name).sort(), ['kt-sa-multi-1', 'kt-sa-multi-2']);
      assert.ok(servers.every((s) => s['OS-DCF:diskConfig'] === 'MANUAL'));
      const all = await h.call(
        'compute',
        'GET',
        '/v2.1/servers/detail?all_tenants=1&host=kt-node1&status=ACTIVE',
        {
          token: h.admin,
        },
      );
      const rows = (all.body as { servers: Server[] }).servers;
      assert.ok(rows.length >= 2 && rows.every((s) => s.status === 'ACTIVE'));
      // adminPass at create: accepted and echoed (Nova does the same; nothing injects it without
      // a config drive), generated when absent.
      const given = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'kt-sa-pass', imageRef: imageId, flavorRef, adminPass: 'kt-sa-secret' } },
      });
      assert.equal((given.body as { server: { adminPass: string } }).server.adminPass, 'kt-sa-secret');
      const none = await h.call('compute', 'GET', '/v2.1/servers?all_tenants=1&host=kt-nowhere', {
        token: h.admin,
      });
      assert.equal((none.body as { servers: Server[] }).servers.length, 0);
    });
  });
}
