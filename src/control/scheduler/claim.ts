// Claiming: pick a host, then write the allocations in ONE transaction that re-checks the
// provider's capacity and moves its generation forward only if no one else changed it. Two
// concurrent boots can therefore never over-commit a host; the loser re-selects.
import { Repositories } from '../../db/index.js';
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

export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

export async function claimResources(
  repos: Repositories,
  consumer: string,
  req: ResourceRequest,
  opts: { disabledHosts?: ReadonlySet<string>; maxAttempts?: number } = {},
): Promise<Claim> {
  const attempts = opts.maxAttempts ?? 10;
  const hosts = hostStateCache(repos);
  for (let i = 0; i < attempts; i++) {
    const sel = await hosts.select(req, opts);
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
        await tx.placement.insertAllocations(consumer, now.uuid, req.resources);
        if (!(await tx.placement.bumpIf(now.uuid, now.generation)))
          throw new GenerationConflict('generation moved');
        return now;
      });
      hosts.claimed(committed, req.resources);
      return { providerUuid: chosen.uuid, host: chosen.name, resources: req.resources };
    } catch (e) {
      if (!(e instanceof GenerationConflict)) throw e;
      // Someone claimed on this host meanwhile: select again with fresh usage.
    }
  }
  throw new KestrelError(
    'no-valid-host',
    `No valid host was found: the claim lost ${attempts} races in a row to concurrent boots. Fix: retry the request.`,
  );
}
