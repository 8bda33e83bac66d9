import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatCpuSet, parseCpuSet } from '../../util/cpuset.js';
import { guestNumaRequest, cpuResources, NumaSpecError, type NumaFlavor } from './request.js';
import { applyCpuSets } from './host.js';
import { fitGuest, usageOf, type NumaPlacement } from './fit.js';
import { parseHostCells } from '../libvirt/numa-caps.js';

const twoSocket = parseHostCells(
  readFileSync(new URL('../../../test/fixtures/numa/two-socket-hugepages.xml', import.meta.url), 'utf8'),
);
const flavor = (vcpus: number, memoryMb: number, extraSpecs: Record<string, string> = {}): NumaFlavor => ({
  name: 'f',
  vcpus,
  memoryMb,
  extraSpecs,
});

function refused(fn: () => unknown, property: string, message: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NumaSpecError, `expected NumaSpecError, got ${String(e)}`);
    assert.equal(e.property, property);
    assert.match(e.message, message);
    return true;
  });
}

test('cpu sets: ranges, exclusions, formatting', () => {
  assert.deepEqual(parseCpuSet('0-3,^2,8'), [0, 1, 3, 8]);
  assert.deepEqual(parseCpuSet(' 5 , 1-2 '), [1, 2, 5]);
  assert.equal(formatCpuSet([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
  assert.throws(() => parseCpuSet('a-b'), /not a CPU id or range/);
  assert.throws(() => parseCpuSet('3-1'), /ends before it starts/);
  assert.throws(() => parseCpuSet(''), /names no CPUs/);
});

test('the recorded two-socket host parses into two cells with threads and page pools', () => {
  assert.equal(twoSocket.length, 2);
  assert.equal(twoSocket[0].cpus.length, 8);
  assert.deepEqual(twoSocket[0].cpus.find((c) => c.id === 1)?.siblings, [1, 9]);
  assert.deepEqual(
    twoSocket[0].pages.map((p) => p.sizeKib),
    [4, 2048, 1048576],
  );
  assert.equal(twoSocket[1].memoryMb, 32768);
});

test('no NUMA specs → no topology; numa_nodes splits evenly', () => {
  assert.equal(guestNumaRequest(flavor(4, 4096), {}), undefined);
  const r = guestNumaRequest(flavor(4, 4096, { 'hw:numa_nodes': '2' }), {})!;
  assert.deepEqual(
    r.cells.map((c) => [c.cpus, c.memoryMb]),
    [
      [[0, 1], 2048],
      [[2, 3], 2048],
    ],
  );
  assert.equal(r.cpuPolicy, 'shared');
});

test('explicit cells: every vCPU once, memory adding up', () => {
  const r = guestNumaRequest(
    flavor(3, 3072, {
      'hw:numa_nodes': '2',
      'hw:numa_cpus.0': '0',
      'hw:numa_mem.0': '1024',
      'hw:numa_cpus.1': '1-2',
      'hw:numa_mem.1': '2048',
    }),
    {},
  )!;
  assert.deepEqual(r.cells[1].cpus, [1, 2]);
  refused(
    () =>
      guestNumaRequest(
        flavor(4, 4096, { 'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0-1', 'hw:numa_mem.0': '2048' }),
        {},
      ),
    'hw:numa_cpus.1',
    /every node 0 to 1 needs both/,
  );
  refused(
    () =>
      guestNumaRequest(
        flavor(4, 4096, {
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0-2',
          'hw:numa_mem.0': '2048',
          'hw:numa_cpus.1': '2-3',
          'hw:numa_mem.1': '2048',
        }),
        {},
      ),
    'hw:numa_cpus.1',
    /vCPU 2 is in both NUMA node 0 and node 1/,
  );
  refused(
    () =>
      guestNumaRequest(
        flavor(4, 4096, {
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0-1',
          'hw:numa_mem.0': '1024',
          'hw:numa_cpus.1': '2-3',
          'hw:numa_mem.1': '1024',
        }),
        {},
      ),
    'hw:numa_mem.0',
    /add up to 2048 MB, but the flavor has 4096 MB/,
  );
  refused(
    () => guestNumaRequest(flavor(3, 4096, { 'hw:numa_nodes': '2' }), {}),
    'hw:numa_nodes',
    /cannot be split evenly over 2 NUMA nodes/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:numa_nodes': '0' }), {}),
    'hw:numa_nodes',
    /at least 1/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:numa_nodes': '4' }), {}),
    'hw:numa_nodes',
    /more NUMA nodes than/,
  );
});

test('image may not override the flavor (nodes, CPU policy, page size)', () => {
  refused(
    () => guestNumaRequest(flavor(4, 4096, { 'hw:numa_nodes': '2' }), { hw_numa_nodes: '1' }),
    'hw_numa_nodes',
    /may not override/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:cpu_policy': 'shared' }), { hw_cpu_policy: 'dedicated' }),
    'hw_cpu_policy',
    /cannot override the flavor's CPU policy/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048), { hw_mem_page_size: '2MB' }),
    'hw_mem_page_size',
    /only when the flavor allows large or any/,
  );
  const ok = guestNumaRequest(flavor(2, 2048, { 'hw:mem_page_size': 'large' }), { hw_mem_page_size: '2MB' })!;
  assert.deepEqual(ok.pageSize, { kib: 2048 });
  const img = guestNumaRequest(flavor(2, 2048), { hw_cpu_policy: 'dedicated' })!;
  assert.equal(img.cpuPolicy, 'dedicated');
});

test('pinning: dedicated, mixed mask, thread policy only with pinning', () => {
  const d = guestNumaRequest(flavor(4, 4096, { 'hw:cpu_policy': 'dedicated' }), {})!;
  assert.equal(d.cells.length, 1);
  assert.deepEqual(d.cells[0].dedicatedCpus, [0, 1, 2, 3]);
  assert.deepEqual(cpuResources(flavor(4, 4096), d), { pcpu: 4, vcpu: 0 });
  const m = guestNumaRequest(
    flavor(4, 4096, { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0' }),
    {},
  )!;
  assert.deepEqual(m.cells[0].dedicatedCpus, [1, 2, 3]);
  assert.deepEqual(cpuResources(flavor(4, 4096), m), { pcpu: 3, vcpu: 1 });
  refused(
    () => guestNumaRequest(flavor(4, 4096, { 'hw:cpu_policy': 'mixed' }), {}),
    'hw:cpu_dedicated_mask',
    /needs hw:cpu_dedicated_mask/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '0-1' }), {}),
    'hw:cpu_dedicated_mask',
    /leaves no shared vCPU/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:cpu_thread_policy': 'isolate' }), {}),
    'hw:cpu_thread_policy',
    /applies only to pinned CPUs/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:cpu_policy': 'pinned' }), {}),
    'hw:cpu_policy',
    /not one of shared, dedicated, mixed/,
  );
  refused(
    () => guestNumaRequest(flavor(2, 2048, { 'hw:mem_page_size': '3 bananas' }), {}),
    'hw:mem_page_size',
    /not a page size/,
  );
});

const host = applyCpuSets(twoSocket, { dedicatedSet: '2-7,10-15', sharedSet: '0-1,8-9' });

test('host CPU sets: dedicated → PCPU, shared → VCPU, unknown CPUs refused', () => {
  assert.equal(host.dedicatedCpus.length, 12);
  assert.deepEqual(host.sharedCpus, [0, 1, 8, 9]);
  assert.deepEqual(applyCpuSets(twoSocket, {}).sharedCpus.length, 16);
  assert.deepEqual(applyCpuSets(twoSocket, { dedicatedSet: '0-15' }).sharedCpus, []);
  assert.throws(
    () => applyCpuSets(twoSocket, { dedicatedSet: '0-31' }),
    /names CPUs 16, .* this host does not have/,
  );
  assert.throws(
    () => applyCpuSets(twoSocket, { dedicatedSet: '0-3', sharedSet: '3-4' }),
    /both name CPUs 3;/,
  );
});

test('placement: two cells on two host cells, pins on free dedicated CPUs, 1 GiB pages only where they are', () => {
  const req = guestNumaRequest(
    flavor(4, 2048, { 'hw:numa_nodes': '2', 'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': 'large' }),
    {},
  )!;
  const r = fitGuest(req, host, usageOf([]));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const p = (r as { placement: NumaPlacement }).placement;
  assert.deepEqual(
    p.cells.map((c) => c.hostCell),
    [0, 1],
  );
  // Cell 0 has 1 GiB pages (largest first), cell 1 only 2 MiB ones.
  assert.deepEqual(
    p.cells.map((c) => c.pageSizeKib),
    [1048576, 2048],
  );
  // prefer: whole cores first, both threads of a core.
  assert.deepEqual(Object.values(p.cells[0].pins), [2, 10]);
  assert.deepEqual(p.emulatorCpus, [0, 1, 8, 9]);
});

test('placement: used CPUs and pages are respected, and a refusal names the cell and each host cell', () => {
  // Host cell 0 has 4 dedicated CPUs (2-3, 10-11), host cell 1 has 8.
  const four = guestNumaRequest(flavor(4, 2048, { 'hw:cpu_policy': 'dedicated' }), {})!;
  const placed: NumaPlacement[] = [];
  for (const expected of [0, 1, 1]) {
    const r = fitGuest(four, host, usageOf(placed));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.placement.cells[0].hostCell, expected);
    placed.push(r.placement);
  }
  const full = fitGuest(four, host, usageOf(placed));
  assert.equal(full.ok, false);
  assert.match(
    (full as { reason: string }).reason,
    /^NUMA: guest NUMA cell 0 \(4 pinned vCPUs, 2048 MB\) fits no host cell \(host cell 0: 0 of 4 dedicated CPUs free, 4 needed; host cell 1: 0 of 8 dedicated CPUs free, 4 needed\)$/,
  );
  const pages = guestNumaRequest(flavor(1, 4096, { 'hw:mem_page_size': '1GB' }), {})!;
  const onlyCell0 = fitGuest(pages, host, usageOf([]));
  assert.ok(onlyCell0.ok);
  assert.equal(onlyCell0.placement.cells[0].hostCell, 0);
  const none = fitGuest(
    pages,
    applyCpuSets(twoSocket, { reservedHugePages: [{ node: '0', size: '1GB', count: '1' }] }),
    usageOf([]),
  );
  assert.match(
    (none as { reason: string }).reason,
    /host cell 0: 3 free 1048576 KiB pages; host cell 1: 0 free 1048576 KiB pages\)$/,
  );
});

test('isolate takes whole cores and holds their siblings; no dedicated set is named in the refusal', () => {
  const iso = guestNumaRequest(
    flavor(2, 1024, { 'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate' }),
    {},
  )!;
  const r = fitGuest(iso, host, usageOf([]));
  assert.ok(r.ok);
  const c = (r as { placement: NumaPlacement }).placement.cells[0];
  assert.deepEqual(Object.values(c.pins), [2, 3]);
  assert.deepEqual(c.reservedCpus, [10, 11]);
  const noSet = fitGuest(iso, applyCpuSets(twoSocket, {}), usageOf([]));
  assert.match((noSet as { reason: string }).reason, /0 whole free cores of 2 needed/);
  const pinned = guestNumaRequest(flavor(2, 1024, { 'hw:cpu_policy': 'dedicated' }), {})!;
  assert.match(
    (fitGuest(pinned, applyCpuSets(twoSocket, {}), usageOf([])) as { reason: string }).reason,
    /cpu_dedicated_set is unset/,
  );
});
