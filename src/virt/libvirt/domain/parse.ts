// libvirt XML → Domain, for the elements Kestrel renders (and reads back from a live domain:
// metadata, disks, serial log, NVRAM, CPU). Unknown elements are ignored, never an error.
import { XMLParser } from 'fast-xml-parser';
import {
  emptyDomain,
  type CpuFeature,
  type DiskDevice,
  type Domain,
  type DomainCpu,
  type KestrelMetadata,
  type SmbiosSystem,
} from './types.js';

type Node = Record<string, unknown>;

const ARRAYS = new Set([
  'disk',
  'controller',
  'interface',
  'serial',
  'channel',
  'graphics',
  'video',
  'rng',
  'feature',
  'boot',
  'host',
  'model',
  'machine',
  'value',
  'guest',
  'arch',
  'domain',
  'enum',
]);

export const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: false,
  isArray: (name) => ARRAYS.has(name),
});

export function parseXml(xml: string): Node {
  if (xml.length > 4 * 1024 * 1024) throw new Error('XML document larger than 4 MiB refused');
  return xmlParser.parse(xml) as Node;
}

export function child(n: unknown, name: string): Node | undefined {
  if (!n || typeof n !== 'object') return undefined;
  const v = (n as Node)[name];
  if (Array.isArray(v)) return v[0] as Node;
  if (v === undefined) return undefined;
  return (typeof v === 'object' ? v : { '#text': v }) as Node;
}

export function children(n: unknown, name: string): Node[] {
  if (!n || typeof n !== 'object') return [];
  const v = (n as Node)[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'object' && x !== null ? (x as Node) : { '#text': x }));
}

export function text(n: unknown): string | undefined {
  if (n === undefined || n === null) return undefined;
  if (typeof n !== 'object') return String(n);
  const t = (n as Node)['#text'];
  return t === undefined ? '' : String(t);
}

export function attr(n: Node | undefined, name: string): string | undefined {
  const v = n?.[`@${name}`];
  return v === undefined ? undefined : String(v);
}

function num(s: string | undefined, fallback = 0): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : fallback;
}

function toKib(value: string | undefined, unit: string | undefined): number {
  const v = num(value);
  const mult: Record<string, number> = {
    b: 1 / 1024,
    bytes: 1 / 1024,
    k: 1,
    kib: 1,
    m: 1024,
    mib: 1024,
    g: 1024 ** 2,
    gib: 1024 ** 2,
  };
  return Math.round(v * (mult[(unit ?? 'KiB').toLowerCase()] ?? 1));
}

export function parseCpu(cpu: Node): DomainCpu {
  const topo = child(cpu, 'topology');
  return {
    mode: attr(cpu, 'mode') as DomainCpu['mode'],
    match: attr(cpu, 'match') as DomainCpu['match'],
    model: text(child(cpu, 'model'))?.trim() || undefined,
    topology: topo
      ? {
          sockets: num(attr(topo, 'sockets'), 1),
          dies: attr(topo, 'dies') === undefined ? undefined : num(attr(topo, 'dies'), 1),
          cores: num(attr(topo, 'cores'), 1),
          threads: num(attr(topo, 'threads'), 1),
        }
      : undefined,
    features: children(cpu, 'feature').map((f) => ({
      policy: (attr(f, 'policy') ?? 'require') as CpuFeature['policy'],
      name: attr(f, 'name') ?? '',
    })),
    ...(child(cpu, 'numa')
      ? {
          numa: children(child(cpu, 'numa'), 'cell').map((c) => ({
            id: num(attr(c, 'id')),
            cpus: attr(c, 'cpus') ?? '',
            memoryKib: toKib(attr(c, 'memory'), attr(c, 'unit')),
          })),
        }
      : {}),
  };
}

