// The guest NUMA topology a flavor and an image ask for, with Nova's rules (virt/hardware.py
// numa_get_constraints): hw:numa_nodes / hw:numa_cpus.N / hw:numa_mem.N, hw:cpu_policy,
// hw:cpu_thread_policy, hw:cpu_dedicated_mask and hw:mem_page_size, and their hw_* image
// properties. Pure: the API turns a NumaSpecError into a 400 naming the property, and the
// domain configurator calls the same function, so no rule is written twice.
import { parseCpuSet } from '../../util/cpuset.js';

export type CpuPolicy = 'shared' | 'dedicated' | 'mixed';
export type ThreadPolicy = 'prefer' | 'isolate' | 'require';
/** small = the host's base page, large = the largest huge page that fits, any = large else small. */
export type PageSizeRequest = 'small' | 'large' | 'any' | { kib: number };

export interface GuestCell {
  id: number;
  /** Guest vCPU ids in this cell. */
  cpus: number[];
  /** Of those, the ones that get a dedicated host CPU (all of them under hw:cpu_policy=dedicated). */
  dedicatedCpus: number[];
  memoryMb: number;
}

export interface GuestNumaRequest {
  cells: GuestCell[];
  cpuPolicy: CpuPolicy;
  threadPolicy?: ThreadPolicy;
  pageSize?: PageSizeRequest;
}

/** A refused NUMA request: `property` is the extra spec or image property to change. */
export class NumaSpecError extends Error {
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
    this.name = 'NumaSpecError';
  }
}

export interface NumaFlavor {
  name?: string;
  vcpus: number;
  memoryMb: number;
  extraSpecs: Record<string, string>;
}

const CPU_POLICIES: readonly CpuPolicy[] = ['shared', 'dedicated', 'mixed'];
const THREAD_POLICIES: readonly ThreadPolicy[] = ['prefer', 'isolate', 'require'];

function set(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  property: string,
): T | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase() as T;
  if (!allowed.includes(v)) {
    throw new NumaSpecError(property, `${property}=${value} is not one of ${allowed.join(', ')}.`);
  }
  return v;
}

/** Page sizes: small | large | any | a size in KiB, or with a unit (2MB, 1GB, 2048KB). */
export function parsePageSize(value: string, property: string): PageSizeRequest {
  const v = value.trim().toLowerCase();
  if (v === 'small' || v === 'large' || v === 'any') return v;
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/.exec(v);
  if (!m || Number(m[1]) === 0) {
    throw new NumaSpecError(
      property,
      `${property}=${value} is not a page size: use small, large, any, or a size such as 2048 (KiB), 2MB or 1GB.`,
    );
  }
  const unit = (m[2] ?? 'k')[0];
  const kib = Number(m[1]) * (unit === 'g' ? 1024 * 1024 : unit === 'm' ? 1024 : 1);
  return { kib };
}

function cpuPolicy(flavor: NumaFlavor, image: Record<string, string>): CpuPolicy | undefined {
  const f = oneOf(set(flavor.extraSpecs['hw:cpu_policy']), CPU_POLICIES, 'hw:cpu_policy');
  const i = oneOf(set(image['hw_cpu_policy']), CPU_POLICIES, 'hw_cpu_policy');
  if (f === 'dedicated') return f;
  if ((f === 'mixed' && i === 'dedicated') || (f === 'shared' && (i === 'dedicated' || i === 'mixed'))) {
    throw new NumaSpecError(
      'hw_cpu_policy',
      `image property hw_cpu_policy=${i} asks for pinned CPUs, but flavor ${flavor.name ?? ''} has hw:cpu_policy=${f}; an image cannot override the flavor's CPU policy. Fix: unset hw_cpu_policy on the image, or use a flavor with hw:cpu_policy=dedicated.`,
    );
  }
  return f ?? i;
}

