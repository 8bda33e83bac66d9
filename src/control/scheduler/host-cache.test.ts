import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, Repositories, type Inventory } from '../../db/index.js';
import { KestrelError } from '../../errors/index.js';
import { claimResources } from './claim.js';
import { hostStateCache } from './host-cache.js';
import type { ResourceRequest } from './request.js';

const inv = (total: number): Inventory => ({
  total,
  reserved: 0,
  minUnit: 1,
  maxUnit: total,
  stepSize: 1,
  allocationRatio: 1,
});

async function withDb(fn: (repos: Repositories) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-scheduler-'));
  const db = await openDatabase({ statePath: dir });
  try {
    await fn(new Repositories(db.db));
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function host(repos: Repositories, name: string, ramMb: number, traits: string[] = []) {
  const p = await repos.placement.ensureProvider(name);
  await repos.placement.setInventories(p.uuid, { VCPU: inv(8), MEMORY_MB: inv(ramMb), DISK_GB: inv(100) });
  await repos.placement.setTraits(p.uuid, traits);
  return p.uuid;
}

const req = (ramMb: number, required: string[] = []): ResourceRequest => ({
  resources: { VCPU: 1, MEMORY_MB: ramMb, DISK_GB: 1 },
  required,
  forbidden: [],
});

test('host cache: claims keep the table warm and account their own usage', async () => {
  await withDb(async (repos) => {
    await host(repos, 'a', 1024);
    await host(repos, 'b', 768);
    const cache = hostStateCache(repos);
    // Most free RAM first: a (1024), then b (768 > 1024-512), then a again, then nothing fits.
    assert.equal((await claimResources(repos, 'c1', req(512))).host, 'a');
    assert.equal((await claimResources(repos, 'c2', req(512))).host, 'b');
    assert.equal((await claimResources(repos, 'c3', req(512))).host, 'a');
    assert.equal(cache.reloads, 1, 'own claims must not force a reload');
    await assert.rejects(claimResources(repos, 'c4', req(512)), (e) => e instanceof KestrelError);
    assert.equal(cache.reloads, 1);
  });
});

test('host cache: allocation, inventory and trait changes made elsewhere refresh the table', async () => {
  await withDb(async (repos) => {
    const a = await host(repos, 'a', 1024);
    const cache = hostStateCache(repos);
    await claimResources(repos, 'c1', req(1024));
    await assert.rejects(claimResources(repos, 'c2', req(512)), (e) => e instanceof KestrelError);
    // Freed behind the cache's back (as a delete or the reconciler does): the next decision sees it.
    await repos.placement.deleteAllocations('c1');
    assert.equal((await claimResources(repos, 'c2', req(512))).host, 'a');
    // Changed generations on known providers: only those rows are re-read, not the whole table.
    assert.equal(cache.reloads, 1);
    const refreshes = cache.refreshes;
    assert.equal(refreshes, 1, 'the freed allocation is one row re-read');
    await repos.placement.setTraits(a, ['CUSTOM_FAST']);
    assert.equal((await claimResources(repos, 'c3', req(256, ['CUSTOM_FAST']))).host, 'a');
    assert.equal(cache.refreshes, refreshes + 1);
    assert.equal(cache.reloads, 1);
    await repos.placement.setInventories(a, { VCPU: inv(8), MEMORY_MB: inv(4096), DISK_GB: inv(100) });
    assert.equal((await claimResources(repos, 'c4', req(2048, ['CUSTOM_FAST']))).host, 'a');
    // A new host appears: a full reload, without anyone invalidating by hand.
    await host(repos, 'b', 8192);
    assert.equal((await claimResources(repos, 'c5', req(4096))).host, 'b');
    assert.equal(cache.reloads, 2);
    // The DB agrees with what the cache handed out.
    const usages = Object.fromEntries((await repos.placement.providers()).map((p) => [p.name, p.usages]));
    assert.equal(usages.a.MEMORY_MB, 512 + 256 + 2048);
    assert.equal(usages.b.MEMORY_MB, 4096);
  });
});

test('host cache: concurrent boots share one reload and never over-commit', async () => {
  await withDb(async (repos) => {
    await host(repos, 'a', 2048);
    await host(repos, 'b', 2048);
    const cache = hostStateCache(repos);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => claimResources(repos, `c${i}`, req(512))),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 8);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 2);
    assert.ok(cache.reloads <= 2, `reloads: ${cache.reloads}`);
    for (const p of await repos.placement.providers()) assert.ok(p.usages.MEMORY_MB <= 2048, p.name);
  });
});
