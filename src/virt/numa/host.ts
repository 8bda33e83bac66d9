// The host's NUMA topology (from libvirt's capabilities: virt/libvirt/numa-caps.ts): per
// cell its memory, huge-page pools and CPUs with their sibling threads; and the operator's
// CPU sets ([compute] cpu_dedicated_set / cpu_shared_set) and reserved huge pages applied to it.
// Plain JSON, so the compute host can publish it and the scheduler can read it from the database.
import { parseCpuSet } from '../../util/cpuset.js';

export interface HostCpu {
  id: number;
  socket: number;
  core: number;
  /** Thread siblings, this CPU included. */
  siblings: number[];
}

export interface HostCell {
  id: number;
  memoryMb: number;
  /** Page pools: size in KiB → number of pages (the base page size included). */
  pages: { sizeKib: number; total: number }[];
  cpus: HostCpu[];
}

export interface HostNumaTopology {
  cells: HostCell[];
  /** Host CPUs for pinned vCPUs (PCPU); empty when cpu_dedicated_set is unset. */
  dedicatedCpus: number[];
  /** Host CPUs floating vCPUs run on (VCPU). */
  sharedCpus: number[];
  /** [DEFAULT] reserved_huge_pages: pages of a pool the guests may not use. */
  reservedPages: { cell: number; sizeKib: number; count: number }[];
}

export interface CpuSetOptions {
  /** [compute] cpu_dedicated_set, e.g. "2-7". */
  dedicatedSet?: string;
  /** [compute] cpu_shared_set, e.g. "0-1". */
  sharedSet?: string;
  /** [DEFAULT] reserved_huge_pages entries (node, size, count as written). */
  reservedHugePages?: { node: string; size: string; count: string }[];
}

function sizeKib(size: string): number {
  const m = /^(\d+)\s*([kKmMgG])?/.exec(size.trim());
  if (!m) return 0;
  const unit = (m[2] ?? 'k').toLowerCase();
  return Number(m[1]) * (unit === 'g' ? 1024 * 1024 : unit === 'm' ? 1024 : 1);
}

/**
 * The topology with the operator's CPU sets applied, as Nova's libvirt driver reports it:
 * cpu_dedicated_set → PCPU; cpu_shared_set → VCPU; neither → every CPU is shared; only the
 * dedicated set → no shared CPUs (the host serves pinned guests only). CPUs the host does not
 * have are an error naming the option.
 */
export function applyCpuSets(cells: HostCell[], o: CpuSetOptions): HostNumaTopology {
  const all = new Set(cells.flatMap((c) => c.cpus.map((p) => p.id)));
  const pick = (spec: string | undefined, option: string): number[] | undefined => {
    if (spec === undefined || spec.trim() === '') return undefined;
    const ids = parseCpuSet(spec);
    const missing = ids.filter((i) => !all.has(i));
    if (missing.length) {
      throw new Error(
        `[compute] ${option} = ${spec} names CPUs ${missing.join(', ')} this host does not have (it has ${[...all].sort((a, b) => a - b).join(', ')}). Fix: list only the host's CPUs.`,
      );
    }
    return ids;
  };
  const dedicated = pick(o.dedicatedSet, 'cpu_dedicated_set');
  const shared = pick(o.sharedSet, 'cpu_shared_set');
  if (dedicated && shared) {
    const both = dedicated.filter((i) => shared.includes(i));
    if (both.length) {
      throw new Error(
        `[compute] cpu_dedicated_set and cpu_shared_set both name CPUs ${both.join(', ')}; a CPU is either pinned or shared. Fix: remove them from one of the two.`,
      );
    }
  }
  const sorted = [...all].sort((a, b) => a - b);
  return {
    cells,
    dedicatedCpus: dedicated ?? [],
    sharedCpus: shared ?? (dedicated ? [] : sorted),
    reservedPages: (o.reservedHugePages ?? []).map((r) => ({
      cell: Number(r.node),
      sizeKib: sizeKib(r.size),
      count: Number(r.count),
    })),
  };
}