function threadPolicy(
  flavor: NumaFlavor,
  image: Record<string, string>,
  policy: CpuPolicy | undefined,
): ThreadPolicy | undefined {
  const f = oneOf(set(flavor.extraSpecs['hw:cpu_thread_policy']), THREAD_POLICIES, 'hw:cpu_thread_policy');
  const i = oneOf(set(image['hw_cpu_thread_policy']), THREAD_POLICIES, 'hw_cpu_thread_policy');
  if (f && i && f !== i) {
    throw new NumaSpecError(
      'hw_cpu_thread_policy',
      `image property hw_cpu_thread_policy=${i} conflicts with the flavor's hw:cpu_thread_policy=${f}. Fix: unset it on the image, or set both to the same value.`,
    );
  }
  const t = f ?? i;
  if (t && policy !== 'dedicated' && policy !== 'mixed') {
    throw new NumaSpecError(
      f ? 'hw:cpu_thread_policy' : 'hw_cpu_thread_policy',
      `a CPU thread policy (${t}) applies only to pinned CPUs. Fix: also set hw:cpu_policy=dedicated, or remove the thread policy.`,
    );
  }
  return t;
}

function pageSize(flavor: NumaFlavor, image: Record<string, string>): PageSizeRequest | undefined {
  const fRaw = set(flavor.extraSpecs['hw:mem_page_size']);
  const iRaw = set(image['hw_mem_page_size']);
  const f = fRaw === undefined ? undefined : parsePageSize(fRaw, 'hw:mem_page_size');
  const i = iRaw === undefined ? undefined : parsePageSize(iRaw, 'hw_mem_page_size');
  if (i !== undefined && f !== 'large' && f !== 'any') {
    throw new NumaSpecError(
      'hw_mem_page_size',
      `image property hw_mem_page_size=${iRaw} is not allowed: the flavor's hw:mem_page_size is ${fRaw ?? 'unset'}, and an image may choose a page size only when the flavor allows large or any. Fix: unset hw_mem_page_size on the image, or set hw:mem_page_size=large (or any) on the flavor.`,
    );
  }
  return i ?? f;
}

function nodeCount(
  flavor: NumaFlavor,
  image: Record<string, string>,
): { nodes?: number; fromFlavor: boolean } {
  const parse = (raw: string | undefined, property: string) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new NumaSpecError(
        property,
        `${property}=${raw} must be a whole number of NUMA nodes, at least 1.`,
      );
    }
    return n;
  };
  const f = parse(set(flavor.extraSpecs['hw:numa_nodes']), 'hw:numa_nodes');
  const i = parse(set(image['hw_numa_nodes']), 'hw_numa_nodes');
  if (f !== undefined && i !== undefined && f !== i) {
    throw new NumaSpecError(
      'hw_numa_nodes',
      `image property hw_numa_nodes=${i} may not override the flavor's hw:numa_nodes=${f}. Fix: unset hw_numa_nodes on the image, or use a flavor with hw:numa_nodes=${i}.`,
    );
  }
  return { nodes: f ?? i, fromFlavor: f !== undefined };
}

