// The host half of the typed façade: versions, hostname, capabilities, node info, CPU models.
import { procedures as P } from './procedures.js';
import type { LibvirtClient } from './client.js';

export interface NodeInfo {
  model: string;
  /** KiB */
  memoryKiB: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

export interface HypervisorTarget {
  emulator?: string;
  arch?: string;
  machine?: string;
  /** 'kvm' or 'qemu' */
  virttype?: string;
}

/** virConnectCompareCPU results. */
export const CpuCompareResult = { ERROR: -1, INCOMPATIBLE: 0, IDENTICAL: 1, SUPERSET: 2 } as const;

/** virConnectBaselineCPUFlags (baselineCpu, baselineHypervisorCpu). */
export const BaselineCpuFlags = { EXPAND_FEATURES: 1, MIGRATABLE: 2 } as const;

/** Splits libvirt's major*1e6 + minor*1e3 + micro version number. */
export function splitVersion(v: number): { major: number; minor: number; micro: number; text: string } {
  const major = Math.floor(v / 1_000_000);
  const minor = Math.floor((v % 1_000_000) / 1000);
  const micro = v % 1000;
  return { major, minor, micro, text: `${major}.${minor}.${micro}` };
}

function toSafeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} ${v} does not fit a JS number`);
  return Number(v);
}

export class HostApi {
  constructor(private readonly client: LibvirtClient) {}

  /** Hypervisor version as major*1e6+minor*1e3+micro (QEMU 7.2.22 → 7002022; test driver → 2). */
  async getVersion(): Promise<number> {
    const r = await this.client.call(P.connectGetVersion, undefined);
    return toSafeNumber(r.hvVer, 'hypervisor version');
  }

  /** libvirt version as major*1e6+minor*1e3+micro (9.0.0 → 9000000). */
  async getLibVersion(): Promise<number> {
    const r = await this.client.call(P.connectGetLibVersion, undefined);
    return toSafeNumber(r.libVer, 'libvirt version');
  }

  /** "QEMU", "TEST", … */
  async getType(): Promise<string> {
    return (await this.client.call(P.connectGetType, undefined)).type;
  }

  async getHostname(): Promise<string> {
    return (await this.client.call(P.connectGetHostname, undefined)).hostname;
  }

  /** The host capabilities XML (virConnectGetCapabilities). */
  async getCapabilities(): Promise<string> {
    return (await this.client.call(P.connectGetCapabilities, undefined)).capabilities;
  }

  /** The domain capabilities XML; slow the first time (QEMU probing): cache it. */
  async getDomainCapabilities(target: HypervisorTarget = {}, flags = 0, timeoutMs?: number): Promise<string> {
    const r = await this.client.call(
      P.connectGetDomainCapabilities,
      {
        emulatorbin: target.emulator ?? null,
        arch: target.arch ?? null,
        machine: target.machine ?? null,
        virttype: target.virttype ?? null,
        flags,
      },
      { timeoutMs },
    );
    return r.capabilities;
  }

  async getNodeInfo(): Promise<NodeInfo> {
    const r = await this.client.call(P.nodeGetInfo, undefined);
    return {
      model: r.model,
      memoryKiB: toSafeNumber(r.memory, 'node memory'),
      cpus: r.cpus,
      mhz: r.mhz,
      nodes: r.nodes,
      sockets: r.sockets,
      cores: r.cores,
      threads: r.threads,
    };
  }

  /** CPU model names the hypervisor knows for an architecture (e.g. "x86_64"). */
  async getCpuModelNames(arch: string, flags = 0): Promise<string[]> {
    const r = await this.client.call(P.connectGetCpuModelNames, { arch, needResults: 1, flags });
    return r.models;
  }

  /** virConnectCompareHypervisorCPU: one of CpuCompareResult. Flags: FAIL_INCOMPATIBLE 1, VALIDATE_XML 2. */
  async compareHypervisorCpu(cpuXml: string, target: HypervisorTarget = {}, flags = 0): Promise<number> {
    const r = await this.client.call(P.connectCompareHypervisorCpu, {
      emulator: target.emulator ?? null,
      arch: target.arch ?? null,
      machine: target.machine ?? null,
      virttype: target.virttype ?? null,
      xmlCPU: cpuXml,
      flags,
    });
    return r.result;
  }

  /** virConnectBaselineHypervisorCPU: the CPU XML all given CPUs can run. Flags: EXPAND_FEATURES 1, MIGRATABLE 2. */
  async baselineHypervisorCpu(cpuXmls: string[], target: HypervisorTarget = {}, flags = 0): Promise<string> {
    const r = await this.client.call(P.connectBaselineHypervisorCpu, {
      emulator: target.emulator ?? null,
      arch: target.arch ?? null,
      machine: target.machine ?? null,
      virttype: target.virttype ?? null,
      xmlCPUs: cpuXmls,
      flags,
    });
    return r.cpu;
  }

  /** virConnectCompareCPU: the CPU XML against this host's CPU (CpuCompareResult). */
  async compareCpu(cpuXml: string, flags = 0): Promise<number> {
    return (await this.client.call(P.connectCompareCpu, { xml: cpuXml, flags })).result;
  }

  /**
   * virConnectBaselineCPU: from libvirt's CPU map, independent of the hypervisor. With flag
   * EXPAND_FEATURES (1) it lists a named model's own features (how Nova matches models to traits).
   */
  async baselineCpu(cpuXmls: string[], flags = 0): Promise<string> {
    return (await this.client.call(P.connectBaselineCpu, { xmlCPUs: cpuXmls, flags })).cpu;
  }

  /** virConnectSupportsFeature (internal VIR_DRV_FEATURE_* numbers). */
  async supportsFeature(feature: number): Promise<boolean> {
    return (await this.client.call(P.connectSupportsFeature, { feature })).supported !== 0;
  }
}
