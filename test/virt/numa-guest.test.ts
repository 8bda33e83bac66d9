// Guest NUMA against the real libvirt: the golden NUMA domains pass libvirt's schema, and a
// boot-sector guest with a NUMA cell, a pinned vCPU and strict memory placement is placed on
// this host's real topology (read from libvirt's capabilities), started under TCG, and libvirt's
// live definition carries the pinning. This host has one NUMA cell and no huge pages: the
// two-socket and huge-page placements run on the recorded host in src/virt/numa/numa.test.ts
// and the golden files; no huge-page guest is started here.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/util/run.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { parseHostCells } from '../../src/virt/libvirt/numa-caps.js';
import { applyCpuSets } from '../../src/virt/numa/host.js';
import { fitGuest, usageOf } from '../../src/virt/numa/fit.js';
import { guestNumaRequest } from '../../src/virt/numa/request.js';
import { waitFor } from './driver-conformance.js';
import { FIXTURES } from './fixtures.js';
import { realDriverEnv, type RealEnv } from './libvirt-harness.js';

const GOLDEN = [
  'numa-two-cells-unplaced',
  'numa-pinned-hugepages',
  'numa-mixed-isolate',
  'numa-shared-2mb-pages',
];

describe('guest NUMA on the real libvirt', () => {
  let env: RealEnv & { driver: LibvirtDriver };
  let driver: LibvirtDriver;
  before(async () => {
    env = await realDriverEnv('numa');
    driver = env.driver;
  });
  after(async () => env?.cleanup());

  for (const name of GOLDEN) {
    test(`virt-xml-validate domain: ${name}.xml`, async (t) => {
      if (!existsSync('/usr/bin/virt-xml-validate'))
        return t.skip('virt-xml-validate (libvirt-clients) is not installed');
      const r = await run(['virt-xml-validate', join(FIXTURES, `${name}.xml`), 'domain'], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, `${name}.xml does not validate: ${r.stderr}${r.stdout}`);
    });
  }

  test('a pinned guest placed on this host boots, and libvirt keeps its pinning and memory placement', async () => {
    const cells = parseHostCells(await env.client.host.getCapabilities());
    assert.ok(cells.length >= 1, 'libvirt reports no NUMA cell for this host');
    const cpus = cells.flatMap((c) => c.cpus.map((p) => p.id)).sort((a, b) => a - b);
    const last = cpus[cpus.length - 1];
    // The last CPU is for pinned vCPUs, the others (or the same one on a 1-CPU host) float.
    const host = applyCpuSets(cells, {
      dedicatedSet: String(last),
      sharedSet: cpus.length > 1 ? cpus.filter((c) => c !== last).join(',') : undefined,
    });
    const spec = await env.bootSectorSpec();
    spec.flavor = { ...spec.flavor, extraSpecs: { 'hw:cpu_policy': 'dedicated' } };
    const req = guestNumaRequest(spec.flavor, spec.image.properties);
    assert.ok(req);
    const fit = fitGuest(req, host, usageOf([]));
    assert.ok(fit.ok, fit.ok ? '' : fit.reason);
    spec.numaPlacement = fit.placement;
    await driver.spawn(spec);
    const text = await waitFor('GUEST-BOOTED on the console', 60_000, async () => {
      const c = await driver.consoleOutput(spec.uuid);
      return c.includes('GUEST-BOOTED') ? c : undefined;
    });
    assert.ok(text.includes('GUEST-BOOTED'));
    const live = await env.client.domains.getXmlDesc(await env.client.domains.lookupByUuid(spec.uuid));
    assert.match(live, new RegExp(`<vcpupin vcpu=['"]0['"] cpuset=['"]${last}['"]/>`));
    assert.match(live, /<memory mode=['"]strict['"] nodeset=['"]0['"]\/>/);
    assert.match(live, /<cell id=['"]0['"] cpus=['"]0['"] memory=['"]32768['"] unit=['"]KiB['"]/);
    await driver.destroy(spec.uuid);
  });
});
