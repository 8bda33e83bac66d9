// Domain → libvirt XML. Deterministic: elements and attributes in a fixed order, no clock or
// randomness, so golden files compare byte for byte. All text goes through the builder,
// which escapes it (user strings such as display names never reach XML unescaped).
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import {
  KESTREL_XMLNS,
  type Domain,
  type DiskDevice,
  type DomainCpu,
  type KestrelMetadata,
  type SmbiosSystem,
} from './types.js';

type Attrs = Record<string, string | number | boolean | undefined>;

/**
 * A new XML document: the one way Kestrel writes XML. The builder escapes markup (< > & ' ")
 * in text and attributes; characters that XML 1.0 cannot carry at all, even escaped (C0
 * controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF), become U+FFFD, so no user string
 * can make libvirt's parser fail or change the document's structure.
 */
export function xmlDocument(): XMLBuilder {
  return create({ invalidCharReplacement: '\uFFFD' });
}

function attrs(a: Attrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
  }
  return out;
}

function leaf(parent: XMLBuilder, name: string, a: Attrs = {}, text?: string | number): XMLBuilder {
  const e = parent.ele(name, attrs(a));
  if (text !== undefined) e.txt(String(text));
  return e;
}

export function renderMetadata(parent: XMLBuilder, m: KestrelMetadata): void {
  const inst = parent.ele(KESTREL_XMLNS, 'kestrel:instance');
  const k = (name: string, a: Attrs = {}, text?: string | number) => leaf(inst, `kestrel:${name}`, a, text);
  k('uuid', {}, m.uuid);
  k('name', {}, m.displayName);
  k('project', { uuid: m.projectId });
  k('flavor', {
    id: m.flavor.id,
    name: m.flavor.name,
    vcpus: m.flavor.vcpus,
    memory_mb: m.flavor.memoryMb,
    root_gb: m.flavor.rootGb,
  });
  k('image', { uuid: m.imageId });
  k('created_at', {}, m.createdAt);
  k('nested_virt', {}, m.nestedVirt ? 'true' : 'false');
}

export function renderCpu(parent: XMLBuilder, cpu: DomainCpu): void {
  const e = parent.ele('cpu', attrs({ mode: cpu.mode, match: cpu.match }));
  if (cpu.model) leaf(e, 'model', {}, cpu.model);
  if (cpu.topology) {
    const t = cpu.topology;
    leaf(e, 'topology', { sockets: t.sockets, dies: t.dies, cores: t.cores, threads: t.threads });
  }
  for (const f of cpu.features) leaf(e, 'feature', { policy: f.policy, name: f.name });
  if (cpu.numa?.length) {
    const n = e.ele('numa');
    for (const c of cpu.numa) leaf(n, 'cell', { id: c.id, cpus: c.cpus, memory: c.memoryKib, unit: 'KiB' });
  }
}

function renderMemoryTuning(root: XMLBuilder, dom: Domain): void {
  const mb = dom.memoryBacking;
  if (mb && (mb.locked || mb.hugepages?.length)) {
    const e = root.ele('memoryBacking');
    if (mb.hugepages?.length) {
      const h = e.ele('hugepages');
      for (const p of mb.hugepages) leaf(h, 'page', { size: p.sizeKib, unit: 'KiB', nodeset: p.nodeset });
    }
    if (mb.locked) e.ele('locked');
  }
}

function renderCpuTuning(root: XMLBuilder, dom: Domain): void {
  if (dom.cputune) {
    const e = root.ele('cputune');
    for (const p of dom.cputune.vcpupins) leaf(e, 'vcpupin', { vcpu: p.vcpu, cpuset: p.cpuset });
    if (dom.cputune.emulatorpin) leaf(e, 'emulatorpin', { cpuset: dom.cputune.emulatorpin });
  }
  if (dom.numatune) {
    const e = root.ele('numatune');
    leaf(e, 'memory', { mode: dom.numatune.memory.mode, nodeset: dom.numatune.memory.nodeset });
    for (const m of dom.numatune.memnodes)
      leaf(e, 'memnode', { cellid: m.cellid, mode: m.mode, nodeset: m.nodeset });
  }
}

