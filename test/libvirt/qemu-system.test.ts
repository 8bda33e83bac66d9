// The client against the real libvirtd on qemu:///system with a boot-sector TCG guest: define,
// start, lifecycle events in libvirt's order, state, XML, agent command without an agent, destroy,
// undefine; plus the host calls only the QEMU driver has (domain capabilities, hypervisor CPU),
// secrets, and storage volume upload/download streams. Everything made here is named kt-rpc-*.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  LibvirtClient,
  CpuCompareResult,
  DomainRef,
  DomainState,
  SecretUsageType,
  UndefineFlags,
  isAgentUnresponsive,
  isNoDomain,
  isNoSecret,
  tp,
  type BlockJobEvent,
  type LifecycleEvent,
  type StoragePoolRef,
} from '../../src/libvirt/index.js';
import { bootSectorDomainXml, makeGuestDir, writeDisk } from './boot-sector.js';
import { daemonSkipReason, ktName, waitForEvents } from './helpers.js';

const skip = daemonSkipReason();

describe('libvirt client on qemu:///system', { skip: skip ?? false }, () => {
  let client: LibvirtClient;
  let dir: string;
  const domains: DomainRef[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    client = await LibvirtClient.connect({ uri: 'qemu:///system' });
    dir = makeGuestDir('kt-rpc');
  });

  after(async () => {
    for (const d of domains) {
      await client.domains.destroy(d).catch(() => undefined);
      await client.domains
        .undefine(d, UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA)
        .catch(() => undefined);
    }
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('host: QEMU version, domain capabilities, hypervisor CPU compare and baseline', async () => {
    assert.equal(await client.host.getType(), 'QEMU');
    assert.ok((await client.host.getVersion()) >= 2_000_000);
    const domcaps = await client.host.getDomainCapabilities({ arch: 'x86_64', virttype: 'qemu' });
    assert.match(domcaps, /<domainCapabilities>[\s\S]*<domain>qemu<\/domain>/);
    const cpu = "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>";
    const cmp = await client.host.compareHypervisorCpu(cpu, { arch: 'x86_64', virttype: 'qemu' });
    assert.ok(
      cmp === CpuCompareResult.IDENTICAL || cmp === CpuCompareResult.SUPERSET,
      `compare result ${cmp}`,
    );
    const baseline = await client.host.baselineHypervisorCpu([cpu], { arch: 'x86_64', virttype: 'qemu' });
    assert.match(baseline, /<cpu[\s\S]*<model[^>]*>qemu64<\/model>/);
    assert.ok((await client.host.getCpuModelNames('x86_64')).includes('qemu64'));
    const expanded = await client.host.baselineCpu(
      ['<cpu><arch>x86_64</arch><model>Westmere</model></cpu>'],
      1,
    );
    assert.match(expanded, /<model[^>]*>Westmere<\/model>[\s\S]*<feature [^>]*name='aes'/);
    const hostCmp = await client.host.compareCpu(cpu);
    assert.ok(
      Object.values(CpuCompareResult).includes(hostCmp as -1 | 0 | 1 | 2),
      `compareCpu result ${hostCmp}`,
    );
  });

  test('boot-sector guest: define, start, events in order, state, XML, agent, destroy, undefine', async () => {
    await client.subscribe('lifecycle');
    await client.subscribe('agent-lifecycle');
    const name = ktName('qemu');
    const log = join(dir, `${name}.log`);
    const events: LifecycleEvent[] = [];
    const onEvent = (e: LifecycleEvent) => {
      if (e.domain.name === name) events.push(e);
    };
    client.events.on('lifecycle', onEvent);
    const describeEv = (e: LifecycleEvent) => `${e.event}/${e.detail}`;
    try {
      const dom = await client.domains.defineXml(bootSectorDomainXml(name, writeDisk(dir, name), log));
      domains.push(dom);
      assert.equal((await client.domains.getState(dom)).state, DomainState.SHUTOFF);

      const running = await client.domains.create(dom);
      assert.ok(running.id > 0);
      assert.equal((await client.domains.getState(running)).stateName, 'running');
      const info = await client.domains.getInfo(running);
      assert.equal(info.maxMemKiB, 16 * 1024);
      assert.equal(info.vcpus, 1);

      const xml = await client.domains.getXmlDesc(running);
      assert.ok(xml.includes(`<name>${name}</name>`) && xml.includes(dom.uuidString));
      assert.match(xml, /<domain type='qemu' id='\d+'>/);

      // The guest really runs: it prints to its serial port.
      const deadline = Date.now() + 30_000;
      while (!safeRead(log).includes('GUEST-BOOTED') && Date.now() < deadline) await sleep(100);
      assert.ok(safeRead(log).includes('GUEST-BOOTED'), `serial log: ${JSON.stringify(safeRead(log))}`);

      // No agent channel: the QEMU program call reaches libvirt and fails as "agent unresponsive".
      const agentErr = await client.domains
        .agentCommand(running, '{"execute":"guest-ping"}', 1)
        .catch((e: unknown) => e);
      assert.ok(isAgentUnresponsive(agentErr), `expected an agent error, got ${String(agentErr)}`);

      assert.equal(await client.domains.getBlockJobInfo(running, 'hda'), null, 'no block job');
      const stats = await client.domains.getJobStats(running);
      assert.equal(stats.type, 0, 'no job');

      await client.domains.destroy(running);
      assert.equal((await client.domains.getState(dom)).stateName, 'shutoff');
      await client.domains.undefine(dom);
      await assert.rejects(client.domains.lookupByUuid(dom.uuid), (e: unknown) => isNoDomain(e));

      await waitForEvents(events, (evs) => evs.some((e) => e.event === 'undefined'), 10_000, describeEv);
      // host-lab.md §8: libvirt emits "Resumed" before "Started" on every start, and a destroy
      // reports "Shutdown (finished after host request)" before "Stopped destroyed".
      assert.deepEqual(events.map(describeEv), [
        'defined/added',
        'resumed/unpaused',
        'started/booted',
        'shutdown/host',
        'stopped/destroyed',
        'undefined/removed',
      ]);
    } finally {
      client.events.off('lifecycle', onEvent);
    }
  });

  test('block copy with typed params: job info, BLOCK_JOB_2 events, abort', async () => {
    await client.subscribe('block-job');
    const name = ktName('copy');
    const jobs: BlockJobEvent[] = [];
    const onJob = (e: BlockJobEvent) => {
      if (e.domain.name === name) jobs.push(e);
    };
    client.events.on('block-job', onJob);
    try {
      // Transient: a block copy of a persistent domain needs the TRANSIENT_JOB flag.
      const dom = await client.domains.createXml(
        bootSectorDomainXml(name, writeDisk(dir, name), join(dir, `${name}.log`)),
      );
      domains.push(dom);
      const dest = join(dir, `${name}-copy.img`);
      await client.domains.blockCopy(
        dom,
        'hda',
        `<disk type='file'><driver type='raw'/><source file='${dest}'/></disk>`,
        [tp.ullong('bandwidth', 64n * 1024n * 1024n), tp.uint('granularity', 65536)],
      );
      await waitForEvents(
        jobs,
        (evs) => evs.some((e) => e.status === 'ready'),
        30_000,
        (e) => `${e.type}/${e.status}`,
      );
      const ready = jobs.find((e) => e.status === 'ready')!;
      assert.equal(ready.disk, 'hda');
      assert.equal(ready.type, 'copy');
      const info = await client.domains.getBlockJobInfo(dom, 'hda');
      assert.ok(info, 'a block job is running');
      assert.equal(info.type, 2); // VIR_DOMAIN_BLOCK_JOB_TYPE_COPY
      assert.equal(info.cur, info.end);
      await client.domains.blockJobAbort(dom, 'hda');
      await waitForEvents(
        jobs,
        (evs) => evs.length >= 2,
        30_000,
        (e) => `${e.type}/${e.status}`,
      );
      assert.equal(await client.domains.getBlockJobInfo(dom, 'hda'), null);
      assert.ok(
        readFileSync(dest).equals(readFileSync(join(dir, `disk-${name}.img`))),
        'the copy holds the boot sector',
      );
      await client.domains.destroy(dom);
    } finally {
      client.events.off('block-job', onJob);
    }
  });

  test('secrets: define, set value, get value, lookup by UUID and usage, undefine', async () => {
    const usage = ktName('secret');
    const secret = await client.secrets.defineXml(
      `<secret ephemeral='yes' private='no'><description>kestrel rpc test</description><usage type='ceph'><name>${usage}</name></usage></secret>`,
    );
    cleanups.push(() => client.secrets.undefine(secret));
    assert.equal(secret.usageType, SecretUsageType.CEPH);
    assert.equal(secret.usageId, usage);
    const value = randomBytes(32);
    await client.secrets.setValue(secret, value);
    assert.deepEqual(await client.secrets.getValue(secret), value);
    assert.equal((await client.secrets.lookupByUuid(secret.uuidString)).usageId, usage);
    assert.equal(
      (await client.secrets.lookupByUsage(SecretUsageType.CEPH, usage)).uuidString,
      secret.uuidString,
    );
    await client.secrets.undefine(secret);
    await assert.rejects(client.secrets.lookupByUuid(secret.uuid), (e: unknown) => isNoSecret(e));
  });

  test('storage volume upload and download streams are byte-identical', async () => {
    const poolName = ktName('pool');
    const poolDir = join(dir, poolName);
    const pool: StoragePoolRef = await client.storage.poolCreateXml(
      `<pool type='dir'><name>${poolName}</name><target><path>${poolDir}</path></target></pool>`,
      1, // VIR_STORAGE_POOL_CREATE_WITH_BUILD: make the directory
    );
    cleanups.push(() => client.storage.poolDestroy(pool));
    const size = 3 * 1024 * 1024 + 12345; // several stream chunks and a ragged tail
    const vol = await client.storage.volCreateXml(
      pool,
      `<volume><name>kt.raw</name><capacity unit='bytes'>${size}</capacity><target><format type='raw'/></target></volume>`,
    );
    cleanups.push(() => client.storage.volDelete(vol));
    const data = randomBytes(size);
    const up = await client.storage.volUpload(vol, data);
    assert.equal(up.bytes, size);
    const parts: Buffer[] = [];
    for await (const chunk of client.storage.volDownload(vol)) parts.push(chunk);
    const back = Buffer.concat(parts);
    assert.equal(back.length, size);
    assert.ok(back.equals(data), 'downloaded bytes differ from the uploaded ones');
    assert.equal((await client.storage.volGetInfo(vol)).capacity, BigInt(size));
    // Stopping a download early aborts the stream; the connection stays usable.
    for await (const chunk of client.storage.volDownload(vol)) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.ok((await client.host.getLibVersion()) > 0);
    let again = 0;
    for await (const chunk of client.storage.volDownload(vol, { offset: 1000n, length: 5000n }))
      again += chunk.length;
    assert.equal(again, 5000);
  });
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
