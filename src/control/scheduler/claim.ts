// Claiming: pick a host, then write the allocations in ONE transaction that re-checks the
// provider's capacity and moves its generation forward only if no one else changed it. Two
// concurrent boots can therefore never over-commit a host; the loser re-selects. A guest that
// asks for NUMA cells is placed on the host's cells in the same transaction (pinned CPUs and
// pages are held with the allocations); a host whose cells cannot take it is passed over with
// the reason, so "No valid host" names the cell that did not fit.
import { Repositories, type ProviderState } from '../../db/index.js';
import type { HostNumaTopology } from '../../virt/numa/host.js';
import { fitGuest, usageOf, type NumaPlacement } from '../../virt/numa/fit.js';
import { KestrelError } from '../../errors/index.js';
import type { ResourceRequest } from './request.js';
import { firstFailure, noValidHostMessage } from './select.js';
import { hostStateCache } from './host-cache.js';

export interface Claim {
  providerUuid: string;
  host: string;
  resources: Record<string, number>;
}

class GenerationConflict extends Error {}
class NumaMisfit extends Error {}

/** Places the request's NUMA cells on the provider's, given what its other guests hold. */
async function placeNuma(
  tx: Repositories,
  provider: ProviderState,
  req: ResourceRequest,
): Promise<NumaPlacement> {
  const topology = (await tx.numa.topology(provider.uuid)) as HostNumaTopology | undefined;
  if (!topology) throw new NumaMisfit('NUMA: the host has published no NUMA topology');
  const held = (await tx.numa.placementsOn(provider.uuid)) as NumaPlacement[];
  const fit = fitGuest(req.numa!, topology, usageOf(held), {
    ramAllocationRatio: provider.inventories.MEMORY_MB?.allocationRatio ?? 1,
  });
  if (!fit.ok) throw new NumaMisfit(fit.reason);
  return fit.placement;
}

export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

export async function claimResources(
  repos: Repositories,
  consumer: string,
  req: ResourceRequest,
  opts: {
    disabledHosts?: ReadonlySet<string>;
    maxAttempts?: number;
    /** Hosts not to use, with why (down ones: no recent heartbeat). */
    unavailable?: ReadonlyMap<string, string>;
  } = {},
): Promise<Claim> {
  const attempts = opts.maxAttempts ?? 10;
  const hosts = hostStateCache(repos);
  const excluded = new Map<string, string>(opts.unavailable ?? []);
  for (let i = 0; i < attempts;) {
    const sel = await hosts.select(req, { ...opts, excluded });
    if (!sel.ok) {
      // Nova's message for members; which host lacked what (names, capacities) is for admins.
      throw new KestrelError('no-valid-host', NO_VALID_HOST, { details: noValidHostMessage(sel.failures) });
    }
    const chosen = sel.provider;
    try {
      const committed = await repos.transaction(async (tx) => {
        const [now] = await tx.placement.providers([chosen.uuid]);
        const why = now ? firstFailure(now, req, opts.disabledHosts) : 'the host went away';
        if (why !== undefined) throw new GenerationConflict(why);
        if (req.numa) await tx.numa.insertPlacement(consumer, now.uuid, await placeNuma(tx, now, req));
        await tx.placement.insertAllocations(consumer, now.uuid, req.resources);
        if (!(await tx.placement.bumpIf(now.uuid, now.generation)))
          throw new GenerationConflict('generation moved');
        return now;
      });
      hosts.claimed(committed, req.resources);
      return { providerUuid: chosen.uuid, host: chosen.name, resources: req.resources };
    } catch (e) {
      if (e instanceof NumaMisfit) {
        excluded.set(chosen.name, e.message);
        continue;
      }
      if (!(e instanceof GenerationConflict)) throw e;
      i++;
      // Someone claimed on this host meanwhile: select again with fresh usage.
    }
  }
  throw new KestrelError(
    'no-valid-host',
    `No valid host was found: the claim lost ${attempts} races in a row to concurrent boots. Fix: retry the request.`,
  );
}
