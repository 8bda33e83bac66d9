// Fitting a guest NUMA request onto a host's topology, given what other guests already hold
// (Nova's NUMATopologyFilter and the compute claim in one function): each guest cell on a host
// cell of its own with enough memory in the chosen page size, pinned vCPUs on free dedicated
// host CPUs honouring the thread policy, floating vCPUs on the cell's shared CPUs. A refusal
// names the guest cell and what each host cell lacked, so "No valid host" explains itself.
import type { GuestCell, GuestNumaRequest } from './request.js';
import type { HostCell, HostNumaTopology } from './host.js';
import { formatCpuSet } from '../../util/cpuset.js';

export interface CellPlacement {
  guestCell: number;
  hostCell: number;
  memoryMb: number;
  pageSizeKib: number;
  /** Pinned vCPU → host CPU. */
  pins: Record<string, number>;
  /** Host CPUs the cell's floating vCPUs may run on. */
  sharedCpus: number[];
  /** Host CPUs held but not pinned to (isolate: the pinned CPUs' thread siblings). */
  reservedCpus: number[];
}

export interface NumaPlacement {
  cells: CellPlacement[];
  /** Host CPUs for QEMU's emulator threads. */
  emulatorCpus: number[];
}

/** What other guests hold on a host: pinned/reserved CPUs, pages per (cell, size), memory per cell. */
export interface HostUsage {
  cpus: Set<number>;
  pages: Map<string, number>;
  memoryMb: Map<number, number>;
}

export type FitResult = { ok: true; placement: NumaPlacement } | { ok: false; reason: string };

const pageKey = (cell: number, sizeKib: number) => `${cell}:${sizeKib}`;

export function usageOf(placements: readonly NumaPlacement[]): HostUsage {
  const u: HostUsage = { cpus: new Set(), pages: new Map(), memoryMb: new Map() };
  for (const p of placements) {
    for (const c of p.cells) {
      for (const cpu of Object.values(c.pins)) u.cpus.add(cpu);
      for (const cpu of c.reservedCpus) u.cpus.add(cpu);
      const k = pageKey(c.hostCell, c.pageSizeKib);
      u.pages.set(k, (u.pages.get(k) ?? 0) + (c.memoryMb * 1024) / c.pageSizeKib);
      u.memoryMb.set(c.hostCell, (u.memoryMb.get(c.hostCell) ?? 0) + c.memoryMb);
    }
  }
  return u;
}

interface CellFit {
  pageSizeKib: number;
  pins: Record<string, number>;
  sharedCpus: number[];
  reservedCpus: number[];
}

function basePage(cell: HostCell): number {
  return cell.pages[0]?.sizeKib ?? 4;
}

function freePages(host: HostNumaTopology, cell: HostCell, sizeKib: number, usage: HostUsage): number {
  const pool = cell.pages.find((p) => p.sizeKib === sizeKib);
  if (!pool) return 0;
  const reserved = host.reservedPages
    .filter((r) => r.cell === cell.id && r.sizeKib === sizeKib)
    .reduce((n, r) => n + r.count, 0);
  return pool.total - reserved - (usage.pages.get(pageKey(cell.id, sizeKib)) ?? 0);
}

/** The page size for a guest cell on a host cell, or why there is none. */
function choosePage(
  req: GuestNumaRequest,
  g: GuestCell,
  host: HostNumaTopology,
  cell: HostCell,
  usage: HostUsage,
  ramRatio: number,
): number | string {
  const needKib = g.memoryMb * 1024;
  const base = basePage(cell);
  const hugeFits = (sizeKib: number) =>
    needKib % sizeKib === 0 && freePages(host, cell, sizeKib, usage) >= needKib / sizeKib;
  const huge = cell.pages.filter((p) => p.sizeKib > base).map((p) => p.sizeKib);
  const smallFree = Math.floor(cell.memoryMb * ramRatio) - (usage.memoryMb.get(cell.id) ?? 0);
  const describeHuge = (sizes: number[]) =>
    sizes.length
      ? sizes.map((s) => `${freePages(host, cell, s, usage)} free ${s} KiB pages`).join(', ')
      : 'no huge pages';
  const ps = req.pageSize;
  if (ps === undefined || ps === 'small') {
    return g.memoryMb <= smallFree ? base : `${Math.max(0, smallFree)} MB free`;
  }
  if (ps === 'large' || ps === 'any') {
    for (const s of [...huge].sort((a, b) => b - a)) if (hugeFits(s)) return s;
    if (ps === 'any' && g.memoryMb <= smallFree) return base;
    return `${describeHuge(huge)}${ps === 'any' ? ` and ${Math.max(0, smallFree)} MB free in small pages` : ''}`;
  }
  if (ps.kib === base) return g.memoryMb <= smallFree ? base : `${Math.max(0, smallFree)} MB free`;
  if (!cell.pages.some((p) => p.sizeKib === ps.kib)) return `no ${ps.kib} KiB page pool`;
  if (needKib % ps.kib !== 0) return `${g.memoryMb} MB is not a whole number of ${ps.kib} KiB pages`;
  return hugeFits(ps.kib) ? ps.kib : describeHuge([ps.kib]);
}

