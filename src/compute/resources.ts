// The resource tracker: publishes this host as a resource provider (inventories from the
// driver's host status and the configured allocation ratios, traits from the driver).
import type { Inventory, Repositories } from '../db/index.js';
import type { HostStatus } from '../virt/driver.js';
import { applyCpuSets, type CpuSetOptions, type HostCell, type HostNumaTopology } from '../virt/numa/host.js';

export interface AllocationRatios {
  cpu: number;
  ram: number;
  disk: number;
  reservedHostMemoryMb: number;
  reservedHostDiskMb: number;
}

export const defaultRatios: AllocationRatios = {
  cpu: 16,
  ram: 1.5,
  disk: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
};

/**
 * The host's NUMA topology with [compute] cpu_dedicated_set / cpu_shared_set applied. A host
 * whose driver reports no cells counts as one cell holding every CPU and all memory.
 */
export function hostTopology(status: HostStatus, cpu: CpuSetOptions = {}): HostNumaTopology {
  const cells: HostCell[] = status.numaCells?.length
    ? status.numaCells
    : [
        {
          id: 0,
          memoryMb: status.memoryMb,
          pages: [{ sizeKib: 4, total: status.memoryMb * 256 }],
          cpus: [...Array(status.vcpus).keys()].map((id) => ({ id, socket: 0, core: id, siblings: [id] })),
        },
      ];
  return applyCpuSets(cells, cpu);
}

export function inventoriesFor(
  status: HostStatus,
  ratios: AllocationRatios,
  topology: HostNumaTopology = hostTopology(status),
): Record<string, Inventory> {
  const inv = (total: number, reserved: number, ratio: number): Inventory => ({
    total,
    reserved: Math.min(reserved, total),
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio: ratio,
  });
  // With cpu_dedicated_set, pinned vCPUs take PCPU (not overcommitted) and floating ones the
  // shared set's VCPU; a host with only a dedicated set offers no VCPU at all (Nova).
  const pinning = topology.dedicatedCpus.length > 0;
  const result: Record<string, Inventory> = {
    ...(pinning ? { PCPU: inv(topology.dedicatedCpus.length, 0, 1) } : {}),
    ...(!pinning || topology.sharedCpus.length
      ? { VCPU: inv(pinning ? topology.sharedCpus.length : status.vcpus, 0, ratios.cpu) }
      : {}),
    MEMORY_MB: inv(status.memoryMb, ratios.reservedHostMemoryMb, ratios.ram),
    DISK_GB: inv(status.localDiskGb, Math.ceil(ratios.reservedHostDiskMb / 1024), ratios.disk),
  };
  if (status.memEncryptionSlots > 0) {
    result.MEM_ENCRYPTION_CONTEXT = inv(status.memEncryptionSlots, 0, 1);
  }
  return result;
}

/** Creates or refreshes this host's provider; returns its uuid and integer id. */
export async function publishHost(
  repos: Repositories,
  status: HostStatus,
  ratios: AllocationRatios,
  hostName: string,
  cpu: CpuSetOptions = {},
): Promise<{ uuid: string; number: number }> {
  const topology = hostTopology(status, cpu);
  const p = await repos.placement.ensureProvider(hostName);
  await repos.placement.setInventories(p.uuid, inventoriesFor(status, ratios, topology));
  await repos.placement.setTraits(p.uuid, status.traits);
  await repos.numa.setTopology(p.uuid, topology);
  return p;
}
