// The SEV slot limit under concurrent boots: the real resource request (flavor + image →
// MEM_ENCRYPTION_CONTEXT:1, the SEV trait when asked) and the real claim code (one SQLite
// transaction per claim with provider generations) against hosts published by the resource
// tracker from driver host statuses with SEV slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, Repositories } from '../../src/db/index.js';
import { buildResourceRequest } from '../../src/control/scheduler/request.js';
import { claimResources, type Claim } from '../../src/control/scheduler/claim.js';
import type { KestrelError } from '../../src/errors/index.js';
import { publishHost, defaultRatios } from '../../src/compute/resources.js';
import { memEncryptionSlots, sevTraits } from '../../src/host/sev.js';
import type { HostStatus } from '../../src/virt/driver.js';

function status(slots: number, traits: string[]): HostStatus {
  return {
    hostname: 'h',
    hypervisorType: 'QEMU',
    hypervisorVersion: 7002000,
    virtType: 'kvm',
    vcpus: 64,
    memoryMb: 262144,
    localDiskGb: 2000,
    cpuInfo: { arch: 'x86_64', model: 'EPYC-Milan', vendor: 'AMD', features: [] },
    traits,
    memEncryptionSlots: slots,
  };
}

const flavor = (extraSpecs: Record<string, string>) => ({
  vcpus: 1,
  memoryMb: 512,
  rootGb: 1,
  ephemeralGb: 0,
  swapMb: 0,
  extraSpecs,
});

test('the request: MEM_ENCRYPTION_CONTEXT:1 from the flavor or the image; the trait only when asked', () => {
  assert.equal(
    buildResourceRequest(flavor({ 'hw:mem_encryption': 'yes' }), {}).resources.MEM_ENCRYPTION_CONTEXT,
    1,
  );
  assert.equal(
    buildResourceRequest(flavor({}), { hw_mem_encryption: 'True' }).resources.MEM_ENCRYPTION_CONTEXT,
    1,
  );
  assert.equal(buildResourceRequest(flavor({}), {}).resources.MEM_ENCRYPTION_CONTEXT, undefined);
  const asked = buildResourceRequest(
    flavor({ 'hw:mem_encryption': '1', 'trait:HW_CPU_X86_AMD_SEV': 'required' }),
    {},
  );
  assert.deepEqual(asked.required, ['HW_CPU_X86_AMD_SEV']);
});

test('20 concurrent SEV boots on 2 SEV hosts (3 + 2 slots) and a host without SEV: exactly 5 claims', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sev-sched-'));
  const db = await openDatabase({ statePath: dir });
  try {
    const repos = new Repositories(db.db);
    // Slots as the driver computes them: the option (3) on one host, libvirt's maxGuests (2) on the other.
    const milan = { supported: true, es: false, caps: { supported: true, maxGuests: 2 } };
    const a = memEncryptionSlots(milan, 3).total;
    const b = memEncryptionSlots(milan, null).total;
    assert.deepEqual([a, b], [2, 2], 'the option cannot raise the hardware limit');
    const optionLower = memEncryptionSlots({ ...milan, caps: { supported: true, maxGuests: 15 } }, 3).total;
    await publishHost(repos, status(optionLower, sevTraits(milan, optionLower)), defaultRatios, 'kt-sev-a');
    await publishHost(repos, status(b, sevTraits(milan, b)), defaultRatios, 'kt-sev-b');
    await publishHost(repos, status(0, []), defaultRatios, 'kt-sev-intel');
    const req = buildResourceRequest(flavor({ 'hw:mem_encryption': 'true' }), {});
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        claimResources(repos, `kt-sev-consumer-${i}`, req, { maxAttempts: 50 }),
      ),
    );
    const won = results
      .filter((r): r is PromiseFulfilledResult<Claim> => r.status === 'fulfilled')
      .map((r) => r.value);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 5, `claims: ${won.map((c) => c.host).join(', ')}`);
    const perHost = (h: string) => won.filter((c) => c.host === h).length;
    assert.equal(perHost('kt-sev-a'), 3);
    assert.equal(perHost('kt-sev-b'), 2);
    assert.equal(perHost('kt-sev-intel'), 0);
    for (const l of lost) {
      assert.match(String((l.reason as Error).message), /No valid host was found/);
    }
    const providers = await repos.placement.providers();
    for (const p of providers) {
      const used = p.usages.MEM_ENCRYPTION_CONTEXT ?? 0;
      const total = p.inventories.MEM_ENCRYPTION_CONTEXT?.total ?? 0;
      assert.ok(used <= total, `${p.name}: ${used} used of ${total}`);
    }
    // Which host lacked what is in the details (admins see them), not in Nova's message.
    const last = lost
      .map((l) => String((l.reason as KestrelError).details))
      .find((m) => m.includes('kt-sev-intel'));
    assert.match(last ?? '', /kt-sev-intel: has no MEM_ENCRYPTION_CONTEXT inventory/);
    assert.match(last ?? '', /kt-sev-a: MEM_ENCRYPTION_CONTEXT: 1 requested, 0 free of 3/);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