/** <memoryBacking>, <cputune> and <numatune>, as configure/numa.ts and configure/sev.ts write them. */
function parseTuning(d: Node, dom: Domain): void {
  const mb = child(d, 'memoryBacking');
  if (mb) {
    const pages = children(child(mb, 'hugepages'), 'page').map((p) => ({
      sizeKib: toKib(attr(p, 'size'), attr(p, 'unit')),
      ...(attr(p, 'nodeset') !== undefined ? { nodeset: attr(p, 'nodeset') } : {}),
    }));
    dom.memoryBacking = {
      ...(pages.length ? { hugepages: pages } : {}),
      ...(child(mb, 'locked') !== undefined ? { locked: true } : {}),
    };
  }
  const ct = child(d, 'cputune');
  if (ct) {
    dom.cputune = {
      vcpupins: children(ct, 'vcpupin').map((p) => ({
        vcpu: num(attr(p, 'vcpu')),
        cpuset: attr(p, 'cpuset') ?? '',
      })),
    };
    const emu = attr(child(ct, 'emulatorpin'), 'cpuset');
    if (emu) dom.cputune.emulatorpin = emu;
  }
  const nt = child(d, 'numatune');
  if (nt) {
    type Mode = NonNullable<Domain['numatune']>['memory']['mode'];
    const m = child(nt, 'memory');
    dom.numatune = {
      memory: { mode: (attr(m, 'mode') ?? 'strict') as Mode, nodeset: attr(m, 'nodeset') ?? '' },
      memnodes: children(nt, 'memnode').map((n) => ({
        cellid: num(attr(n, 'cellid')),
        mode: (attr(n, 'mode') ?? 'strict') as Mode,
        nodeset: attr(n, 'nodeset') ?? '',
      })),
    };
  }
}

function parseMetadata(meta: Node | undefined): KestrelMetadata | undefined {
  if (!meta) return undefined;
  const key = Object.keys(meta).find((k) => k.endsWith(':instance') || k === 'instance');
  if (!key) return undefined;
  const inst = child(meta, key)!;
  const prefix = key.includes(':') ? key.slice(0, key.indexOf(':') + 1) : '';
  const k = (name: string) => child(inst, prefix + name);
  const flavor = k('flavor');
  return {
    uuid: text(k('uuid')) ?? '',
    displayName: text(k('name')) ?? '',
    projectId: attr(k('project'), 'uuid') ?? '',
    flavor: {
      id: attr(flavor, 'id') ?? '',
      name: attr(flavor, 'name') ?? '',
      vcpus: num(attr(flavor, 'vcpus')),
      memoryMb: num(attr(flavor, 'memory_mb')),
      rootGb: num(attr(flavor, 'root_gb')),
    },
    imageId: attr(k('image'), 'uuid') ?? '',
    createdAt: text(k('created_at')) ?? '',
    nestedVirt: text(k('nested_virt')) === 'true',
  };
}

function parseDisk(d: Node): DiskDevice | undefined {
  const driver = child(d, 'driver');
  const source = child(d, 'source');
  const target = child(d, 'target');
  const common = {
    device: (attr(d, 'device') ?? 'disk') as DiskDevice['device'],
    driver: {
      name: 'qemu' as const,
      type: (attr(driver, 'type') ?? 'raw') as 'qcow2' | 'raw',
      cache: attr(driver, 'cache'),
      io: attr(driver, 'io'),
      discard: attr(driver, 'discard'),
      ...(attr(driver, 'iommu') === 'on' ? { iommu: true } : {}),
    },
    target: {
      dev: attr(target, 'dev') ?? '',
      bus: (attr(target, 'bus') ?? 'virtio') as DiskDevice['target']['bus'],
    },
    readonly: child(d, 'readonly') !== undefined || undefined,
    bootOrder:
      attr(child(d, 'boot'), 'order') === undefined ? undefined : num(attr(child(d, 'boot'), 'order')),
  };
  switch (attr(d, 'type')) {
    case 'file':
      return { ...common, type: 'file', file: attr(source, 'file') ?? '' };
    case 'block':
      return { ...common, type: 'block', dev: attr(source, 'dev') ?? '' };
    case 'network': {
      const auth = child(d, 'auth');
      const secret = child(auth, 'secret');
      return {
        ...common,
        type: 'network',
        protocol: 'rbd',
        name: attr(source, 'name') ?? '',
        hosts: children(source, 'host').map((h) => ({
          name: attr(h, 'name') ?? '',
          port: num(attr(h, 'port')),
        })),
        auth: auth
          ? {
              username: attr(auth, 'username') ?? '',
              secretType: 'ceph',
              secretUuid: attr(secret, 'uuid') ?? '',
            }
          : undefined,
      };
    }
    case undefined:
    default:
      return undefined;
  }
}

function parseSysinfo(node: Node | undefined): SmbiosSystem | undefined {
  if (!node || attr(node, 'type') !== 'smbios') return undefined;
  const entries = new Map(
    children(child(node, 'system'), 'entry').map((e) => [attr(e, 'name') ?? '', text(e)?.trim() ?? '']),
  );
  const out: SmbiosSystem = {
    manufacturer: entries.get('manufacturer') ?? '',
    product: entries.get('product') ?? '',
    serial: entries.get('serial') ?? '',
    uuid: entries.get('uuid') ?? '',
    family: entries.get('family') ?? '',
  };
  if (entries.has('version')) out.version = entries.get('version');
  return out;
}

