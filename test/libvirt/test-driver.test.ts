// The client against the real libvirtd with libvirt's in-daemon test driver (test+unix:///default):
// every procedure in the table that the test driver implements, and the "not supported" answer
// (which proves the daemon decoded our arguments) for those it does not. The test driver's state
// is shared by everyone using the daemon, so only kt-rpc-* domains are touched.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  LibvirtClient,
  LibvirtError,
  DomainRef,
  MetadataType,
  ListDomainsFlags,
  UndefineFlags,
  XmlFlags,
  DomainState,
  AgentTimeout,
  isNoDomain,
  isOperationInvalid,
  isNoSnapshot,
  splitVersion,
  tp,
  type LifecycleEvent,
} from '../../src/libvirt/index.js';
import { assertNoSupport, daemonSkipReason, ktName, waitForEvents } from './helpers.js';

const skip = daemonSkipReason();

function testDomainXml(name: string): string {
  return `<domain type='test'>
  <name>${name}</name>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><disk type='file' device='disk'><source file='/tmp/${name}.img'/><target dev='vda' bus='virtio'/></disk></devices>
</domain>`;
}

describe('libvirt client on test+unix:///default', { skip: skip ?? false }, () => {
  let client: LibvirtClient;
  const created: DomainRef[] = [];

  before(async () => {
    client = await LibvirtClient.connect({ uri: 'test+unix:///default' });
  });

  after(async () => {
    for (const d of created) {
      await client.domains.destroy(d).catch(() => undefined);
      await client.domains
        .undefine(d, UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA)
        .catch(() => undefined);
    }
    await client.close();
  });

  test('host: type, versions, hostname, capabilities, node info, CPU models', async () => {
    assert.equal(await client.host.getType(), 'TEST');
    assert.equal(await client.host.getVersion(), 2); // the test driver's fixed version
    const lib = splitVersion(await client.host.getLibVersion());
    assert.ok(lib.major >= 6, `libvirt ${lib.text}`);
    assert.ok((await client.host.getHostname()).length > 0);
    assert.match(await client.host.getCapabilities(), /<capabilities>[\s\S]*<host>/);
    const info = await client.host.getNodeInfo();
    // The test driver's fixed node: 16 CPUs, 1400 MHz, 2 nodes × 2 sockets × 2 cores × 2 threads, model i686.
    assert.deepEqual(info, {
      model: 'i686',
      memoryKiB: 3145728,
      cpus: 16,
      mhz: 1400,
      nodes: 2,
      sockets: 2,
      cores: 2,
      threads: 2,
    });
    const models = await client.host.getCpuModelNames('x86_64');
    assert.ok(models.length > 20 && models.includes('qemu64'), models.join(','));
    assert.ok(await client.host.supportsFeature(10), 'keepalive feature');
  });

  test('host: calls the test driver lacks answer NO_SUPPORT (arguments decoded by the daemon)', async () => {
    await assertNoSupport(
      client.host.getDomainCapabilities({ arch: 'x86_64', virttype: 'qemu' }),
      'domain capabilities',
    );
    await assertNoSupport(
      client.host.compareHypervisorCpu('<cpu><model>qemu64</model></cpu>', { arch: 'x86_64' }),
      'compare CPU',
    );
    await assertNoSupport(
      client.host.baselineHypervisorCpu(['<cpu><model>qemu64</model></cpu>']),
      'baseline CPU',
    );
  });

  test('domain lifecycle with events: define, create, suspend, resume, shutdown, reboot, destroy, undefine', async () => {
    await client.subscribe('lifecycle');
    const name = ktName('td');
    const events: LifecycleEvent[] = [];
    const onEvent = (e: LifecycleEvent) => {
      if (e.domain.name === name) events.push(e);
    };
    client.events.on('lifecycle', onEvent);
    try {
      const dom = await client.domains.defineXml(testDomainXml(name));
      created.push(dom);
      assert.equal(dom.name, name);
      assert.equal(dom.id, -1);
      assert.match(dom.uuidString, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

      const byName = await client.domains.lookupByName(name);
      const byUuid = await client.domains.lookupByUuid(dom.uuidString);
      assert.equal(byName.uuidString, dom.uuidString);
      assert.equal(byUuid.name, name);
      assert.deepEqual(byUuid.uuid, dom.uuid);

      assert.equal((await client.domains.getState(dom)).state, DomainState.SHUTOFF);
      const running = await client.domains.create(dom);
      assert.ok(running.id > 0, `id ${running.id}`);
      const st = await client.domains.getState(running);
      assert.equal(st.stateName, 'running');

      const info = await client.domains.getInfo(running);
      assert.equal(info.stateName, 'running');
      assert.equal(info.maxMemKiB, 65536);
      assert.equal(info.vcpus, 1);
      assert.equal(typeof info.cpuTimeNs, 'bigint');

      const xml = await client.domains.getXmlDesc(running, XmlFlags.INACTIVE);
      assert.ok(xml.includes(`<name>${name}</name>`) && xml.includes(dom.uuidString), xml);

      const active = await client.domains.listAll(ListDomainsFlags.ACTIVE);
      assert.ok(active.some((d) => d.uuidString === dom.uuidString));
      const inactive = await client.domains.listAll(ListDomainsFlags.INACTIVE);
      assert.ok(!inactive.some((d) => d.uuidString === dom.uuidString));

      await client.domains.suspend(running);
      assert.equal((await client.domains.getState(running)).stateName, 'paused');
      await client.domains.resume(running);
      await client.domains.reboot(running);
      await client.domains.shutdown(running);
      assert.equal((await client.domains.getState(running)).stateName, 'shutoff');

      const again = await client.domains.create(dom);
      await client.domains.destroy(again);
      await assert.rejects(client.domains.destroy(again), (e: unknown) => isOperationInvalid(e));

      await client.domains.undefine(dom);
      await assert.rejects(client.domains.lookupByUuid(dom.uuid), (e: unknown) => isNoDomain(e));

      await waitForEvents(
        events,
        (evs) => evs.some((e) => e.event === 'undefined'),
        5_000,
        (e) => `${e.event}/${e.detail}`,
      );
      assert.deepEqual(
        events.map((e) => `${e.event}/${e.detail}`),
        [
          'defined/added',
          'started/booted',
          'suspended/paused',
          'resumed/unpaused',
          'stopped/shutdown',
          'started/booted',
          'stopped/destroyed',
          'undefined/removed',
        ],
      );
      assert.ok(events.every((e) => e.domain.uuidString === dom.uuidString));
    } finally {
      client.events.off('lifecycle', onEvent);
    }
  });

  test('metadata, snapshots, managed save, undefine flags', async () => {
    const name = ktName('td');
    const dom = await client.domains.defineXml(testDomainXml(name));
    created.push(dom);

    await client.domains.setMetadata(dom, MetadataType.DESCRIPTION, 'kestrel test');
    assert.equal(await client.domains.getMetadata(dom, MetadataType.DESCRIPTION), 'kestrel test');
    await client.domains.setMetadata(dom, MetadataType.ELEMENT, '<instance id="42"/>', {
      key: 'kt',
      uri: 'http://kestrel.test/instance',
    });
    assert.match(
      await client.domains.getMetadata(dom, MetadataType.ELEMENT, 'http://kestrel.test/instance'),
      /<instance id="42"\/>/,
    );
    await client.domains.setMetadata(dom, MetadataType.DESCRIPTION, null);
    await assert.rejects(
      client.domains.getMetadata(dom, MetadataType.DESCRIPTION),
      (e: unknown) => e instanceof LibvirtError,
    );

    const snap = await client.domains.snapshotCreateXml(
      dom,
      '<domainsnapshot><name>kt-snap</name></domainsnapshot>',
    );
    assert.equal(snap.name, 'kt-snap');
    assert.equal(snap.domain.uuidString, dom.uuidString);
    assert.equal((await client.domains.snapshotLookupByName(dom, 'kt-snap')).name, 'kt-snap');
    await client.domains.snapshotDelete(snap);
    await assert.rejects(client.domains.snapshotLookupByName(dom, 'kt-snap'), (e: unknown) =>
      isNoSnapshot(e),
    );
    await client.domains.snapshotCreateXml(dom, '<domainsnapshot><name>kt-snap2</name></domainsnapshot>');

    const running = await client.domains.create(dom);
    await client.domains.managedSave(running);
    assert.equal(await client.domains.hasManagedSaveImage(dom), true);
    assert.equal((await client.domains.getState(dom)).stateName, 'shutoff');
    await client.domains.managedSaveRemove(dom);
    assert.equal(await client.domains.hasManagedSaveImage(dom), false);

    // A snapshot is left: plain undefine refuses, the flags make it go.
    await assert.rejects(client.domains.undefine(dom), (e: unknown) => isOperationInvalid(e));
    await client.domains.undefine(dom, UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA);
    await assert.rejects(client.domains.lookupByName(name), (e: unknown) => isNoDomain(e));
  });

  test('block jobs, migration params, job stats and agent command reach the daemon (NO_SUPPORT on the test driver)', async () => {
    const dom = await client.domains.defineXml(testDomainXml(ktName('td')));
    created.push(dom);
    await assertNoSupport(client.domains.getBlockJobInfo(dom, 'vda'), 'block job info');
    await assertNoSupport(
      client.domains.blockCopy(dom, 'vda', "<disk type='file'><source file='/tmp/x'/></disk>", [
        tp.ullong('bandwidth', 1n),
      ]),
      'block copy',
    );
    await assertNoSupport(client.domains.blockJobAbort(dom, 'vda'), 'block job abort');
    await assertNoSupport(
      client.domains.migrateBegin3(dom, { params: { migrate_uri: 'tcp://127.0.0.1:49152' } }),
      'begin3',
    );
    await assertNoSupport(
      client.domains.migratePrepare3({ params: { destination_xml: testDomainXml('x') } }),
      'prepare3',
    );
    await assertNoSupport(
      client.domains.migratePerform3(dom, 'qemu+tcp://dest/system', {
        params: { migrate_uri: 'tcp://dest', migrate_disks: ['vda', 'vdb'], bandwidth: 100 },
        flags: 3,
      }),
      'perform3',
    );
    await assertNoSupport(
      client.domains.migrateFinish3(true, { params: { destination_name: 'x' } }),
      'finish3',
    );
    await assertNoSupport(client.domains.migrateConfirm3(dom, true), 'confirm3');
    await assertNoSupport(client.domains.getJobStats(dom), 'job stats');
    await assertNoSupport(
      client.domains.agentCommand(dom, '{"execute":"guest-ping"}', AgentTimeout.NOWAIT),
      'agent command',
    );
    await assertNoSupport(
      client.secrets.defineXml("<secret ephemeral='yes'><usage type='ceph'><name>x</name></usage></secret>"),
      'secret define',
    );
  });

  test('a missing domain is a typed NO_DOMAIN error', async () => {
    const err = await client.domains.lookupByName(ktName('missing')).catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtError);
    assert.equal(err.code, 42);
    assert.equal(err.codeName, 'NO_DOMAIN');
    assert.equal(err.level, 2);
    assert.match(err.libvirtMessage, /Domain not found/);
    assert.ok(isNoDomain(err));
  });

  test('unsubscribe deregisters the callback: no more events arrive', async () => {
    await client.subscribe('lifecycle');
    const seen: string[] = [];
    const onEvent = (e: LifecycleEvent) => {
      if (e.domain.name.startsWith('kt-rpc-unsub')) seen.push(`${e.domain.name}:${e.event}`);
    };
    client.events.on('lifecycle', onEvent);
    try {
      const first = ktName('unsub');
      await client.domains.undefine(await client.domains.defineXml(testDomainXml(first)));
      const deadline = Date.now() + 5_000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, [`${first}:defined`, `${first}:undefined`]);

      await client.unsubscribe('lifecycle');
      const second = ktName('unsub');
      await client.domains.undefine(await client.domains.defineXml(testDomainXml(second)));
      // A round trip after the changes: any event for them would have been sent before this reply.
      await client.host.getVersion();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(seen, [`${first}:defined`, `${first}:undefined`]);
    } finally {
      client.events.off('lifecycle', onEvent);
    }
  });

  test('pipelined calls all complete', async () => {
    const n = 500;
    const results = await Promise.all(Array.from({ length: n }, () => client.host.getVersion()));
    assert.equal(results.length, n);
    assert.ok(results.every((v) => v === 2));
  });
});
