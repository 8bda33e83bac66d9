// The libvirt hypervisor driver: guests are persistent libvirt domains named
// `<prefix><uuid>`, tagged with Kestrel metadata, built by the configurators and driven
// through Kestrel's own RPC client (no command-line tools, no bindings). Power state follows libvirt's
// lifecycle events; syncPowerStates() covers missed ones.
//
// This class is the façade: start-up (init) and wiring live here, the operations in files by
// concern, all sharing one DriverContext (driver-context.ts):
//   lifecycle.ts     spawn, destroy, snapshot, the domain XML
//   power.ts         power off/on, reboot, pause, suspend/resume, live-migration check
//   guest-io.ts      info, console output, guest agent commands
//   power-events.ts  lifecycle/agent events, Kestrel's domains, syncPowerStates
//   host-status.ts   hostStatus, CPU feature lists, SEV capabilities
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { AgentTimeout, CpuCompareResult, LibvirtClient } from '../../libvirt/index.js';
import type {
  DisplayEndpoint,
  DriverEvents,
  HostStatus,
  HypervisorDriver,
  InstanceInfo,
  InstanceSpec,
  PowerState,
} from '../driver.js';
import { DriverContext } from './driver-context.js';
import { loadFirmwareDescriptors } from './firmware-descriptors.js';
import { agentCommand, consoleOutput, info } from './guest-io.js';
import { openSerialConsole, vncEndpoint } from './consoles.js';
import { parseCapabilities } from './host-caps.js';
import { CpuFeatures, HostStatusReader } from './host-status.js';
import { GuestLifecycle } from './lifecycle.js';
import { DEFAULTS, type LibvirtDriverOptions } from './options.js';
import * as power from './power.js';
import { ownDomains, subscribePowerEvents, syncPowerStates } from './power-events.js';
import { checkCpuConfig, checkKvmUsable, checkVersions } from './startup.js';

export class LibvirtDriver implements HypervisorDriver {
  readonly name = 'libvirt' as const;
  readonly events: DriverEvents = new EventEmitter() as DriverEvents;
  private readonly ctx: DriverContext;
  private ownsClient = false;
  private readonly detach: (() => void)[] = [];
  private readonly cpu: CpuFeatures;
  private readonly hostReader: HostStatusReader;
  private readonly lifecycle: GuestLifecycle;

  constructor(private readonly opts: LibvirtDriverOptions) {
    this.ctx = new DriverContext(opts);
    this.cpu = new CpuFeatures(this.ctx);
    this.hostReader = new HostStatusReader(this.ctx, this.cpu);
    this.lifecycle = new GuestLifecycle(this.ctx);
  }

  // ---- host --------------------------------------------------------------------------

  async init(): Promise<void> {
    const { ctx, opts: o } = this;
    if (!ctx.client) {
      ctx.client = o.client ?? (await LibvirtClient.connect({ uri: o.uri ?? DEFAULTS.uri, logger: ctx.log }));
      this.ownsClient = !o.client;
    }
    const lv = ctx.lv;
    checkVersions(
      await lv.host.getLibVersion(),
      await lv.host.getVersion(),
      o.minLibvirtVersion ?? DEFAULTS.minLibvirtVersion,
      o.minQemuVersion ?? DEFAULTS.minQemuVersion,
    );
    ctx.caps = parseCapabilities(await lv.host.getCapabilities());
    const arch = ctx.caps.arch;
    const guest = ctx.caps.guests[arch];
    checkKvmUsable(o.virtType, o.kvmProbe, Object.keys(guest?.domainTypes ?? {}));
    const hostCpuFeatures = await this.cpu.expand(ctx.caps.hostCpuXml);
    const target = { arch, virttype: o.virtType };
    const models = await checkCpuConfig(
      o.cpuMode,
      o.cpuModels ?? [],
      o.cpuModelExtraFlags ?? [],
      {
        arch,
        virtType: o.virtType,
        hostFeatures: hostCpuFeatures ?? [],
        cpuModelNames: () => lv.host.getCpuModelNames(arch),
        compareCpu: (xml) => lv.host.compareHypervisorCpu(xml, target),
        modelFeatures: (m) => this.cpu.modelFeatures(m),
      },
      o.skipCpuCompareAtStartup,
    );
    ctx.policy = {
      ...(o.vnc?.enabled ? { graphics: { listen: o.vnc.listen } } : {}),
      virtType: o.virtType,
      cpuMode: o.cpuMode,
      cpuModels: models,
      cpuExtraFlags: o.cpuModelExtraFlags ?? [],
      machineTypes: o.machineTypes ?? {},
      nvramDir: o.nvramDir ?? DEFAULTS.nvramDir,
    };
    ctx.host = {
      arch,
      emulator: guest?.emulator ?? '/usr/bin/qemu-system-x86_64',
      machineTypes: guest?.domainTypes[o.virtType] ?? {},
      hasVhostNet: existsSync(o.vhostNetPath ?? DEFAULTS.vhostNetPath),
      hostCpuFeatures: hostCpuFeatures ?? [],
      firmware: await loadFirmwareDescriptors(o.firmwareDirs),
      cpuModelFeatures: (m) => this.cpu.modelFeatures(m),
      sevCapabilities: (a, m) => this.hostReader.sevCaps().forMachine(a, m),
    };
    await subscribePowerEvents(ctx, this.events, this.detach);
  }

