// What the driver reports about its host: hostStatus() for the resource tracker (sizes, CPU,
// traits, SEV slots) and the CPU feature lists behind the traits and custom-model matching.
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BaselineCpuFlags, isNoSupport } from '../../libvirt/index.js';
import { SevHostCapabilities } from '../../host/sev.js';
import type { HostStatus } from '../driver.js';
import type { DriverContext } from './driver-context.js';
import { cpuFeatureNames } from './host-caps.js';
import { renderCpuXml } from './domain/render.js';
import { DEFAULTS } from './options.js';
import { cpuTraits } from './traits.js';

/** CPU feature lists from libvirt's CPU map, each model asked once. */
export class CpuFeatures {
  private readonly modelFeatureCache = new Map<string, Promise<string[] | undefined>>();

  constructor(private readonly ctx: DriverContext) {}

  /**
   * A <cpu> definition's full feature list (undefined: unsupported). baseline-CPU, not the
   * hypervisor variant: a model's own features decide trait matching, as in Nova; whether the
   * host can run them is the start-up compare's job.
   */
  async expand(cpuXml: string): Promise<string[] | undefined> {
    try {
      return cpuFeatureNames(await this.ctx.lv.host.baselineCpu([cpuXml], BaselineCpuFlags.EXPAND_FEATURES));
    } catch (e) {
      if (isNoSupport(e)) return undefined;
      throw e;
    }
  }

  modelFeatures(model: string): Promise<string[] | undefined> {
    let p = this.modelFeatureCache.get(model);
    if (!p) {
      p = this.expand(renderCpuXml({ arch: this.ctx.caps.arch, model, features: [] }));
      this.modelFeatureCache.set(model, p);
      p.catch(() => this.modelFeatureCache.delete(model));
    }
    return p;
  }
}

export class HostStatusReader {
  /** AMD SEV: domain capabilities per (arch, machine type), asked once (host/sev.ts). */
  private sev?: SevHostCapabilities;

  constructor(
    private readonly ctx: DriverContext,
    private readonly cpu: CpuFeatures,
  ) {}

  async hostStatus(): Promise<HostStatus> {
    const { lv, opts, policy, caps, host } = this.ctx;
    const [hostname, version, node] = await Promise.all([
      lv.host.getHostname(),
      lv.host.getVersion(),
      lv.host.getNodeInfo(),
    ]);
    return {
      hostname,
      hypervisorType: 'QEMU',
      hypervisorVersion: version,
      virtType: policy.virtType,
      vcpus: node.cpus,
      memoryMb: Math.floor(node.memoryKiB / 1024),
      localDiskGb: await localDiskGb(opts.instancesPath ?? DEFAULTS.instancesPath),
      cpuInfo: {
        arch: caps.arch,
        model: caps.cpuModel,
        vendor: caps.cpuVendor,
        features: [...host.hostCpuFeatures],
      },
      ...(await this.sevStatus()),
      ...(caps.numaCells.length ? { numaCells: caps.numaCells } : {}),
    };
  }

  sevCaps(): SevHostCapabilities {
    const virttype = this.ctx.policy.virtType;
    this.sev ??= new SevHostCapabilities((arch, machine) =>
      this.ctx.lv.host.getDomainCapabilities({ arch, machine, virttype }),
    );
    return this.sev;
  }

  /** CPU traits plus SEV's, and MEM_ENCRYPTION_CONTEXT slots (0 without SEV). */
  private async sevStatus(): Promise<Pick<HostStatus, 'traits' | 'memEncryptionSlots'>> {
    const { caps, host, policy, opts, log } = this.ctx;
    const arch = caps.arch;
    const s = await this.sevCaps()
      .hostStatus(arch, host.machineTypes, policy.machineTypes[arch], opts.numMemoryEncryptedGuests, (m) =>
        log.warn(m),
      )
      .catch((err: unknown) => {
        log.warn({ err }, 'AMD SEV detection failed; reporting no SEV slots');
        return { slots: 0, traits: [] as string[] };
      });
    return { traits: [...(await this.cpuTraits()), ...s.traits].sort(), memEncryptionSlots: s.slots };
  }

  private async cpuTraits(): Promise<string[]> {
    const { policy, host } = this.ctx;
    const mode = policy.cpuMode ?? 'host-model';
    let features: string[] = [];
    if (mode === 'host-model' || mode === 'host-passthrough') features = host.hostCpuFeatures;
    else if (mode === 'custom') {
      for (const m of policy.cpuModels) features.push(...((await this.cpu.modelFeatures(m)) ?? []));
    } else features = (await this.cpu.modelFeatures('qemu64')) ?? [];
    return cpuTraits(features, policy.cpuExtraFlags);
  }
}

/** The size of the filesystem holding the instances directory (its nearest existing parent). */
async function localDiskGb(path: string): Promise<number> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return Math.floor((s.blocks * s.bsize) / 1024 ** 3);
    } catch {
      if (p === dirname(p)) return 0;
    }
  }
}
