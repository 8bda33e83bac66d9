// Reading libvirt's capabilities XML and CPU XML: the host CPU, the machine types a guest
// arch offers per domain type, and the feature list of an expanded CPU definition.
import { attr, child, children, parseXml, text } from './domain/parse.js';
import { xmlDocument } from './domain/render.js';
import type { HostCell } from '../numa/host.js';
import { parseHostCells } from './numa-caps.js';

export interface HostCapabilities {
  arch: string;
  cpuModel: string;
  cpuVendor: string;
  /** The <cpu> element of <host>, as XML (for baseline/expansion calls). */
  hostCpuXml: string;
  /** Per guest arch: emulator, and domain types (qemu, kvm) with their machine types alias → canonical. */
  guests: Record<string, { emulator: string; domainTypes: Record<string, Record<string, string>> }>;
  /** <host><topology>: NUMA cells with their CPUs and page pools. */
  numaCells: HostCell[];
}

function machines(node: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of children(node, 'machine')) {
    const name = text(m)?.trim();
    if (!name) continue;
    out[name] = attr(m, 'canonical') ?? name;
  }
  return out;
}

export function parseCapabilities(xml: string): HostCapabilities {
  const caps = child(parseXml(xml), 'capabilities');
  const host = child(caps, 'host');
  const cpu = child(host, 'cpu');
  const arch = text(child(cpu, 'arch'))?.trim() ?? 'x86_64';
  const model = text(child(cpu, 'model'))?.trim() ?? '';
  const vendor = text(child(cpu, 'vendor'))?.trim() ?? '';
  const features = children(cpu, 'feature').map((f) => attr(f, 'name') ?? '');
  const hostCpu = xmlDocument().ele('cpu');
  hostCpu.ele('arch').txt(arch);
  if (model) hostCpu.ele('model').txt(model);
  if (vendor) hostCpu.ele('vendor').txt(vendor);
  for (const f of features) hostCpu.ele('feature', { name: f });
  const hostCpuXml = hostCpu.end({ headless: true });
  const guests: HostCapabilities['guests'] = {};
  for (const g of children(caps, 'guest')) {
    if (text(child(g, 'os_type'))?.trim() !== 'hvm') continue;
    for (const a of children(g, 'arch')) {
      const name = attr(a, 'name') ?? '';
      const base = machines(a);
      const entry = {
        emulator: text(child(a, 'emulator'))?.trim() ?? '',
        domainTypes: {} as Record<string, Record<string, string>>,
      };
      for (const d of children(a, 'domain')) {
        const type = attr(d, 'type') ?? '';
        const own = machines(d);
        entry.domainTypes[type] = Object.keys(own).length ? own : base;
      }
      guests[name] = entry;
    }
  }
  return { arch, cpuModel: model, cpuVendor: vendor, hostCpuXml, guests, numaCells: parseHostCells(xml) };
}

/** The enabled feature names of a <cpu> definition (e.g. a baseline with EXPAND_FEATURES). */
export function cpuFeatureNames(cpuXml: string): string[] {
  const cpu = child(parseXml(cpuXml), 'cpu');
  return children(cpu, 'feature')
    .filter((f) => (attr(f, 'policy') ?? 'require') !== 'disable' && attr(f, 'policy') !== 'forbid')
    .map((f) => attr(f, 'name') ?? '')
    .filter(Boolean)
    .sort();
}