  async close(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    if (this.ctx.client && this.ownsClient) await this.ctx.client.close();
    this.ctx.client = undefined;
  }

  hostStatus(): Promise<HostStatus> {
    return this.hostReader.hostStatus();
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** The XML spawn would define (also used by the benchmark and golden checks). */
  buildXml(spec: InstanceSpec): Promise<string> {
    return this.lifecycle.buildXml(spec);
  }

  spawn(spec: InstanceSpec): Promise<void> {
    return this.lifecycle.spawn(spec);
  }

  destroy(uuid: string): Promise<void> {
    return this.lifecycle.destroy(uuid);
  }

  snapshot(
    uuid: string,
    targetPath: string,
    format: 'qcow2' | 'raw',
    copy?: (targetPath: string, format: 'qcow2' | 'raw') => Promise<void>,
  ): Promise<void> {
    return this.lifecycle.snapshot(uuid, targetPath, format, copy);
  }

  // ---- power -------------------------------------------------------------------------

  powerOff(uuid: string, timeoutSeconds: number): Promise<void> {
    return power.powerOff(this.ctx, uuid, timeoutSeconds);
  }

  powerOn(uuid: string): Promise<void> {
    return power.powerOn(this.ctx, uuid);
  }

  reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    return power.reboot(this.ctx, uuid, kind);
  }

  pause(uuid: string): Promise<void> {
    return power.pause(this.ctx, uuid);
  }

  unpause(uuid: string): Promise<void> {
    return power.unpause(this.ctx, uuid);
  }

  suspend(uuid: string): Promise<void> {
    return power.suspend(this.ctx, uuid);
  }

  resume(uuid: string): Promise<void> {
    return power.resume(this.ctx, uuid);
  }

  checkCanLiveMigrate(uuid: string): Promise<void> {
    return power.checkCanLiveMigrate(this.ctx, uuid);
  }

  // ---- guest I/O and power states ----------------------------------------------------

  consoleOutput(uuid: string, maxBytes = 64 * 1024): Promise<string> {
    return consoleOutput(this.ctx, uuid, maxBytes);
  }

  vncEndpoint(uuid: string): Promise<DisplayEndpoint> {
    return vncEndpoint(this.ctx, uuid);
  }

  openSerialConsole(uuid: string): Promise<Duplex> {
    return openSerialConsole(this.ctx, uuid);
  }

  info(uuid: string): Promise<InstanceInfo> {
    return info(this.ctx, uuid);
  }

  async list(): Promise<string[]> {
    return (await ownDomains(this.ctx)).map((d) => d.uuid);
  }

  syncPowerStates(): Promise<Map<string, PowerState>> {
    return syncPowerStates(this.ctx);
  }

  agentCommand(uuid: string, command: string, timeoutSeconds: number): Promise<string> {
    return agentCommand(this.ctx, uuid, command, timeoutSeconds);
  }

  /** Whether the agent of an instance has announced itself (from agent-lifecycle events). */
  isAgentConnected(uuid: string): boolean {
    return this.ctx.agentConnected.get(uuid) ?? false;
  }

  /** For the benchmark and tools: the client this driver talks through. */
  get libvirt(): LibvirtClient {
    return this.ctx.lv;
  }
}

export { AgentTimeout, CpuCompareResult };