export function renderDisk(parent: XMLBuilder, d: DiskDevice): void {
  const e = parent.ele('disk', attrs({ type: d.type, device: d.device }));
  leaf(e, 'driver', {
    name: d.driver.name,
    type: d.driver.type,
    cache: d.driver.cache,
    io: d.driver.io,
    discard: d.driver.discard,
    iommu: d.driver.iommu ? 'on' : undefined,
  });
  switch (d.type) {
    case 'file':
      leaf(e, 'source', { file: d.file });
      break;
    case 'block':
      leaf(e, 'source', { dev: d.dev });
      break;
    case 'network': {
      if (d.auth) {
        const a = e.ele('auth', attrs({ username: d.auth.username }));
        leaf(a, 'secret', { type: d.auth.secretType, uuid: d.auth.secretUuid });
      }
      const s = e.ele('source', attrs({ protocol: d.protocol, name: d.name }));
      for (const h of d.hosts) leaf(s, 'host', { name: h.name, port: h.port });
      break;
    }
  }
  leaf(e, 'target', { dev: d.target.dev, bus: d.target.bus });
  if (d.bootOrder !== undefined) leaf(e, 'boot', { order: d.bootOrder });
  if (d.readonly) leaf(e, 'readonly');
}

function renderOs(root: XMLBuilder, dom: Domain): void {
  const o = dom.os;
  const os = root.ele('os', attrs({ firmware: o.firmware }));
  leaf(os, 'type', { arch: o.arch, machine: o.machine }, 'hvm');
  if (o.firmwareFeatures?.length) {
    const fw = os.ele('firmware');
    for (const f of o.firmwareFeatures) leaf(fw, 'feature', { enabled: f.enabled, name: f.name });
  }
  if (o.loader) {
    leaf(
      os,
      'loader',
      { readonly: o.loader.readonly, secure: o.loader.secure, type: o.loader.type },
      o.loader.path,
    );
  }
  if (o.nvram) leaf(os, 'nvram', { template: o.nvram.template }, o.nvram.path);
  if (o.kernel) leaf(os, 'kernel', {}, o.kernel);
  if (o.initrd) leaf(os, 'initrd', {}, o.initrd);
  if (o.cmdline !== undefined) leaf(os, 'cmdline', {}, o.cmdline);
  for (const b of o.bootDevices) leaf(os, 'boot', { dev: b });
  if (o.smbios) leaf(os, 'smbios', { mode: o.smbios });
}

const SMBIOS_ENTRIES = ['manufacturer', 'product', 'version', 'serial', 'uuid', 'family'] as const;

function renderSysinfo(root: XMLBuilder, s: SmbiosSystem): void {
  const system = root.ele('sysinfo', { type: 'smbios' }).ele('system');
  for (const name of SMBIOS_ENTRIES) {
    if (s[name] !== undefined) leaf(system, 'entry', { name }, s[name]);
  }
}

function renderDevices(root: XMLBuilder, dom: Domain): void {
  const d = dom.devices;
  const devs = root.ele('devices');
  if (d.emulator) leaf(devs, 'emulator', {}, d.emulator);
  for (const disk of d.disks) renderDisk(devs, disk);
  for (const c of d.controllers) {
    const e = leaf(devs, 'controller', { type: c.type, index: c.index, model: c.model });
    if (c.iommu) leaf(e, 'driver', { iommu: 'on' });
  }
  for (const n of d.interfaces) {
    const e = devs.ele('interface', { type: n.type });
    if (n.mac) leaf(e, 'mac', { address: n.mac });
    leaf(e, 'source', n.type === 'bridge' ? { bridge: n.bridge } : { network: n.network });
    if (n.targetDev) leaf(e, 'target', { dev: n.targetDev });
    leaf(e, 'model', { type: n.model });
    if (n.driver || n.iommu) leaf(e, 'driver', { name: n.driver, iommu: n.iommu ? 'on' : undefined });
  }
  for (const s of d.serials) {
    const e = devs.ele('serial', { type: s.type });
    if (s.path) leaf(e, 'source', { path: s.path });
    if (s.log) leaf(e, 'log', { file: s.log.file, append: s.log.append ? 'on' : 'off' });
    leaf(e, 'target', { port: s.port });
  }
  for (const c of d.channels) {
    const e = devs.ele('channel', { type: c.type });
    if (c.path) leaf(e, 'source', { mode: 'bind', path: c.path });
    leaf(e, 'target', { type: c.targetType, name: c.targetName });
  }
  for (const g of d.graphics) {
    const l = g.listen;
    const e =
      l.type === 'socket'
        ? devs.ele('graphics', { type: g.type, socket: l.socket })
        : devs.ele('graphics', {
            type: g.type,
            port: l.port ?? -1,
            autoport: l.port === undefined ? 'yes' : 'no',
            listen: l.address,
          });
    if (l.type === 'socket') leaf(e, 'listen', { type: 'socket', socket: l.socket });
    else leaf(e, 'listen', { type: 'address', address: l.address });
  }
  for (const v of d.videos) leaf(devs.ele('video'), 'model', { type: v.model });
  if (d.memballoon) {
    const e = devs.ele('memballoon', { model: d.memballoon.model });
    if (d.memballoon.statsPeriod !== undefined) leaf(e, 'stats', { period: d.memballoon.statsPeriod });
    if (d.memballoon.iommu) leaf(e, 'driver', { iommu: 'on' });
  }
  for (const r of d.rngs) {
    const e = devs.ele('rng', { model: r.model });
    if (r.rate) leaf(e, 'rate', { bytes: r.rate.bytes, period: r.rate.period });
    leaf(e, 'backend', { model: 'random' }, r.backend);
    if (r.iommu) leaf(e, 'driver', { iommu: 'on' });
  }
}

