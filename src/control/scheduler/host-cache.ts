// The scheduler's in-memory host state: the HostTable built from every provider, kept
// between decisions instead of reloading 10,000 providers and rebuilding the table per boot.
//
// The database stays the source of truth. Before each decision one aggregate query reads the
// providers' signature (count, sum of generations, highest provider number): every inventory,
// trait or allocation change bumps a provider's generation (db/repos/placement.ts), so any
// change — from this process or another sharing the database — changes the signature and the
// table is reloaded. Between that check and the claim, the claim's generation-checked
// transaction (claim.ts) still catches a concurrent change, and the loser re-selects.
import { sql } from 'kysely';
import type { ProviderState, Repositories } from '../../db/index.js';
import type { ResourceRequest } from './request.js';
import { HostTable, selectHost, type Selection, type SelectOptions } from './select.js';

interface Signature {
  count: number;
  generations: number;
  maxNumber: number;
}

const sameSignature = (a: Signature, b: Signature) =>
  a.count === b.count && a.generations === b.generations && a.maxNumber === b.maxNumber;

export class HostStateCache {
  private table?: HostTable;
  private signature?: Signature;
  private loading?: Promise<HostTable>;
  /** Full reloads and partial refreshes so far (for tests and the benchmark). */
  reloads = 0;
  refreshes = 0;

  constructor(private readonly repos: Repositories) {}

  /** The current host table: the cached one when the providers' signature has not moved. */
  async current(): Promise<HostTable> {
    const sig = await this.readSignature();
    if (this.table && this.signature && sameSignature(sig, this.signature)) return this.table;
    // One reload at a time: 20 concurrent boots share it instead of loading 20 times.
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    return this.loading;
  }

  async select(req: ResourceRequest, opts: SelectOptions = {}): Promise<Selection> {
    return selectHost(await this.current(), req, opts);
  }

  /**
   * Records a committed claim: `committed` is the provider as the claim's transaction read it,
   * before adding `resources`; its generation moved one forward. Keeps the table warm for the
   * next boot without a reload (any other change still shows in the signature).
   */
  claimed(committed: ProviderState, resources: Record<string, number>): void {
    const table = this.table;
    const sig = this.signature;
    if (!table || !sig) return;
    const i = table.indexOf(committed.uuid);
    if (i < 0) return;
    const usages = { ...committed.usages };
    for (const rc in resources) if (resources[rc] > 0) usages[rc] = (usages[rc] ?? 0) + resources[rc];
    const before = table.providers[i].generation;
    const after = committed.generation + 1;
    table.update(i, { ...committed, usages, generation: after });
    sig.generations += after - before;
  }

  /** Drops the table (the next decision reloads). */
  invalidate(): void {
    this.table = undefined;
    this.signature = undefined;
  }

  /**
   * Brings the table up to date. When the same providers exist and only some generations
   * moved (a delete freed an allocation, a host republished its inventory), only those rows
   * are re-read: loading 10,000 providers takes about a second, one provider a millisecond.
   */
  private async refresh(): Promise<HostTable> {
    const table = this.table;
    if (!table) return this.reload();
    const sig = await this.readSignature(); // first, for the same reason as in reload()
    const gens = await sql<{ uuid: string; generation: number | string }>`
      SELECT "uuid", "generation" FROM "resource_providers"`.execute(this.repos.db);
    if (gens.rows.length !== table.size) return this.reload();
    const changed: string[] = [];
    for (const { uuid, generation } of gens.rows) {
      const i = table.indexOf(uuid);
      if (i < 0) return this.reload(); // a provider replaced by another
      if (table.providers[i].generation !== Number(generation)) changed.push(uuid);
    }
    if (changed.length > Math.max(64, table.size / 10)) return this.reload();
    for (const p of await this.repos.placement.providers(changed)) {
      const i = table.indexOf(p.uuid);
      if (i < 0) return this.reload();
      table.update(i, p);
    }
    this.refreshes++;
    this.signature = sig;
    return table;
  }

  private async reload(): Promise<HostTable> {
    // Signature first: a change landing during the load makes the next check reload again
    // rather than leaving a newer table labelled with an older signature unnoticed.
    const sig = await this.readSignature();
    const table = new HostTable(await this.repos.placement.providers());
    this.reloads++;
    this.table = table;
    this.signature = sig;
    return table;
  }

  private async readSignature(): Promise<Signature> {
    // A read of placement's own table; cheap (one aggregate row) on SQLite and PostgreSQL.
    const r = await sql<{ n: number | string; g: number | string | null; m: number | string | null }>`
      SELECT count(*) AS n, sum("generation") AS g, max("number") AS m FROM "resource_providers"`.execute(
      this.repos.db,
    );
    const row = r.rows[0];
    return { count: Number(row.n), generations: Number(row.g ?? 0), maxNumber: Number(row.m ?? 0) };
  }
}

// One cache per database handle, so every caller of claimResources shares it.
const caches = new WeakMap<object, HostStateCache>();

export function hostStateCache(repos: Repositories): HostStateCache {
  let c = caches.get(repos.db);
  if (!c) caches.set(repos.db, (c = new HostStateCache(repos)));
  return c;
}
