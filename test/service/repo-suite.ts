// One repository suite, run against every database kind (SQLite and PostgreSQL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repositories } from '../../src/db/index.js';
import { buildResourceRequest } from '../../src/control/scheduler/request.js';
import { claimResources, NO_VALID_HOST } from '../../src/control/scheduler/claim.js';
import type { KestrelError } from '../../src/errors/index.js';

export function repositorySuite(repos: () => Repositories): void {
  test('console tokens: spent once, expired and unknown told apart, purged, forgotten with the instance', async () => {
    const r = repos();
    const base = { consoleType: 'serial' as const, instanceUuid: 'i-1', projectId: 'p-1', host: 'h' };
    const future = new Date(Date.now() + 60_000).toISOString();
    await r.consoleTokens.insert({ ...base, tokenHash: 'a'.repeat(64), expiresAt: future });
    await r.consoleTokens.insert({
      ...base,
      tokenHash: 'b'.repeat(64),
      expiresAt: '2000-01-01T00:00:00.000Z',
    });
    // Two connections racing for one token: exactly one wins.
    const [x, y] = await Promise.all([
      r.consoleTokens.spend('a'.repeat(64)),
      r.consoleTokens.spend('a'.repeat(64)),
    ]);
    assert.deepEqual([x.ok, y.ok].sort(), [false, true]);
    const won = x.ok ? x : y;
    assert.ok(won.ok && won.token.projectId === 'p-1' && won.token.consoleType === 'serial');
    assert.deepEqual(((x.ok ? y : x) as { reason: string }).reason, 'used');
    assert.equal(((await r.consoleTokens.spend('b'.repeat(64))) as { reason: string }).reason, 'expired');
    assert.equal(((await r.consoleTokens.spend('c'.repeat(64))) as { reason: string }).reason, 'unknown');
    assert.equal(await r.consoleTokens.purgeExpired(new Date().toISOString()), 1);
    await r.consoleTokens.deleteForInstance('i-1');
    assert.equal(((await r.consoleTokens.spend('a'.repeat(64))) as { reason: string }).reason, 'unknown');
  });

  test('identity: users, projects, roles, tokens', async () => {
    const r = repos();
    const p = await r.identity.createProject({ name: 'demo' });
    const u = await r.identity.createUser({ name: 'alice', password: 's3cret', defaultProjectId: p.id });
    const member = await r.identity.ensureRole('member');
    assert.equal((await r.identity.ensureRole('member')).id, member.id);
    await r.identity.assignRole(u.id, p.id, member.id);
    await r.identity.assignRole(u.id, p.id, member.id);
    assert.deepEqual(
      (await r.identity.rolesOf(u.id, p.id)).map((x) => x.name),
      ['member'],
    );
    const found = await r.identity.findUser({ name: 'alice', domainId: 'default' });
    assert.ok(found);
    assert.ok(!found.passwordHash.includes('s3cret'));
    const { token, record } = await r.identity.issueToken({
      userId: u.id,
      projectId: p.id,
      methods: ['password'],
      ttlSeconds: 3600,
    });
    assert.equal((await r.identity.findToken(token))?.userId, u.id);
    assert.equal(await r.identity.findToken(token + 'x'), undefined);
    assert.equal(await r.identity.findToken(token, new Date(Date.parse(record.expiresAt) + 1)), undefined);
    assert.equal(await r.identity.revokeToken(token), true);
    assert.equal(await r.identity.findToken(token), undefined);
  });

  test('flavors with extra specs and access', async () => {
    const r = repos();
    await r.flavors.create({
      id: '42',
      name: 'f.test',
      vcpus: 2,
      memoryMb: 1024,
      rootGb: 5,
      ephemeralGb: 0,
      swapMb: 0,
      rxtxFactor: 1,
      isPublic: false,
    });
    await r.flavors.setExtraSpecs('42', { 'hw:mem_encryption': 'true', 'trait:HW_CPU_X86_AVX': 'required' });
    await r.flavors.setExtraSpecs('42', { 'hw:mem_encryption': 'false' });
    assert.deepEqual(await r.flavors.extraSpecs('42'), {
      'hw:mem_encryption': 'false',
      'trait:HW_CPU_X86_AVX': 'required',
    });
    assert.equal(await r.flavors.deleteExtraSpec('42', 'nope'), false);
    await r.flavors.addAccess('42', 'p1');
    assert.ok((await r.flavors.accessibleTo('p1')).has('42'));
    assert.equal((await r.flavors.get('42'))?.isPublic, false);
    assert.equal(await r.flavors.delete('42'), true);
    assert.equal(await r.flavors.get('42'), undefined);
  });

  test('images with properties, tags and guarded status transitions', async () => {
    const r = repos();
    const img = await r.images.create({
      id: '11111111-1111-4111-8111-111111111111',
      name: 'cirros',
      visibility: 'private',
      protected: false,
      osHidden: false,
      owner: 'p1',
      containerFormat: 'bare',
      diskFormat: 'qcow2',
      minDisk: 0,
      minRam: 0,
      properties: { hw_firmware_type: 'uefi' },
      tags: ['a'],
    });
    assert.equal(img.status, 'queued');
    assert.equal(await r.images.transition(img.id, ['queued'], { status: 'saving' }), true);
    assert.equal(await r.images.transition(img.id, ['queued'], { status: 'saving' }), false);
    await r.images.update(img.id, { status: 'active', size: 5_000_000_000, checksum: 'abc' });
    const got = await r.images.get(img.id);
    assert.equal(got?.size, 5_000_000_000);
    assert.deepEqual(got?.properties, { hw_firmware_type: 'uefi' });
    assert.deepEqual(got?.tags, ['a']);
    assert.equal((await r.images.list([img.id])).length, 1);
    assert.equal(await r.images.delete(img.id), true);
  });

  test('instances, actions with timed events, faults', async () => {
    const r = repos();
    const flavor = {
      id: '1',
      name: 'm1',
      vcpus: 1,
      memoryMb: 64,
      rootGb: 1,
      ephemeralGb: 0,
      swapMb: 0,
      extraSpecs: {},
    };
    const base = {
      displayName: 'vm',
      projectId: 'p1',
      userId: 'u1',
      flavor,
      imageId: 'img',
      availabilityZone: 'nova',
      keyName: null,
      metadata: { a: 'b' },
      reservationId: 'r-1',
      accessIpv4: '',
      accessIpv6: '',
      diskConfig: 'AUTO',
    };
    const a = await r.instances.create({ ...base, uuid: 'aaaaaaaa-0000-4000-8000-000000000001' });
    const b = await r.instances.create({
      ...base,
      uuid: 'aaaaaaaa-0000-4000-8000-000000000002',
      projectId: 'p2',
    });
    assert.notEqual(a.number, b.number);
    assert.equal((await r.instances.list({ projectId: 'p1' })).length, 1);
    await r.instances.update(a.uuid, { vmState: 'active', taskState: null, powerState: 1 });
    assert.equal(await r.instances.startTask(a.uuid, ['active'], 'powering-off'), true);
    assert.equal(await r.instances.startTask(a.uuid, ['active'], 'pausing'), false);
    const act = await r.instances.startAction({
      instanceUuid: a.uuid,
      requestId: 'req-1',
      action: 'create',
      userId: 'u1',
      projectId: 'p1',
    });
    const ev = await r.instances.startEvent(act.id, 'compute__spawn');
    await r.instances.finishEvent(ev, 'Success');
    await r.instances.finishAction(act.id, null);
    const full = await r.instances.getAction(a.uuid, 'req-1');
    assert.equal(full?.events.length, 1);
    assert.equal(full?.events[0].result, 'Success');
    assert.ok(full?.events[0].finishTime);
    await r.instances.addFault(a.uuid, { code: 500, message: 'first', details: '' });
    await r.instances.addFault(a.uuid, { code: 500, message: 'second', details: 'tail' });
    assert.equal((await r.instances.latestFaults([a.uuid])).get(a.uuid)?.message, 'second');
    await r.instances.markDeleted(a.uuid);
    assert.equal(await r.instances.get(a.uuid), undefined);
    assert.equal((await r.instances.get(a.uuid, { includeDeleted: true }))?.vmState, 'deleted');
  });

  test('keypairs and services', async () => {
    const r = repos();
    await r.keypairs.create({
      userId: 'u1',
      name: 'k1',
      publicKey: 'ssh-ed25519 AAAA',
      fingerprint: 'aa',
      type: 'ssh',
    });
    await assert.rejects(
      r.keypairs.create({ userId: 'u1', name: 'k1', publicKey: 'x', fingerprint: 'b', type: 'ssh' }),
    );
    assert.equal((await r.keypairs.list('u1')).length, 1);
    assert.equal(await r.keypairs.delete('u1', 'k1'), true);
    const s1 = await r.services.heartbeat('node1', 'nova-compute', 'compute', 'nova');
    const s2 = await r.services.heartbeat('node1', 'nova-compute', 'compute', 'nova');
    assert.equal(s1.id, s2.id);
    await r.services.setDisabled('node1', 'nova-compute', true, 'maintenance');
    assert.equal((await r.services.get('node1', 'nova-compute'))?.disabledReason, 'maintenance');
  });

  test('placement: inventories, traits, allocations and generations', async () => {
    const r = repos();
    const p = await r.placement.ensureProvider('hostA');
    assert.equal((await r.placement.ensureProvider('hostA')).uuid, p.uuid);
    await r.placement.setInventories(p.uuid, {
      VCPU: { total: 4, reserved: 0, minUnit: 1, maxUnit: 4, stepSize: 1, allocationRatio: 16 },
    });
    await r.placement.setTraits(p.uuid, ['HW_CPU_X86_AVX', 'HW_CPU_X86_AVX']);
    const [state] = await r.placement.providers([p.uuid]);
    assert.equal(state.inventories.VCPU.allocationRatio, 16);
    assert.ok(state.traits.has('HW_CPU_X86_AVX'));
    await r.placement.insertAllocations('c1', p.uuid, { VCPU: 2 });
    assert.equal(await r.placement.bumpIf(p.uuid, state.generation), true);
    assert.equal(await r.placement.bumpIf(p.uuid, state.generation), false);
    assert.equal((await r.placement.providers([p.uuid]))[0].usages.VCPU, 2);
    await r.placement.deleteAllocations('c1');
    assert.equal((await r.placement.providers([p.uuid]))[0].usages.VCPU, undefined);
  });
}