/** Renders a domain as libvirt XML (pretty-printed, two-space indent, no XML declaration). */
export function renderDomain(dom: Domain): string {
  const root = xmlDocument().ele('domain', { type: dom.type });
  leaf(root, 'name', {}, dom.name);
  leaf(root, 'uuid', {}, dom.uuid);
  if (dom.title !== undefined) leaf(root, 'title', {}, dom.title);
  if (dom.metadata) renderMetadata(root.ele('metadata'), dom.metadata);
  leaf(root, 'memory', { unit: 'KiB' }, dom.memoryKib);
  leaf(root, 'currentMemory', { unit: 'KiB' }, dom.memoryKib);
  renderMemoryTuning(root, dom);
  leaf(root, 'vcpu', { placement: 'static' }, dom.vcpus);
  if (dom.sysinfo) renderSysinfo(root, dom.sysinfo);
  renderCpuTuning(root, dom);
  renderOs(root, dom);
  const f = dom.features;
  if (f.acpi || f.apic || f.smm !== undefined) {
    const fe = root.ele('features');
    if (f.acpi) leaf(fe, 'acpi');
    if (f.apic) leaf(fe, 'apic');
    if (f.smm !== undefined) leaf(fe, 'smm', { state: f.smm ? 'on' : 'off' });
  }
  if (dom.cpu) renderCpu(root, dom.cpu);
  if (dom.clock) leaf(root, 'clock', { offset: dom.clock.offset });
  leaf(root, 'on_poweroff', {}, dom.onPoweroff);
  leaf(root, 'on_reboot', {}, dom.onReboot);
  leaf(root, 'on_crash', {}, dom.onCrash);
  renderDevices(root, dom);
  const ls = dom.launchSecurity;
  if (ls) {
    const e = root.ele('launchSecurity', { type: ls.type });
    if (ls.cbitpos !== undefined) leaf(e, 'cbitpos', {}, ls.cbitpos);
    if (ls.reducedPhysBits !== undefined) leaf(e, 'reducedPhysBits', {}, ls.reducedPhysBits);
    leaf(e, 'policy', {}, ls.policy);
  }
  return root.end({ prettyPrint: true, headless: true, indent: '  ' }) + '\n';
}

/** A libvirt secret for a Ceph client's key (ceph-secret.ts). */
export function renderCephSecretXml(uuid: string, user: string): string {
  const secret = xmlDocument().ele('secret', { ephemeral: 'no', private: 'yes' });
  leaf(secret, 'uuid', {}, uuid);
  leaf(secret.ele('usage', { type: 'ceph' }), 'name', {}, `client.${user} secret ${uuid}`);
  return secret.end({ headless: true });
}

/** A lone <cpu> element (for compare/baseline-hypervisor-CPU calls). */
export function renderCpuXml(cpu: DomainCpu & { arch?: string }): string {
  const root = xmlDocument();
  const e = root.ele('cpu', attrs({ mode: cpu.mode, match: cpu.match }));
  if (cpu.arch) leaf(e, 'arch', {}, cpu.arch);
  if (cpu.model) leaf(e, 'model', {}, cpu.model);
  for (const f of cpu.features) leaf(e, 'feature', { policy: f.policy, name: f.name });
  return root.end({ headless: true });
}
