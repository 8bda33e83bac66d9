// Guest NUMA through the Compute API with the fake hypervisor reporting a recorded two-socket
// host (two cells: cell 0 with 4 dedicated CPUs, cell 1 with 8): extra specs and image
// properties refused with the property named, PCPU claimed for pinned vCPUs, guests placed on
// host cells in the claim (the domain carries the pinning), a guest that fits no cell fails
// with "No valid host" naming each host cell, and deleting a guest gives its pinned CPUs back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { parseHostCells } from '../../src/virt/libvirt/numa-caps.js';
import { startHarness, uploadImage, type Harness } from './harness.js';

const cells = parseHostCells(
  readFileSync(new URL('../fixtures/numa/two-socket-hugepages.xml', import.meta.url), 'utf8'),
);

describe('guest NUMA through the Compute API (recorded two-socket host)', () => {
  let h: Harness;
  let image: string;
  before(async () => {
    h = await startHarness({
      driver: new FakeDriver({ bootMessage: 'GUEST-BOOTED', numaCells: cells }),
      tempPrefix: 'kt-numa-api-',
      cpuSets: { dedicatedSet: '2-7,10-15', sharedSet: '0-1,8-9' },
    });
    image = await uploadImage(h, h.admin, 'numa-img', undefined, { visibility: 'public' });
  });
  after(async () => h?.close());

  async function flavor(id: string, vcpus: number, ram: number, specs: Record<string, string>) {
    const f = await h.call('compute', 'POST', '/v2.1/flavors', {
      token: h.admin,
      body: { flavor: { name: `kt.numa.${id}`, ram, vcpus, disk: 1, id } },
    });
    assert.equal(f.status, 200, f.text);
    const s = await h.call('compute', 'POST', `/v2.1/flavors/${id}/os-extra_specs`, {
      token: h.admin,
      body: { extra_specs: specs },
    });
    assert.equal(s.status, 200, s.text);
  }
  async function boot(name: string, flavorRef: string, imageRef = image) {
    return h.call('compute', 'POST', '/v2.1/servers', {
      token: h.admin,
      body: { server: { name, imageRef, flavorRef } },
    });
  }

  test('extra spec values are checked when the flavor is written', async () => {
    await flavor('8101', 2, 1024, {});
    for (const [key, value, why] of [
      ['hw:numa_nodes', 'two', /hw:numa_nodes=two: must be a whole number/],
      ['hw:mem_page_size', 'huge', /hw:mem_page_size=huge: must be small, large, any/],
      ['hw:numa_cpus.0', '0-x', /hw:numa_cpus.0=0-x: must be a CPU set/],
      ['hw:numa_mem.x', '512', /the node number after the dot/],
    ] as const) {
      const r = await h.call('compute', 'POST', '/v2.1/flavors/8101/os-extra_specs', {
        token: h.admin,
        body: { extra_specs: { [key]: value } },
      });
      assert.equal(r.status, 400, `${key}=${value}: ${r.text}`);
      assert.match(r.text, why);
    }
  });

  test('a request whose flavor and image disagree is a 400 naming the property', async () => {
    await flavor('8102', 3, 3072, { 'hw:numa_nodes': '2' });
    const r = await boot('kt-uneven', '8102');
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /3 vCPUs and 3072 MB cannot be split evenly over 2 NUMA nodes/);
    const img = await uploadImage(h, h.admin, 'numa-pages', undefined, { hw_mem_page_size: '2MB' });
    await flavor('8103', 1, 1024, {});
    const p = await boot('kt-pages', '8103', img);
    assert.equal(p.status, 400, p.text);
    assert.match(p.text, /hw_mem_page_size=2MB is not allowed/);
  });

  test('pinned guests are placed on host cells; the one that fits no cell names each cell; delete frees the CPUs', async () => {
    await flavor('8104', 6, 2048, { 'hw:cpu_policy': 'dedicated' });
    const a = await boot('kt-pin-a', '8104');
    assert.equal(a.status, 202, a.text);
    const aid = (a.body as { server: { id: string } }).server.id;
    await h.waitFor(h.admin, aid, (s) => s.status === 'ACTIVE');
    // Host cell 0 has only 4 dedicated CPUs: six pinned vCPUs go to cell 1 (CPUs 4-7, 12-15).
    const dom = h.driver.definedDomain(aid)!;
    const pins = dom.cputune!.vcpupins.map((p) => Number(p.cpuset));
    assert.equal(pins.length, 6);
    assert.ok(
      pins.every((c) => [4, 5, 6, 7, 12, 13, 14, 15].includes(c)),
      `pins on cell 1: ${pins.join(',')}`,
    );
    assert.equal(new Set(pins).size, 6, 'each vCPU on its own host CPU');
    assert.equal(dom.numatune?.memory.nodeset, '1');
    const alloc = await h.core.repos.placement.allocationsOf(aid);
    assert.deepEqual(
      alloc
        .filter((x) => x.resourceClass === 'PCPU' || x.resourceClass === 'VCPU')
        .map((x) => [x.resourceClass, x.used]),
      [['PCPU', 6]],
    );

    // 6 PCPU are still free in all, but no single cell has six: the NUMA check says so.
    const b = await boot('kt-pin-b', '8104');
    const bid = (b.body as { server: { id: string } }).server.id;
    const failed = await h.waitFor(h.admin, bid, (s) => s.status === 'ERROR');
    assert.match(
      (failed.fault as { details: string }).details,
      /No valid host was found\. kt-node1: NUMA: guest NUMA cell 0 \(6 pinned vCPUs, 2048 MB\) fits no host cell \(host cell 0: 4 of 4 dedicated CPUs free, 6 needed; host cell 1: 2 of 8 dedicated CPUs free, 6 needed\)/,
    );
    assert.deepEqual(await h.core.repos.placement.allocationsOf(bid), []);

    await h.call('compute', 'DELETE', `/v2.1/servers/${bid}`, { token: h.admin });
    await h.call('compute', 'DELETE', `/v2.1/servers/${aid}`, { token: h.admin });
    const end = Date.now() + 10_000;
    while ((await h.core.repos.numa.placementOf(aid)) !== undefined) {
      assert.ok(Date.now() < end, 'the deleted guest still holds its NUMA placement');
      await new Promise((r) => setTimeout(r, 20));
    }
    const c = await boot('kt-pin-c', '8104');
    const cid = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.admin, cid, (s) => s.status === 'ACTIVE');
    await h.call('compute', 'DELETE', `/v2.1/servers/${cid}`, { token: h.admin });
  });

  test('the host publishes PCPU for the dedicated set and VCPU for the shared set', async () => {
    const [p] = await h.core.repos.placement.providers();
    assert.equal(p.inventories.PCPU.total, 12);
    assert.equal(p.inventories.VCPU.total, 4);
  });
});
