import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderState } from '../../db/index.js';
import { buildResourceRequest } from './request.js';
import { noValidHostMessage, selectHost } from './select.js';

function provider(
  name: string,
  opts: Partial<{ ram: number; usedRam: number; traits: string[]; sev: number }> = {},
): ProviderState {
  const inv = (total: number, ratio = 1) => ({
    total,
    reserved: 0,
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio: ratio,
  });
  const inventories: ProviderState['inventories'] = {
    VCPU: inv(4, 16),
    MEMORY_MB: inv(opts.ram ?? 4096, 1.5),
    DISK_GB: inv(100),
  };
  if (opts.sev) inventories.MEM_ENCRYPTION_CONTEXT = inv(opts.sev);
  return {
    uuid: name,
    number: 1,
    name,
    generation: 0,
    inventories,
    usages: { MEMORY_MB: opts.usedRam ?? 0 },
    traits: new Set(opts.traits ?? []),
  };
}

const flavor = { vcpus: 1, memoryMb: 512, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} };

test('request: resources, overrides, encrypted memory and traits from flavor and image', () => {
  const r = buildResourceRequest(
    {
      ...flavor,
      extraSpecs: {
        'hw:mem_encryption': 'Yes',
        'trait:HW_CPU_X86_AVX': 'required',
        'resources:DISK_GB': '0',
      },
    },
    { 'trait:COMPUTE_STATUS_DISABLED': 'forbidden' },
  );
  assert.deepEqual(r.resources, { VCPU: 1, MEMORY_MB: 512, MEM_ENCRYPTION_CONTEXT: 1 });
  assert.deepEqual(r.required, ['HW_CPU_X86_AVX']);
  assert.deepEqual(r.forbidden, ['COMPUTE_STATUS_DISABLED']);
  assert.throws(
    () =>
      buildResourceRequest({ ...flavor, extraSpecs: { 'trait:X': 'required' } }, { 'trait:X': 'forbidden' }),
    /both required and forbidden/,
  );
});

test('select: spreads by free RAM and explains every failing host', () => {
  const req = buildResourceRequest({ ...flavor, extraSpecs: { 'trait:HW_CPU_X86_AVX': 'required' } }, {});
  const hosts = [
    provider('a', { traits: ['HW_CPU_X86_AVX'], usedRam: 3000 }),
    provider('b', { traits: ['HW_CPU_X86_AVX'] }),
    provider('c'),
  ];
  const ok = selectHost(hosts, req);
  assert.equal(ok.ok && ok.provider.name, 'b');
  const sev = buildResourceRequest({ ...flavor, extraSpecs: { 'hw:mem_encryption': 'true' } }, {});
  const none = selectHost(
    [provider('a', { sev: 2, usedRam: 6000 }), provider('b'), provider('c', { sev: 1, ram: 8192 })],
    sev,
    {
      disabledHosts: new Set(['c']),
    },
  );
  assert.equal(none.ok, false);
  if (!none.ok) {
    assert.match(none.failures[0].reason, /MEMORY_MB: 512 requested, 144 free of 6144/);
    assert.match(none.failures[1].reason, /no MEM_ENCRYPTION_CONTEXT inventory/);
    assert.match(none.failures[2].reason, /disabled/);
    assert.match(noValidHostMessage(none.failures), /^No valid host was found\. a: /);
  }
});

test('select: a MEMORY_MB request above capacity fails with the numbers', () => {
  const req = buildResourceRequest({ ...flavor, memoryMb: 7000 }, {});
  const r = selectHost([provider('a')], req);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.failures[0].reason, /MEMORY_MB: 7000 requested, at most 4096 per consumer/);
});