function parseYesNo(s: string | undefined): boolean | undefined {
  return s === undefined ? undefined : s === 'yes' || s === 'on';
}

/** A device's <driver iommu='on'/> (SEV guests' virtio devices). */
const iommuOn = (node: unknown): boolean => attr(child(node, 'driver'), 'iommu') === 'on';

/** Parses a domain XML document (as rendered, or as libvirt returns it from GET_XML_DESC). */
export function parseDomain(xml: string): Domain {
  const doc = parseXml(xml);
  const d = child(doc, 'domain');
  if (!d) throw new Error('not a libvirt domain XML document (no <domain> root)');
  const dom = emptyDomain(
    text(child(d, 'name')) ?? '',
    text(child(d, 'uuid')) ?? '',
    (attr(d, 'type') ?? 'qemu') as 'kvm' | 'qemu',
  );
  const title = child(d, 'title');
  if (title) dom.title = text(title);
  dom.metadata = parseMetadata(child(d, 'metadata'));
  if (!dom.metadata) delete dom.metadata;
  const mem = child(d, 'memory');
  dom.memoryKib = toKib(text(mem), attr(mem, 'unit'));
  dom.vcpus = num(text(child(d, 'vcpu')), 1);
  parseTuning(d, dom);
  const ls = child(d, 'launchSecurity');
  if (ls && attr(ls, 'type') === 'sev') {
    const n = (name: string) =>
      text(child(ls, name)) === undefined ? undefined : num(text(child(ls, name)));
    dom.launchSecurity = { type: 'sev', policy: text(child(ls, 'policy'))?.trim() ?? '' };
    if (n('cbitpos') !== undefined) dom.launchSecurity.cbitpos = n('cbitpos');
    if (n('reducedPhysBits') !== undefined) dom.launchSecurity.reducedPhysBits = n('reducedPhysBits');
  }

  const os = child(d, 'os');
  const type = child(os, 'type');
  dom.os.arch = attr(type, 'arch') ?? 'x86_64';
  dom.os.machine = attr(type, 'machine') ?? '';
  if (attr(os, 'firmware') === 'efi') dom.os.firmware = 'efi';
  const fw = child(os, 'firmware');
  if (fw) {
    dom.os.firmwareFeatures = children(fw, 'feature').map((f) => ({
      name: attr(f, 'name') ?? '',
      enabled: attr(f, 'enabled') === 'yes',
    }));
  }
  const loader = child(os, 'loader');
  if (loader && text(loader)) {
    dom.os.loader = {
      path: text(loader)!.trim(),
      readonly: attr(loader, 'readonly') === 'yes',
      type: (attr(loader, 'type') ?? 'rom') as 'pflash' | 'rom',
      secure: parseYesNo(attr(loader, 'secure')),
    };
    if (dom.os.loader.secure === undefined) delete dom.os.loader.secure;
  }
  const nvram = child(os, 'nvram');
  if (nvram && text(nvram)) dom.os.nvram = { path: text(nvram)!.trim(), template: attr(nvram, 'template') };
  const kernel = text(child(os, 'kernel'));
  if (kernel) dom.os.kernel = kernel;
  const initrd = text(child(os, 'initrd'));
  if (initrd) dom.os.initrd = initrd;
  const cmdline = child(os, 'cmdline');
  if (cmdline) dom.os.cmdline = text(cmdline);
  dom.os.bootDevices = children(os, 'boot').map((b) => attr(b, 'dev') as 'hd' | 'cdrom' | 'network');
  if (attr(child(os, 'smbios'), 'mode') === 'sysinfo') dom.os.smbios = 'sysinfo';
  const sysinfo = parseSysinfo(child(d, 'sysinfo'));
  if (sysinfo) dom.sysinfo = sysinfo;

  const features = child(d, 'features');
  dom.features = { acpi: child(features, 'acpi') !== undefined, apic: child(features, 'apic') !== undefined };
  const smm = child(features, 'smm');
  if (smm) dom.features.smm = attr(smm, 'state') !== 'off';
  const cpu = child(d, 'cpu');
  if (cpu) dom.cpu = parseCpu(cpu);
  const clock = child(d, 'clock');
  if (clock) dom.clock = { offset: (attr(clock, 'offset') ?? 'utc') as 'utc' | 'localtime' };
  dom.onPoweroff = (text(child(d, 'on_poweroff')) ?? 'destroy') as Domain['onPoweroff'];
  dom.onReboot = (text(child(d, 'on_reboot')) ?? 'restart') as Domain['onReboot'];
  dom.onCrash = (text(child(d, 'on_crash')) ?? 'destroy') as Domain['onCrash'];

  const devs = child(d, 'devices');
  const emulator = text(child(devs, 'emulator'));
  if (emulator) dom.devices.emulator = emulator;
  for (const disk of children(devs, 'disk')) {
    const p = parseDisk(disk);
    if (p) dom.devices.disks.push(p);
  }
  dom.devices.controllers = children(devs, 'controller').map((c) => ({
    type: attr(c, 'type') as 'scsi',
    index: num(attr(c, 'index')),
    model: attr(c, 'model'),
    ...(iommuOn(c) ? { iommu: true } : {}),
  }));
  dom.devices.interfaces = children(devs, 'interface')
    .filter((i) => attr(i, 'type') === 'network' || attr(i, 'type') === 'bridge')
    .map((i) => ({
      ...(attr(i, 'type') === 'bridge'
        ? {
            type: 'bridge' as const,
            bridge: attr(child(i, 'source'), 'bridge') ?? '',
            ...(attr(child(i, 'target'), 'dev') ? { targetDev: attr(child(i, 'target'), 'dev') } : {}),
          }
        : { type: 'network' as const, network: attr(child(i, 'source'), 'network') ?? '' }),
      model: (attr(child(i, 'model'), 'type') ?? 'virtio') as 'virtio',
      driver: attr(child(i, 'driver'), 'name') as 'vhost' | undefined,
      mac: attr(child(i, 'mac'), 'address'),
      ...(iommuOn(i) ? { iommu: true } : {}),
    }));
  dom.devices.serials = children(devs, 'serial').map((s) => ({
    type: (attr(s, 'type') ?? 'pty') as 'file' | 'pty',
    path: attr(child(s, 'source'), 'path'),
    ...(child(s, 'log')
      ? {
          log: {
            file: attr(child(s, 'log'), 'file') ?? '',
            append: attr(child(s, 'log'), 'append') === 'on',
          },
        }
      : {}),
    port: num(attr(child(s, 'target'), 'port')),
  }));
  dom.devices.graphics = children(devs, 'graphics')
    .filter((g) => attr(g, 'type') === 'vnc')
    .map((g) => {
      const l = child(g, 'listen');
      if (attr(l, 'type') === 'socket' || attr(g, 'socket') !== undefined) {
        const socket = attr(l, 'socket') ?? attr(g, 'socket');
        return { type: 'vnc' as const, listen: { type: 'socket' as const, ...(socket ? { socket } : {}) } };
      }
      const port = num(attr(g, 'port') ?? '-1');
      return {
        type: 'vnc' as const,
        listen: {
          type: 'address' as const,
          address: attr(l, 'address') ?? attr(g, 'listen') ?? '127.0.0.1',
          ...(port > 0 ? { port } : {}),
        },
      };
    });
  dom.devices.videos = children(devs, 'video').map((v) => ({
    model: (attr(child(v, 'model'), 'type') ?? 'vga') as 'vga',
  }));
  dom.devices.channels = children(devs, 'channel')
    .filter((c) => attr(c, 'type') === 'unix')
    .map((c) => ({
      type: 'unix' as const,
      path: attr(child(c, 'source'), 'path'),
      targetType: 'virtio' as const,
      targetName: attr(child(c, 'target'), 'name') ?? '',
    }));
  const balloon = child(devs, 'memballoon');
  if (balloon) {
    const period = attr(child(balloon, 'stats'), 'period');
    dom.devices.memballoon = { model: attr(balloon, 'model') as 'virtio' | 'none' };
    if (period !== undefined) dom.devices.memballoon.statsPeriod = num(period);
    if (iommuOn(balloon)) dom.devices.memballoon.iommu = true;
  }
  dom.devices.rngs = children(devs, 'rng').map((r) => {
    const rate = child(r, 'rate');
    return {
      model: 'virtio' as const,
      backend: text(child(r, 'backend'))?.trim() ?? '/dev/urandom',
      ...(rate ? { rate: { bytes: num(attr(rate, 'bytes')), period: num(attr(rate, 'period')) } } : {}),
      ...(iommuOn(r) ? { iommu: true } : {}),
    };
  });
  return dom;
}