/** Explicit per-cell CPUs and memory (hw:numa_cpus.N / hw:numa_mem.N, or the image's). */
function explicitCells(
  specs: Record<string, string>,
  prefix: { cpus: string; mem: string },
  nodes: number,
  flavor: NumaFlavor,
): { cpus: number[]; memoryMb: number }[] | undefined {
  const keys = Object.keys(specs).filter((k) => k.startsWith(prefix.cpus) || k.startsWith(prefix.mem));
  if (keys.length === 0) return undefined;
  for (const k of keys) {
    const n = Number(k.slice((k.startsWith(prefix.cpus) ? prefix.cpus : prefix.mem).length));
    if (!Number.isInteger(n) || n < 0 || n >= nodes) {
      throw new NumaSpecError(
        k,
        `${k} names NUMA node ${k.split('.').pop()}, but the guest has nodes 0 to ${nodes - 1}.`,
      );
    }
  }
  const cells: { cpus: number[]; memoryMb: number }[] = [];
  const seen = new Map<number, number>();
  let memory = 0;
  for (let n = 0; n < nodes; n++) {
    const cpusRaw = set(specs[`${prefix.cpus}${n}`]);
    const memRaw = set(specs[`${prefix.mem}${n}`]);
    if (cpusRaw === undefined || memRaw === undefined) {
      const missing = cpusRaw === undefined ? `${prefix.cpus}${n}` : `${prefix.mem}${n}`;
      throw new NumaSpecError(
        missing,
        `${missing} is missing: when any node's CPUs or memory are given, every node 0 to ${nodes - 1} needs both ${prefix.cpus}N and ${prefix.mem}N.`,
      );
    }
    let cpus: number[];
    try {
      cpus = parseCpuSet(cpusRaw);
    } catch (e) {
      throw new NumaSpecError(`${prefix.cpus}${n}`, `${prefix.cpus}${n}: ${(e as Error).message}.`);
    }
    for (const c of cpus) {
      if (c >= flavor.vcpus) {
        throw new NumaSpecError(
          `${prefix.cpus}${n}`,
          `${prefix.cpus}${n}=${cpusRaw} names vCPU ${c}, but the flavor has vCPUs 0 to ${flavor.vcpus - 1}.`,
        );
      }
      const other = seen.get(c);
      if (other !== undefined) {
        throw new NumaSpecError(
          `${prefix.cpus}${n}`,
          `vCPU ${c} is in both NUMA node ${other} and node ${n}; each vCPU belongs to exactly one node.`,
        );
      }
      seen.set(c, n);
    }
    const mem = Number(memRaw);
    if (!Number.isInteger(mem) || mem < 1) {
      throw new NumaSpecError(
        `${prefix.mem}${n}`,
        `${prefix.mem}${n}=${memRaw} must be a whole number of MB, at least 1.`,
      );
    }
    memory += mem;
    cells.push({ cpus, memoryMb: mem });
  }
  if (seen.size !== flavor.vcpus) {
    const missing = [...Array(flavor.vcpus).keys()].filter((c) => !seen.has(c));
    throw new NumaSpecError(
      `${prefix.cpus}0`,
      `vCPUs ${missing.join(', ')} are in no NUMA node; ${prefix.cpus}N must together name every vCPU 0 to ${flavor.vcpus - 1}.`,
    );
  }
  if (memory !== flavor.memoryMb) {
    throw new NumaSpecError(
      `${prefix.mem}0`,
      `${prefix.mem}N add up to ${memory} MB, but the flavor has ${flavor.memoryMb} MB; they must add up to the flavor's memory.`,
    );
  }
  return cells;
}

function evenCells(
  flavor: NumaFlavor,
  nodes: number,
  property: string,
): { cpus: number[]; memoryMb: number }[] {
  if (nodes > flavor.vcpus) {
    throw new NumaSpecError(
      property,
      `${property}=${nodes} asks for more NUMA nodes than the flavor's ${flavor.vcpus} vCPUs; each node needs at least one vCPU.`,
    );
  }
  if (flavor.vcpus % nodes !== 0 || flavor.memoryMb % nodes !== 0) {
    throw new NumaSpecError(
      property,
      `${flavor.vcpus} vCPUs and ${flavor.memoryMb} MB cannot be split evenly over ${nodes} NUMA nodes. Fix: give each node's CPUs and memory with hw:numa_cpus.N and hw:numa_mem.N, or choose a node count that divides both.`,
    );
  }
  const per = flavor.vcpus / nodes;
  return [...Array(nodes).keys()].map((n) => ({
    cpus: [...Array(per).keys()].map((i) => n * per + i),
    memoryMb: flavor.memoryMb / nodes,
  }));
}

