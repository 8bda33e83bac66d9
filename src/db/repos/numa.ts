// NUMA data beside placement: each provider's published NUMA topology and each consumer's
// placement on it (host cells, pinned CPUs, page sizes), kept as JSON text. The shapes belong
// to the scheduler (virt/numa); this repository only stores them. A consumer's placement goes
// with its allocations (PlacementRepo.deleteAllocations removes both).
import type { Db } from './util.js';

export class NumaRepo {
  constructor(private readonly db: Db) {}

  async setTopology(providerUuid: string, topology: unknown): Promise<void> {
    const text = JSON.stringify(topology);
    const updated = await this.db
      .updateTable('provider_numa_topologies')
      .set({ topology: text })
      .where('provider_uuid', '=', providerUuid)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await this.db
        .insertInto('provider_numa_topologies')
        .values({ provider_uuid: providerUuid, topology: text })
        .execute();
    }
  }

  async topology(providerUuid: string): Promise<unknown | undefined> {
    const row = await this.db
      .selectFrom('provider_numa_topologies')
      .select('topology')
      .where('provider_uuid', '=', providerUuid)
      .executeTakeFirst();
    return row ? JSON.parse(row.topology) : undefined;
  }

  async placementsOn(providerUuid: string): Promise<unknown[]> {
    const rows = await this.db
      .selectFrom('numa_placements')
      .select('placement')
      .where('provider_uuid', '=', providerUuid)
      .execute();
    return rows.map((r) => JSON.parse(r.placement));
  }

  async placementOf(consumer: string): Promise<unknown | undefined> {
    const row = await this.db
      .selectFrom('numa_placements')
      .select('placement')
      .where('consumer_uuid', '=', consumer)
      .executeTakeFirst();
    return row ? JSON.parse(row.placement) : undefined;
  }

  async insertPlacement(consumer: string, providerUuid: string, placement: unknown): Promise<void> {
    await this.db
      .insertInto('numa_placements')
      .values({ consumer_uuid: consumer, provider_uuid: providerUuid, placement: JSON.stringify(placement) })
      .execute();
  }

  async deletePlacement(consumer: string): Promise<void> {
    await this.db.deleteFrom('numa_placements').where('consumer_uuid', '=', consumer).execute();
  }
}
