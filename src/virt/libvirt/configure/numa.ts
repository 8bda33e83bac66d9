// Guest NUMA, pinning and huge pages: <cpu><numa> cells from the flavor and image (the same
// rule functions the API validates with), and — when the scheduler placed the guest on host
// cells — <cputune> (pinned vCPUs, floating vCPUs on their cell's shared CPUs, emulator
// threads), <numatune> (memory strictly from those cells) and <memoryBacking><hugepages>.
import { formatCpuSet } from '../../../util/cpuset.js';
import { hostNodeset } from '../../numa/fit.js';
import { guestNumaRequest } from '../../numa/request.js';
import type { Domain } from '../domain/types.js';
import type { Configurator } from './context.js';

/** The base page size: anything larger is a huge page that needs <hugepages>. */
const SMALL_PAGE_KIB = 4;

export const numaConfigurator: Configurator = {
  name: 'numa',
  configure(ctx, dom: Domain) {
    const req = guestNumaRequest(ctx.spec.flavor, ctx.spec.image.properties);
    if (!req) return;
    dom.cpu ??= { features: [] };
    dom.cpu.numa = req.cells.map((c) => ({
      id: c.id,
      cpus: formatCpuSet(c.cpus),
      memoryKib: c.memoryMb * 1024,
    }));
    const placement = ctx.spec.numaPlacement;
    if (!placement) {
      // No host topology was consulted (a host without NUMA data): an explicit page size can
      // still be asked for; large/any need the host's pools to choose from.
      if (typeof req.pageSize === 'object' && req.pageSize.kib > SMALL_PAGE_KIB) {
        dom.memoryBacking = { ...dom.memoryBacking, hugepages: [{ sizeKib: req.pageSize.kib }] };
      }
      return;
    }
    const bySize = new Map<number, number[]>();
    for (const c of placement.cells) {
      if (c.pageSizeKib > SMALL_PAGE_KIB)
        bySize.set(c.pageSizeKib, [...(bySize.get(c.pageSizeKib) ?? []), c.guestCell]);
    }
    if (bySize.size) {
      dom.memoryBacking = {
        ...dom.memoryBacking,
        hugepages: [...bySize.entries()]
          .sort(([a], [b]) => a - b)
          .map(([sizeKib, cells]) => ({ sizeKib, nodeset: formatCpuSet(cells) })),
      };
    }
    const vcpupins: { vcpu: number; cpuset: string }[] = [];
    for (const cell of req.cells) {
      const p = placement.cells.find((c) => c.guestCell === cell.id);
      if (!p) continue;
      for (const v of cell.cpus) {
        const pinned = p.pins[String(v)];
        vcpupins.push({
          vcpu: v,
          cpuset: pinned !== undefined ? String(pinned) : formatCpuSet(p.sharedCpus),
        });
      }
    }
    vcpupins.sort((a, b) => a.vcpu - b.vcpu);
    dom.cputune = {
      vcpupins,
      ...(placement.emulatorCpus.length ? { emulatorpin: formatCpuSet(placement.emulatorCpus) } : {}),
    };
    dom.numatune = {
      memory: { mode: 'strict', nodeset: hostNodeset(placement) },
      memnodes: placement.cells.map((c) => ({
        cellid: c.guestCell,
        mode: 'strict',
        nodeset: String(c.hostCell),
      })),
    };
  },
};
