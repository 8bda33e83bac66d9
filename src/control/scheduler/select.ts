// Choosing a host: filter every provider by traits and capacity, then weigh (most free RAM
// first, Nova's default spread). A host that fails says which constraint failed first, so
// "No valid host" explains itself.
import type { Inventory, ProviderState } from '../../db/index.js';
import type { ResourceRequest } from './request.js';

export interface HostFailure {
  host: string;
  reason: string;
}

export type Selection = { ok: true; provider: ProviderState } | { ok: false; failures: HostFailure[] };

/** Capacity placement offers for a resource: (total − reserved) × allocation_ratio. */
export function capacityOf(inv: Inventory): number {
  return Math.floor((inv.total - inv.reserved) * inv.allocationRatio);
}

/** Why this provider cannot take the request, or undefined when it can. */
export function firstFailure(
  p: ProviderState,
  req: ResourceRequest,
  disabled?: ReadonlySet<string>,
): string | undefined {
  if (disabled?.has(p.name)) return 'the compute service on this host is disabled';
  for (const t of req.required) {
    if (!p.traits.has(t)) return `lacks required trait ${t}`;
  }
  for (const t of req.forbidden) {
    if (p.traits.has(t)) return `has forbidden trait ${t}`;
  }
  for (const rc in req.resources) {
    const amount = req.resources[rc];
    const inv = p.inventories[rc];
    if (!inv) return `has no ${rc} inventory`;
    if (amount > inv.maxUnit) return `${rc}: ${amount} requested, at most ${inv.maxUnit} per consumer`;
    if (amount < inv.minUnit) return `${rc}: ${amount} requested, at least ${inv.minUnit} per consumer`;
    const cap = capacityOf(inv);
    const used = p.usages[rc] ?? 0;
    if (used + amount > cap) {
      return `${rc}: ${amount} requested, ${Math.max(0, cap - used)} free of ${cap} (total ${inv.total}, reserved ${inv.reserved}, allocation ratio ${inv.allocationRatio})`;
    }
  }
  return undefined;
}

/**
 * Host state in columns (typed arrays per resource class, a byte per trait per host), built
 * once per load of the providers: a decision then reads a few numbers per host instead of
 * walking objects, which keeps one decision over 10,000 hosts well under a millisecond.
 */
export class HostTable {
  readonly size: number;
  private readonly free = new Map<string, Float64Array>();
  private readonly minUnit = new Map<string, Float64Array>();
  private readonly maxUnit = new Map<string, Float64Array>();
  private readonly traitCols = new Map<string, Uint8Array>();
  private freeRam: Float64Array;
  private readonly rows: ProviderState[];
  private byUuid?: Map<string, number>;

  constructor(providers: readonly ProviderState[]) {
    this.rows = [...providers];
    const n = (this.size = providers.length);
    for (let i = 0; i < n; i++) this.fill(i);
    this.freeRam = this.free.get('MEMORY_MB') ?? new Float64Array(n);
  }

  get providers(): readonly ProviderState[] {
    return this.rows;
  }

  indexOf(uuid: string): number {
    if (!this.byUuid) this.byUuid = new Map(this.rows.map((p, i) => [p.uuid, i]));
    return this.byUuid.get(uuid) ?? -1;
  }

  /** Replaces one host's row (after a claim on it): a few numbers, not a rebuild. */
  update(i: number, p: ProviderState): void {
    this.rows[i] = p;
    for (const free of this.free.values()) free[i] = -1;
    for (const max of this.maxUnit.values()) max[i] = -1;
    for (const col of this.traitCols.values()) col[i] = 0;
    this.fill(i);
    this.freeRam = this.free.get('MEMORY_MB') ?? this.freeRam;
  }

