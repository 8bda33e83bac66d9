// The resource tracker: publishes this host as a resource provider (inventories from the
// driver's host status and the configured allocation ratios, traits from the driver).
import type { Inventory, Repositories } from '../db/index.js';
import type { HostStatus } from '../virt/driver.js';

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

export function inventoriesFor(status: HostStatus, ratios: AllocationRatios): Record<string, Inventory> {
  const inv = (total: number, reserved: number, ratio: number): Inventory => ({
    total,
    reserved: Math.min(reserved, total),
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio: ratio,
  });
  const result: Record<string, Inventory> = {
    VCPU: inv(status.vcpus, 0, ratios.cpu),
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
): Promise<{ uuid: string; number: number }> {
  const p = await repos.placement.ensureProvider(hostName);
  await repos.placement.setInventories(p.uuid, inventoriesFor(status, ratios));
  await repos.placement.setTraits(p.uuid, status.traits);
  return p;
}