/** Host CPUs for the cell's pinned vCPUs under the thread policy, or why not. */
function pinCpus(
  req: GuestNumaRequest,
  g: GuestCell,
  host: HostNumaTopology,
  cell: HostCell,
  usage: HostUsage,
): { pins: Record<string, number>; reserved: number[] } | string {
  const want = g.dedicatedCpus.length;
  if (want === 0) return { pins: {}, reserved: [] };
  const dedicated = new Set(host.dedicatedCpus);
  const usable = (id: number) => dedicated.has(id) && !usage.cpus.has(id);
  const free = cell.cpus.filter((c) => usable(c.id));
  const inCell = cell.cpus.filter((c) => dedicated.has(c.id)).length;
  // Whole cores (every sibling free and dedicated), largest first, then the rest.
  const cores = new Map<string, number[]>();
  for (const c of free) {
    const key = c.siblings.join(',');
    cores.set(key, [...(cores.get(key) ?? []), c.id]);
  }
  const whole = [...cores.entries()]
    .filter(([k, ids]) => k.split(',').length === ids.length)
    .map(([, ids]) => ids);
  const partial = [...cores.entries()]
    .filter(([k, ids]) => k.split(',').length !== ids.length)
    .map(([, ids]) => ids);
  let chosen: number[] = [];
  const reserved: number[] = [];
  const policy = req.threadPolicy ?? 'prefer';
  if (policy === 'isolate') {
    if (whole.length < want) {
      return `${whole.length} whole free cores of ${want} needed (isolate pins one vCPU per core; ${free.length} of ${inCell} dedicated CPUs free)`;
    }
    for (const ids of whole.slice(0, want)) {
      chosen.push(ids[0]);
      reserved.push(...ids.slice(1));
    }
  } else if (policy === 'require') {
    const smt = whole.filter((ids) => ids.length > 1);
    if (!cell.cpus.some((c) => c.siblings.length > 1)) return 'no thread siblings (require needs SMT)';
    for (const ids of smt) {
      if (chosen.length >= want) break;
      chosen.push(...ids.slice(0, want - chosen.length));
    }
    if (chosen.length < want) return `${chosen.length} free CPUs on whole SMT cores of ${want} needed`;
  } else {
    chosen = [...whole.sort((a, b) => b.length - a.length).flat(), ...partial.flat()].slice(0, want);
    if (chosen.length < want) {
      return dedicated.size === 0
        ? 'no dedicated CPUs ([compute] cpu_dedicated_set is unset)'
        : `${free.length} of ${inCell} dedicated CPUs free, ${want} needed`;
    }
  }
  const pins: Record<string, number> = {};
  g.dedicatedCpus.forEach((v, i) => (pins[String(v)] = chosen[i]));
  return { pins, reserved };
}

function fitCell(
  req: GuestNumaRequest,
  g: GuestCell,
  host: HostNumaTopology,
  cell: HostCell,
  usage: HostUsage,
  ramRatio: number,
): CellFit | string {
  const page = choosePage(req, g, host, cell, usage, ramRatio);
  if (typeof page === 'string') return page;
  const pinned = pinCpus(req, g, host, cell, usage);
  if (typeof pinned === 'string') return pinned;
  const floating = g.cpus.length - g.dedicatedCpus.length;
  const shared = new Set(host.sharedCpus);
  const sharedCpus = cell.cpus.map((c) => c.id).filter((id) => shared.has(id));
  if (floating > 0 && sharedCpus.length === 0) {
    return 'no shared CPUs for the floating vCPUs ([compute] cpu_shared_set)';
  }
  return {
    pageSizeKib: page,
    pins: pinned.pins,
    sharedCpus: floating > 0 ? sharedCpus : [],
    reservedCpus: pinned.reserved,
  };
}

