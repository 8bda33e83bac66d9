// The host's NUMA cells from libvirt's capabilities XML (<host><topology><cells>): memory,
// huge-page pools and CPUs with their thread siblings.
import { parseCpuSet } from '../../util/cpuset.js';
import type { HostCell } from '../numa/host.js';
import { attr, child, children, parseXml, text } from './domain/parse.js';

export function parseHostCells(capabilitiesXml: string): HostCell[] {
  const host = child(child(parseXml(capabilitiesXml), 'capabilities'), 'host');
  const cells = child(child(host, 'topology'), 'cells');
  return children(cells, 'cell').map((cell) => {
    const memKib = Number(text(child(cell, 'memory')) ?? 0);
    const pages = children(cell, 'pages').map((p) => ({
      sizeKib: Number(attr(p, 'size') ?? 0),
      total: Number(text(p) ?? 0),
    }));
    const cpus = children(child(cell, 'cpus'), 'cpu').map((c) => {
      const id = Number(attr(c, 'id'));
      const siblings = attr(c, 'siblings');
      return {
        id,
        socket: Number(attr(c, 'socket_id') ?? 0),
        core: Number(attr(c, 'core_id') ?? id),
        siblings: siblings ? parseCpuSet(siblings) : [id],
      };
    });
    return {
      id: Number(attr(cell, 'id') ?? 0),
      memoryMb: Math.floor(memKib / 1024),
      pages: pages.filter((p) => p.sizeKib > 0).sort((a, b) => a.sizeKib - b.sizeKib),
      cpus,
    };
  });
}