export function claimSuite(repos: () => Repositories): void {
  test('claims: 20 concurrent boots never over-commit a host', async () => {
    const r = repos();
    const p = await r.placement.ensureProvider('claim-host');
    const inv = (total: number) => ({
      total,
      reserved: 0,
      minUnit: 1,
      maxUnit: total,
      stepSize: 1,
      allocationRatio: 1,
    });
    await r.placement.setInventories(p.uuid, { VCPU: inv(4), MEMORY_MB: inv(4096), DISK_GB: inv(100) });
    const req = buildResourceRequest(
      { vcpus: 1, memoryMb: 256, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
      {},
    );
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => claimResources(r, `consumer-${i}`, req, { maxAttempts: 50 })),
    );
    const won = results.filter((x) => x.status === 'fulfilled').length;
    assert.equal(won, 4);
    for (const x of results) {
      if (x.status === 'rejected') {
        // Nova's words for everyone; which host lacked what is in the details (for admins).
        assert.equal((x.reason as KestrelError).message, NO_VALID_HOST);
        assert.match(String((x.reason as KestrelError).details), /No valid host.*VCPU/);
      }
    }
    const [state] = await r.placement.providers([p.uuid]);
    assert.equal(state.usages.VCPU, 4);
    for (let i = 0; i < 20; i++) await r.placement.deleteAllocations(`consumer-${i}`);
  });
}
