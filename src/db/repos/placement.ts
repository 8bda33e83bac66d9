// Placement data: a resource provider per compute host, its inventories (VCPU, MEMORY_MB,
// DISK_GB, MEM_ENCRYPTION_CONTEXT), traits, and the allocations consumers (instances) hold.
// Every change to a provider's allocations bumps its generation (optimistic concurrency:
// a claim that read an older generation fails and retries, on SQLite and PostgreSQL alike).
import { randomUUID } from 'node:crypto';
import { type Db, nextCounter } from './util.js';

export interface Inventory {
  total: number;
  reserved: number;
  minUnit: number;
  maxUnit: number;
  stepSize: number;
  allocationRatio: number;
}

export interface ProviderState {
  uuid: string;
  number: number;
  name: string;
  generation: number;
  inventories: Record<string, Inventory>;
  usages: Record<string, number>;
  traits: Set<string>;
}

export class PlacementRepo {
  constructor(private readonly db: Db) {}

  /** The provider named `name` (a compute host), created on first use. */
  async ensureProvider(name: string): Promise<{ uuid: string; number: number }> {
    const existing = await this.db
      .selectFrom('resource_providers')
      .select(['uuid', 'number'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) return { uuid: existing.uuid, number: Number(existing.number) };
    const row = {
      uuid: randomUUID(),
      number: await nextCounter(this.db, 'resource_provider'),
      name,
      generation: 0,
    };
    await this.db.insertInto('resource_providers').values(row).execute();
    return { uuid: row.uuid, number: row.number };
  }

  /** Replaces the provider's inventories with the given ones. */
  async setInventories(uuid: string, inventories: Record<string, Inventory>): Promise<void> {
    await this.db.deleteFrom('inventories').where('provider_uuid', '=', uuid).execute();
    for (const [rc, inv] of Object.entries(inventories)) {
      await this.db
        .insertInto('inventories')
        .values({
          provider_uuid: uuid,
          resource_class: rc,
          total: inv.total,
          reserved: inv.reserved,
          min_unit: inv.minUnit,
          max_unit: inv.maxUnit,
          step_size: inv.stepSize,
          allocation_ratio: inv.allocationRatio,
        })
        .execute();
    }
    await this.bump(uuid);
  }

  async setTraits(uuid: string, traits: string[]): Promise<void> {
    await this.db.deleteFrom('provider_traits').where('provider_uuid', '=', uuid).execute();
    for (const trait of new Set(traits)) {
      await this.db.insertInto('provider_traits').values({ provider_uuid: uuid, trait }).execute();
    }
    await this.bump(uuid);
  }

  private async bump(uuid: string): Promise<void> {
    await this.db
      .updateTable('resource_providers')
      .set((eb) => ({ generation: eb('generation', '+', 1) }))
      .where('uuid', '=', uuid)
      .execute();
  }

  /** Every provider (or the given ones) with inventories, current usage and traits. */
  async providers(uuids?: string[]): Promise<ProviderState[]> {
    let pq = this.db.selectFrom('resource_providers').selectAll();
    if (uuids) pq = pq.where('uuid', 'in', uuids.length ? uuids : ['']);
    const providers = await pq.orderBy('number').execute();
    const ids = providers.map((p) => p.uuid);
    if (ids.length === 0) return [];
    const [invs, usages, traits] = await Promise.all([
      this.db.selectFrom('inventories').selectAll().where('provider_uuid', 'in', ids).execute(),
      this.db
        .selectFrom('allocations')
        .select(['provider_uuid', 'resource_class', (eb) => eb.fn.sum<number>('used').as('used')])
        .where('provider_uuid', 'in', ids)
        .groupBy(['provider_uuid', 'resource_class'])
        .execute(),
      this.db.selectFrom('provider_traits').selectAll().where('provider_uuid', 'in', ids).execute(),
    ]);
    const byId = new Map<string, ProviderState>();
    for (const p of providers) {
      byId.set(p.uuid, {
        uuid: p.uuid,
        number: Number(p.number),
        name: p.name,
        generation: Number(p.generation),
        inventories: {},
        usages: {},
        traits: new Set(),
      });
    }
    for (const i of invs) {
      byId.get(i.provider_uuid)!.inventories[i.resource_class] = {
        total: Number(i.total),
        reserved: Number(i.reserved),
        minUnit: Number(i.min_unit),
        maxUnit: Number(i.max_unit),
        stepSize: Number(i.step_size),
        allocationRatio: Number(i.allocation_ratio),
      };
    }
    for (const u of usages) byId.get(u.provider_uuid)!.usages[u.resource_class] = Number(u.used);
    for (const t of traits) byId.get(t.provider_uuid)!.traits.add(t.trait);
    return [...byId.values()];
  }

  async insertAllocations(
    consumer: string,
    provider: string,
    resources: Record<string, number>,
  ): Promise<void> {
    for (const [rc, used] of Object.entries(resources)) {
      if (used <= 0) continue;
      await this.db
        .insertInto('allocations')
        .values({ consumer_uuid: consumer, provider_uuid: provider, resource_class: rc, used })
        .execute();
    }
  }

  /** Bumps the generation only if it is still `expected`; false means someone else claimed first. */
  async bumpIf(uuid: string, expected: number): Promise<boolean> {
    const r = await this.db
      .updateTable('resource_providers')
      .set({ generation: expected + 1 })
      .where('uuid', '=', uuid)
      .where('generation', '=', expected)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async allocationsOf(
    consumer: string,
  ): Promise<{ provider: string; resourceClass: string; used: number }[]> {
    const rows = await this.db
      .selectFrom('allocations')
      .selectAll()
      .where('consumer_uuid', '=', consumer)
      .execute();
    return rows.map((r) => ({
      provider: r.provider_uuid,
      resourceClass: r.resource_class,
      used: Number(r.used),
    }));
  }

  async deleteAllocations(consumer: string): Promise<void> {
    const providers = new Set((await this.allocationsOf(consumer)).map((a) => a.provider));
    await this.db.deleteFrom('allocations').where('consumer_uuid', '=', consumer).execute();
    // A NUMA guest's pinned CPUs and pages are part of what it holds (db/repos/numa.ts).
    await this.db.deleteFrom('numa_placements').where('consumer_uuid', '=', consumer).execute();
    for (const p of providers) await this.bump(p);
  }

  /** Consumers holding allocations on a provider (for reconciliation). */
  async consumersOn(provider: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('allocations')
      .select('consumer_uuid')
      .distinct()
      .where('provider_uuid', '=', provider)
      .execute();
    return rows.map((r) => r.consumer_uuid);
  }
}