function describe(g: GuestCell, req: GuestNumaRequest): string {
  const pinned = g.dedicatedCpus.length;
  const floating = g.cpus.length - pinned;
  const cpus = [pinned ? `${pinned} pinned` : '', floating ? `${floating} floating` : '']
    .filter(Boolean)
    .join(' + ');
  const page =
    req.pageSize === undefined
      ? ''
      : ` in ${typeof req.pageSize === 'string' ? req.pageSize : `${req.pageSize.kib} KiB`} pages`;
  return `guest NUMA cell ${g.id} (${cpus} vCPUs, ${g.memoryMb} MB${page})`;
}

/** Places every guest cell on a distinct host cell, or says which cell could not be placed and why. */
export function fitGuest(
  req: GuestNumaRequest,
  host: HostNumaTopology,
  usage: HostUsage,
  opts: { ramAllocationRatio?: number } = {},
): FitResult {
  const ratio = opts.ramAllocationRatio ?? 1;
  if (req.cells.length > host.cells.length) {
    return {
      ok: false,
      reason: `NUMA: the guest asks for ${req.cells.length} NUMA cells, the host has ${host.cells.length}`,
    };
  }
  // Each guest cell's candidate host cells, alone (a host cell is used by one guest cell only,
  // so candidates do not interact and a matching over them is exact).
  const candidates: { cell: HostCell; fit: CellFit }[][] = [];
  for (const g of req.cells) {
    const options: { cell: HostCell; fit: CellFit }[] = [];
    const why: string[] = [];
    for (const cell of host.cells) {
      const f = fitCell(req, g, host, cell, usage, ratio);
      if (typeof f === 'string') why.push(`host cell ${cell.id}: ${f}`);
      else options.push({ cell, fit: f });
    }
    if (options.length === 0) {
      return { ok: false, reason: `NUMA: ${describe(g, req)} fits no host cell (${why.join('; ')})` };
    }
    candidates.push(options);
  }
  const used = new Set<number>();
  const chosen: { cell: HostCell; fit: CellFit }[] = [];
  const assign = (i: number): boolean => {
    if (i === req.cells.length) return true;
    for (const o of candidates[i]) {
      if (used.has(o.cell.id)) continue;
      used.add(o.cell.id);
      chosen[i] = o;
      if (assign(i + 1)) return true;
      used.delete(o.cell.id);
    }
    return false;
  };
  if (!assign(0)) {
    const list = req.cells.map(
      (g, i) => `cell ${g.id} → host cells ${candidates[i].map((o) => o.cell.id).join(',')}`,
    );
    return {
      ok: false,
      reason: `NUMA: the guest's ${req.cells.length} cells need a host cell each, but they fit only ${list.join('; ')}`,
    };
  }
  const cells: CellPlacement[] = req.cells.map((g, i) => ({
    guestCell: g.id,
    hostCell: chosen[i].cell.id,
    memoryMb: g.memoryMb,
    pageSizeKib: chosen[i].fit.pageSizeKib,
    pins: chosen[i].fit.pins,
    sharedCpus: chosen[i].fit.sharedCpus,
    reservedCpus: chosen[i].fit.reservedCpus,
  }));
  const pinnedAll = cells.flatMap((c) => Object.values(c.pins));
  const sharedAll = cells.flatMap((c) => c.sharedCpus);
  // Emulator threads: on the shared CPUs when there are any (they are not worth a pinned
  // CPU), else beside the pinned vCPUs (Nova's "share" emulator-threads policy).
  const emulatorCpus =
    host.sharedCpus.length && pinnedAll.length ? host.sharedCpus : sharedAll.length ? sharedAll : pinnedAll;
  return { ok: true, placement: { cells, emulatorCpus: [...new Set(emulatorCpus)].sort((a, b) => a - b) } };
}

/** "0-3" style text of a placement's host cells, for the domain's numatune nodeset. */
export function hostNodeset(p: NumaPlacement): string {
  return formatCpuSet(p.cells.map((c) => c.hostCell));
}