function dedicatedSet(flavor: NumaFlavor, policy: CpuPolicy | undefined): Set<number> {
  if (policy === 'dedicated') return new Set([...Array(flavor.vcpus).keys()]);
  if (policy !== 'mixed') return new Set();
  const mask = set(flavor.extraSpecs['hw:cpu_dedicated_mask']);
  if (mask === undefined) {
    throw new NumaSpecError(
      'hw:cpu_dedicated_mask',
      'hw:cpu_policy=mixed needs hw:cpu_dedicated_mask to say which vCPUs are pinned (for example ^0 for all but vCPU 0).',
    );
  }
  let ids: number[];
  try {
    // "^0-1" alone means every vCPU but 0-1 (Nova's mask syntax).
    ids = parseCpuSet(mask.startsWith('^') ? `0-${flavor.vcpus - 1},${mask}` : mask);
  } catch (e) {
    throw new NumaSpecError('hw:cpu_dedicated_mask', `hw:cpu_dedicated_mask: ${(e as Error).message}.`);
  }
  const bad = ids.find((c) => c >= flavor.vcpus);
  if (bad !== undefined) {
    throw new NumaSpecError(
      'hw:cpu_dedicated_mask',
      `hw:cpu_dedicated_mask=${mask} names vCPU ${bad}, but the flavor has vCPUs 0 to ${flavor.vcpus - 1}.`,
    );
  }
  if (ids.length === 0 || ids.length === flavor.vcpus) {
    throw new NumaSpecError(
      'hw:cpu_dedicated_mask',
      `hw:cpu_dedicated_mask=${mask} leaves ${ids.length === 0 ? 'no pinned' : 'no shared'} vCPU; a mixed policy needs at least one of each. Fix: use hw:cpu_policy=${ids.length === 0 ? 'shared' : 'dedicated'} instead.`,
    );
  }
  return new Set(ids);
}

/**
 * The guest NUMA topology requested by flavor and image, or undefined when they ask for none
 * (no hw:numa_*, no pinning, no page size): such a guest gets no <numa> element at all.
 */
export function guestNumaRequest(
  flavor: NumaFlavor,
  image: Record<string, string>,
): GuestNumaRequest | undefined {
  const policy = cpuPolicy(flavor, image);
  const thread = threadPolicy(flavor, image, policy);
  const page = pageSize(flavor, image);
  const { nodes, fromFlavor } = nodeCount(flavor, image);
  const pinned = policy === 'dedicated' || policy === 'mixed';
  if (nodes === undefined && !pinned && page === undefined) return undefined;
  const count = nodes ?? 1;
  const explicit =
    fromFlavor || nodes === undefined
      ? explicitCells(flavor.extraSpecs, { cpus: 'hw:numa_cpus.', mem: 'hw:numa_mem.' }, count, flavor)
      : explicitCells(image, { cpus: 'hw_numa_cpus.', mem: 'hw_numa_mem.' }, count, flavor);
  const layout = explicit ?? evenCells(flavor, count, fromFlavor ? 'hw:numa_nodes' : 'hw_numa_nodes');
  const dedicated = dedicatedSet(flavor, policy);
  return {
    cells: layout.map((c, id) => ({
      id,
      cpus: c.cpus,
      dedicatedCpus: c.cpus.filter((v) => dedicated.has(v)),
      memoryMb: c.memoryMb,
    })),
    cpuPolicy: policy ?? 'shared',
    threadPolicy: thread ?? (pinned ? 'prefer' : undefined),
    pageSize: page,
  };
}

/** How many of the guest's vCPUs are pinned (the PCPU resource) and how many float (VCPU). */
export function cpuResources(
  flavor: NumaFlavor,
  req: GuestNumaRequest | undefined,
): { pcpu: number; vcpu: number } {
  const pcpu = req ? req.cells.reduce((n, c) => n + c.dedicatedCpus.length, 0) : 0;
  return { pcpu, vcpu: flavor.vcpus - pcpu };
}