  private fill(i: number): void {
    const n = this.size;
    const p = this.rows[i];
    for (const rc in p.inventories) {
      if (!this.free.has(rc)) {
        this.free.set(rc, new Float64Array(n).fill(-1));
        this.minUnit.set(rc, new Float64Array(n));
        this.maxUnit.set(rc, new Float64Array(n).fill(-1));
      }
      const inv = p.inventories[rc];
      this.free.get(rc)![i] = capacityOf(inv) - (p.usages[rc] ?? 0);
      this.minUnit.get(rc)![i] = inv.minUnit;
      this.maxUnit.get(rc)![i] = inv.maxUnit;
    }
    for (const t of p.traits) {
      let col = this.traitCols.get(t);
      if (!col) this.traitCols.set(t, (col = new Uint8Array(n)));
      col[i] = 1;
    }
  }

  /** Index of the best host for the request (most free RAM), or -1. */
  best(req: ResourceRequest, disabled?: ReadonlySet<string>): number {
    const n = this.size;
    const rcs = Object.keys(req.resources);
    const cols: { amount: number; free: Float64Array; min: Float64Array; max: Float64Array }[] = [];
    for (const rc of rcs) {
      const free = this.free.get(rc);
      if (!free) return -1; // no host has this resource class at all
      cols.push({ amount: req.resources[rc], free, min: this.minUnit.get(rc)!, max: this.maxUnit.get(rc)! });
    }
    const required: Uint8Array[] = [];
    for (const t of req.required) {
      const col = this.traitCols.get(t);
      if (!col) return -1;
      required.push(col);
    }
    const forbidden = req.forbidden.map((t) => this.traitCols.get(t)).filter((c): c is Uint8Array => !!c);
    let best = -1;
    let bestWeight = -Infinity;
    outer: for (let i = 0; i < n; i++) {
      for (let k = 0; k < required.length; k++) if (required[k][i] === 0) continue outer;
      for (let k = 0; k < forbidden.length; k++) if (forbidden[k][i] === 1) continue outer;
      for (let k = 0; k < cols.length; k++) {
        const c = cols[k];
        if (c.max[i] < 0 || c.amount > c.max[i] || c.amount < c.min[i] || c.amount > c.free[i])
          continue outer;
      }
      if (disabled !== undefined && disabled.has(this.rows[i].name)) continue;
      const w = this.freeRam[i];
      if (w > bestWeight) {
        best = i;
        bestWeight = w;
      }
    }
    return best;
  }
}

export interface SelectOptions {
  disabledHosts?: ReadonlySet<string>;
  /** Hosts already found unfit for a reason the table does not see (NUMA cells), by name. */
  excluded?: ReadonlyMap<string, string>;
}

export function selectHost(
  hosts: readonly ProviderState[] | HostTable,
  req: ResourceRequest,
  opts: SelectOptions = {},
): Selection {
  const table = hosts instanceof HostTable ? hosts : new HostTable(hosts);
  const skip = opts.excluded?.size
    ? new Set([...(opts.disabledHosts ?? []), ...opts.excluded.keys()])
    : opts.disabledHosts;
  const i = table.best(req, skip);
  if (i >= 0) return { ok: true, provider: table.providers[i] };
  // Only on failure: say why, per host (the expensive strings are built once, here).
  const failures = table.providers.map((p) => ({
    host: p.name,
    reason: firstFailure(p, req, opts.disabledHosts) ?? opts.excluded?.get(p.name) ?? 'unfit',
  }));
  return { ok: false, failures };
}

/** "No valid host was found. hostA: lacks required trait X; hostB: MEMORY_MB: …" (capped). */
export function noValidHostMessage(failures: HostFailure[], limit = 10): string {
  if (failures.length === 0)
    return 'No valid host was found. There are no compute hosts (no resource providers).';
  const shown = failures.slice(0, limit).map((f) => `${f.host}: ${f.reason}`);
  const more = failures.length > limit ? `; and ${failures.length - limit} more hosts` : '';
  return `No valid host was found. ${shown.join('; ')}${more}`;
}
