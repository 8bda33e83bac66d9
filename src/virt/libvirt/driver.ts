// The libvirt hypervisor driver: guests are persistent libvirt domains named
// `<prefix><uuid>`, tagged with Kestrel metadata, built by the configurators and driven
// through Kestrel's own RPC client (no virsh, no bindings). Power state follows libvirt's
// lifecycle events; syncPowerStates() covers missed ones.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  AgentTimeout,
  CpuCompareResult,
  DomainState,
  LibvirtClient,
  MetadataType,
  ShutdownFlags,
  UndefineFlags,
  isAgentUnresponsive,
  isLibvirtError,
  isNoDomain,
  isNoMetadata,
  isNoSupport,
  isOperationTimeout,
  type AgentLifecycleEvent,
  type DomainRef,
  type LifecycleEvent as LibvirtLifecycleEvent,
} from '../../libvirt/index.js';
import { KeyedMutex } from '../../util/lock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { withRevert } from '../../util/revert.js';
import {
  PowerState,
  type DriverEvents,
  type HostStatus,
  type HypervisorDriver,
  type InstanceInfo,
  type InstanceSpec,
} from '../driver.js';
import { VirtError, instanceNotFound } from '../errors.js';
import { domainNameFor, isUuid } from '../naming.js';
import { nestedConflict } from '../nested.js';
import { mapLifecycle, powerStateFromDomainState } from '../power-state.js';
import { baselineCpu } from './baseline-cpu.js';
import { AGENT_CHANNEL } from './configure/agent.js';
import { buildDomain, type GuestPolicy, type HostFacts } from './configure/index.js';
import { parseDomain } from './domain/parse.js';
import { renderDomain } from './domain/render.js';
import { KESTREL_XMLNS, type Domain } from './domain/types.js';
import { operationFailure, startFailure, tailFile } from './failures.js';
import { loadFirmwareDescriptors } from './firmware-descriptors.js';
import { cpuFeatureNames, parseCapabilities, type HostCapabilities } from './host-caps.js';
import { DEFAULTS, type LibvirtDriverOptions } from './options.js';
import { snapshotDisk } from './snapshot.js';
import { ensureCephSecret } from './ceph-secret.js';
import { SevHostCapabilities } from '../../host/sev.js';
import { sevOperationConflict } from './configure/sev.js';
import { checkCpuConfig, checkKvmUsable, checkVersions } from './startup.js';
import { cpuTraits } from './traits.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LibvirtDriver implements HypervisorDriver {
  readonly name = 'libvirt' as const;
  readonly events: DriverEvents = new EventEmitter() as DriverEvents;
  private client: LibvirtClient | undefined;
  private ownsClient = false;
  private readonly log: Logger;
  private readonly locks = new KeyedMutex();
  private readonly prefix: string;
  private policy!: GuestPolicy;
  private host!: HostFacts;
  private caps!: HostCapabilities;
  /** AMD SEV: domain capabilities per (arch, machine type), asked once (host/sev.ts). */
  private sev?: SevHostCapabilities;
  private readonly modelFeatureCache = new Map<string, Promise<string[] | undefined>>();
  private readonly agentConnected = new Map<string, boolean>();
  private readonly detach: (() => void)[] = [];
  /** The ceph secret, made sure of once (retried after a failure). */
  private cephSecret?: Promise<void>;

  constructor(private readonly opts: LibvirtDriverOptions) {
    this.log = opts.log ?? silentLogger;
    this.prefix = opts.namePrefix ?? 'instance-';
  }

  // ---- host --------------------------------------------------------------------------

  private get lv(): LibvirtClient {
    if (!this.client) throw new Error('LibvirtDriver: call init() first');
    return this.client;
  }

  async init(): Promise<void> {
    const o = this.opts;
    if (!this.client) {
      this.client =
        o.client ?? (await LibvirtClient.connect({ uri: o.uri ?? DEFAULTS.uri, logger: this.log }));
      this.ownsClient = !o.client;
    }
    const lv = this.lv;
    checkVersions(
      await lv.host.getLibVersion(),
      await lv.host.getVersion(),
      o.minLibvirtVersion ?? DEFAULTS.minLibvirtVersion,
      o.minQemuVersion ?? DEFAULTS.minQemuVersion,
    );
    this.caps = parseCapabilities(await lv.host.getCapabilities());
    const arch = this.caps.arch;
    const guest = this.caps.guests[arch];
    checkKvmUsable(o.virtType, o.kvmProbe, Object.keys(guest?.domainTypes ?? {}));
    const hostCpuFeatures = await this.expand(this.caps.hostCpuXml);
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
        modelFeatures: (m) => this.modelFeatures(m),
      },
      o.skipCpuCompareAtStartup,
    );
    this.policy = {
      virtType: o.virtType,
      cpuMode: o.cpuMode,
      cpuModels: models,
      cpuExtraFlags: o.cpuModelExtraFlags ?? [],
      machineTypes: o.machineTypes ?? {},
      nvramDir: o.nvramDir ?? DEFAULTS.nvramDir,
    };
    this.host = {
      arch,
      emulator: guest?.emulator ?? '/usr/bin/qemu-system-x86_64',
      machineTypes: guest?.domainTypes[o.virtType] ?? {},
      hasVhostNet: existsSync(o.vhostNetPath ?? DEFAULTS.vhostNetPath),
      hostCpuFeatures: hostCpuFeatures ?? [],
      firmware: await loadFirmwareDescriptors(o.firmwareDirs),
      cpuModelFeatures: (m) => this.modelFeatures(m),
      sevCapabilities: (a, m) => this.sevCaps().forMachine(a, m),
    };
    await this.subscribeEvents();
  }

  /**
   * A <cpu> definition's full feature list (undefined: unsupported). baseline-CPU, not the
   * hypervisor variant: a model's own features decide trait matching, as in Nova; whether the
   * host can run them is the start-up compare's job.
   */
  private async expand(cpuXml: string): Promise<string[] | undefined> {
    try {
      return cpuFeatureNames(await baselineCpu(this.lv, [cpuXml]));
    } catch (e) {
      if (isNoSupport(e)) return undefined;
      throw e;
    }
  }

  private modelFeatures(model: string): Promise<string[] | undefined> {
    let p = this.modelFeatureCache.get(model);
    if (!p) {
      p = this.expand(`<cpu><arch>${this.caps.arch}</arch><model>${model}</model></cpu>`);
      this.modelFeatureCache.set(model, p);
      p.catch(() => this.modelFeatureCache.delete(model));
    }
    return p;
  }

  private async subscribeEvents(): Promise<void> {
    const lv = this.lv;
    const onLifecycle = (e: LibvirtLifecycleEvent) => this.onLifecycle(e);
    const onAgent = (e: AgentLifecycleEvent) => this.onAgent(e);
    // Events are not replayed after a reconnect: forget the agent states (they refill from the
    // next agent events) and let the compute layer resync power states (syncPowerStates()).
    const onReconnected = () => {
      this.agentConnected.clear();
      this.events.emit('reconnected');
    };
    lv.events.on('lifecycle', onLifecycle);
    lv.events.on('agent-lifecycle', onAgent);
    lv.on('reconnected', onReconnected);
    this.detach.push(
      () => lv.events.off('lifecycle', onLifecycle),
      () => lv.events.off('agent-lifecycle', onAgent),
      () => lv.off('reconnected', onReconnected),
    );
    await lv.subscribe('lifecycle');
    await lv.subscribe('agent-lifecycle');
  }

  /** The instance uuid of one of our domains, or undefined for someone else's. */
  private uuidOf(dom: DomainRef): string | undefined {
    if (!dom.name.startsWith(this.prefix)) return undefined;
    const uuid = dom.name.slice(this.prefix.length);
    return isUuid(uuid) && uuid === dom.uuidString ? uuid : undefined;
  }

  private onLifecycle(e: LibvirtLifecycleEvent): void {
    const uuid = this.uuidOf(e.domain);
    if (!uuid) return;
    const mapped = mapLifecycle(e.eventCode, e.detailCode);
    if (!mapped) return;
    if (mapped.kind === 'stopped' || mapped.kind === 'shutdown' || mapped.kind === 'suspended') {
      this.agentConnected.set(uuid, false);
    }
    this.events.emit('lifecycle', { uuid, ...mapped, at: Date.now() });
  }

  private onAgent(e: AgentLifecycleEvent): void {
    const uuid = this.uuidOf(e.domain);
    if (!uuid) return;
    const connected = e.state === 'connected';
    this.agentConnected.set(uuid, connected);
    this.events.emit('agent', { uuid, connected });
  }

  async close(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    if (this.client && this.ownsClient) await this.client.close();
    this.client = undefined;
  }

  async hostStatus(): Promise<HostStatus> {
    const lv = this.lv;
    const [hostname, version, node] = await Promise.all([
      lv.host.getHostname(),
      lv.host.getVersion(),
      lv.host.getNodeInfo(),
    ]);
    let localDiskGb = 0;
    const path = this.opts.instancesPath ?? DEFAULTS.instancesPath;
    for (let p = path; ; p = dirname(p)) {
      try {
        const s = await statfs(p);
        localDiskGb = Math.floor((s.blocks * s.bsize) / 1024 ** 3);
        break;
      } catch {
        if (p === dirname(p)) break;
      }
    }
    return {
      hostname,
      hypervisorType: 'QEMU',
      hypervisorVersion: version,
      virtType: this.policy.virtType,
      vcpus: node.cpus,
      memoryMb: Math.floor(node.memoryKiB / 1024),
      localDiskGb,
      cpuInfo: {
        arch: this.caps.arch,
        model: this.caps.cpuModel,
        vendor: this.caps.cpuVendor,
        features: [...this.host.hostCpuFeatures],
      },
      ...(await this.sevStatus()),
    };
  }

  private sevCaps(): SevHostCapabilities {
    const virttype = this.policy.virtType;
    this.sev ??= new SevHostCapabilities((arch, machine) =>
      this.lv.host.getDomainCapabilities({ arch, machine, virttype }),
    );
    return this.sev;
  }

  /** CPU traits plus SEV's, and MEM_ENCRYPTION_CONTEXT slots (0 without SEV). */
  private async sevStatus(): Promise<Pick<HostStatus, 'traits' | 'memEncryptionSlots'>> {
    const arch = this.caps.arch;
    const s = await this.sevCaps()
      .hostStatus(
        arch,
        this.host.machineTypes,
        this.policy.machineTypes[arch],
        this.opts.numMemoryEncryptedGuests,
        (m) => this.log.warn(m),
      )
      .catch((err: unknown) => {
        this.log.warn({ err }, 'AMD SEV detection failed; reporting no SEV slots');
        return { slots: 0, traits: [] as string[] };
      });
    return { traits: [...(await this.cpuTraits()), ...s.traits].sort(), memEncryptionSlots: s.slots };
  }

  private async cpuTraits(): Promise<string[]> {
    const mode = this.policy.cpuMode ?? 'host-model';
    let features: string[] = [];
    if (mode === 'host-model' || mode === 'host-passthrough') features = this.host.hostCpuFeatures;
    else if (mode === 'custom') {
      for (const m of this.policy.cpuModels) features.push(...((await this.modelFeatures(m)) ?? []));
    } else features = (await this.modelFeatures('qemu64')) ?? [];
    return cpuTraits(features, this.policy.cpuExtraFlags);
  }

  // ---- lookups -----------------------------------------------------------------------

  private nameOf(uuid: string): string {
    return domainNameFor(uuid, this.prefix);
  }

  private async lookup(uuid: string): Promise<DomainRef> {
    try {
      const dom = await this.lv.domains.lookupByUuid(uuid);
      if (dom.name !== this.nameOf(uuid)) throw instanceNotFound(uuid);
      return dom;
    } catch (e) {
      if (isNoDomain(e)) throw instanceNotFound(uuid);
      throw e;
    }
  }

  private async definition(dom: DomainRef): Promise<Domain> {
    return parseDomain(await this.lv.domains.getXmlDesc(dom));
  }

  private async state(dom: DomainRef): Promise<number> {
    return (await this.lv.domains.getState(dom)).state;
  }

  private async powerState(dom: DomainRef): Promise<PowerState> {
    const s = await this.state(dom);
    const saved = s === DomainState.SHUTOFF ? await this.lv.domains.hasManagedSaveImage(dom) : false;
    return powerStateFromDomainState(s, saved);
  }

  /** Runs op on the instance's domain under its lock, mapping libvirt failures. */
  private withDomain<T>(uuid: string, op: string, fn: (dom: DomainRef) => Promise<T>): Promise<T> {
    return this.locks.run(uuid, async () => {
      try {
        return await fn(await this.lookup(uuid));
      } catch (e) {
        throw operationFailure(e, uuid, op);
      }
    });
  }

  private async waitForState(dom: DomainRef, states: number[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (states.includes(await this.state(dom))) return true;
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** The XML spawn would define (also used by the benchmark and golden checks). */
  async buildXml(spec: InstanceSpec): Promise<string> {
    const dom = await buildDomain({
      spec,
      policy: this.policy,
      host: this.host,
      domainName: this.nameOf(spec.uuid),
      createdAt: (this.opts.clock?.() ?? new Date()).toISOString(),
      log: this.log,
    });
    return renderDomain(dom);
  }

  /** Defines the [libvirt] rbd_secret_uuid secret when libvirt lacks it (see ceph-secret.ts). */
  private ensureCephSecret(): Promise<void> {
    const o = this.opts.rbdSecret;
    if (!o) return Promise.resolve();
    this.cephSecret ??= ensureCephSecret(this.lv, o, this.log).catch((e: unknown) => {
      this.cephSecret = undefined;
      throw new VirtError('guest-start-failed', (e as Error).message, {
        fix: 'check [libvirt] rbd_secret_uuid and rbd_user, and that libvirtd accepts secrets',
      });
    });
    return this.cephSecret;
  }

  spawn(spec: InstanceSpec): Promise<void> {
    const name = this.nameOf(spec.uuid);
    return this.locks.run(spec.uuid, async () => {
      const lv = this.lv;
      try {
        await lv.domains.lookupByUuid(spec.uuid);
        throw new VirtError('instance-exists', `instance ${spec.uuid} already has a guest (domain ${name})`, {
          fix: 'destroy the existing guest first, or use another instance uuid',
        });
      } catch (e) {
        if (!isNoDomain(e)) throw e;
      }
      const xml = await this.buildXml(spec);
      if (spec.rootDisk.kind === 'rbd') await this.ensureCephSecret();
      await withRevert(
        async (revert) => {
          await mkdir(dirname(spec.consoleLogPath), { recursive: true });
          let dom: DomainRef;
          try {
            dom = await lv.domains.defineXml(xml);
          } catch (e) {
            throw await startFailure(e, spec.uuid, name, this.opts.qemuLogDir ?? DEFAULTS.qemuLogDir);
          }
          revert.add('undefine', () => this.undefine(dom));
          try {
            await lv.domains.create(dom);
          } catch (e) {
            throw await startFailure(e, spec.uuid, name, this.opts.qemuLogDir ?? DEFAULTS.qemuLogDir);
          }
        },
        (f) => this.log.warn({ uuid: spec.uuid, step: f.label, err: f.error }, 'spawn revert step failed'),
      );
    });
  }

  /** Removes the definition with its managed-save image, snapshots' metadata and NVRAM. */
  private async undefine(dom: DomainRef): Promise<void> {
    const full = UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.NVRAM;
    try {
      await this.lv.domains.undefine(dom, full);
    } catch (e) {
      if (isNoDomain(e)) return;
      if (!isNoSupport(e)) throw e;
      await this.lv.domains.undefine(dom, UndefineFlags.MANAGED_SAVE);
    }
  }

  destroy(uuid: string): Promise<void> {
    return this.locks.run(uuid, async () => {
      let dom: DomainRef;
      try {
        dom = await this.lookup(uuid);
      } catch (e) {
        if (e instanceof VirtError && e.code === 'instance-not-found') return;
        throw e;
      }
      try {
        const def = await this.definition(dom);
        if ((await this.state(dom)) !== DomainState.SHUTOFF) {
          await this.lv.domains.destroy(dom).catch((e: unknown) => {
            if (!isNoDomain(e) && !(isLibvirtError(e) && /not running/.test(e.libvirtMessage))) throw e;
          });
        }
        await this.undefine(dom);
        // Whatever libvirt left: the NVRAM file (older daemons) and the console log.
        if (def.os.nvram?.path) await rm(def.os.nvram.path, { force: true });
        for (const s of def.devices.serials) if (s.path) await rm(s.path, { force: true });
        this.agentConnected.delete(uuid);
      } catch (e) {
        throw operationFailure(e, uuid, 'destroy');
      }
    });
  }

  powerOff(uuid: string, timeoutSeconds: number): Promise<void> {
    return this.withDomain(uuid, 'power off', async (dom) => {
      const lv = this.lv;
      const s = await this.state(dom);
      if (s === DomainState.SHUTOFF) {
        if (await lv.domains.hasManagedSaveImage(dom)) await lv.domains.managedSaveRemove(dom);
        return;
      }
      if (s === DomainState.RUNNING || s === DomainState.BLOCKED) {
        // Clean shutdown first (ACPI or agent, libvirt's choice), then pull the plug.
        try {
          await lv.domains.shutdown(dom);
          if (await this.waitForState(dom, [DomainState.SHUTOFF], timeoutSeconds * 1000)) return;
          this.log.info({ uuid, timeoutSeconds }, 'guest ignored the shutdown request; forcing power off');
        } catch (e) {
          if (!isLibvirtError(e)) throw e;
        }
      }
      try {
        await lv.domains.destroy(dom);
      } catch (e) {
        if ((await this.state(dom)) !== DomainState.SHUTOFF) throw e;
      }
    });
  }

  powerOn(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'power on', async (dom) => {
      if ((await this.state(dom)) !== DomainState.SHUTOFF) return;
      await this.start(uuid, dom);
    });
  }

  private async start(uuid: string, dom: DomainRef): Promise<void> {
    try {
      await this.lv.domains.create(dom);
    } catch (e) {
      throw await startFailure(e, uuid, dom.name, this.opts.qemuLogDir ?? DEFAULTS.qemuLogDir);
    }
  }

  reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    return this.withDomain(uuid, `${kind} reboot`, async (dom) => {
      const lv = this.lv;
      const s = await this.state(dom);
      if (kind === 'soft' && s === DomainState.RUNNING) {
        // Nova's soft reboot: ask the guest to shut down, wait, start it again; a guest that
        // ignores the request gets a hard reboot.
        const wait = (this.opts.softRebootTimeoutSeconds ?? DEFAULTS.softRebootTimeoutSeconds) * 1000;
        await lv.domains.shutdown(dom);
        if (await this.waitForState(dom, [DomainState.SHUTOFF], wait)) {
          await this.start(uuid, dom);
          return;
        }
        this.log.info({ uuid }, 'soft reboot: guest did not shut down in time; rebooting hard');
      }
      if (s !== DomainState.SHUTOFF || kind === 'soft') {
        if ((await this.state(dom)) !== DomainState.SHUTOFF) await lv.domains.destroy(dom);
      }
      if (await lv.domains.hasManagedSaveImage(dom)) await lv.domains.managedSaveRemove(dom);
      await this.start(uuid, dom);
    });
  }

  pause(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'pause', async (dom) => {
      if ((await this.state(dom)) === DomainState.PAUSED) return;
      await this.lv.domains.suspend(dom);
    });
  }

  unpause(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'unpause', async (dom) => {
      if ((await this.state(dom)) === DomainState.RUNNING) return;
      await this.lv.domains.resume(dom);
    });
  }

  private async refuseNested(uuid: string, dom: DomainRef, op: 'suspend' | 'live migration'): Promise<void> {
    const def = await this.definition(dom);
    if (def.launchSecurity) throw sevOperationConflict(uuid, op);
    if (this.opts.allowNestedSuspend) return;
    if (def.metadata?.nestedVirt) throw nestedConflict(uuid, op);
  }

  suspend(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'suspend', async (dom) => {
      await this.refuseNested(uuid, dom, 'suspend');
      const s = await this.state(dom);
      if (s !== DomainState.RUNNING && s !== DomainState.PAUSED && s !== DomainState.BLOCKED) {
        throw new VirtError('invalid-state', `cannot suspend instance ${uuid}: it is not running`, {
          fix: 'power the instance on first',
        });
      }
      await this.lv.domains.managedSave(dom, 0, 300_000);
    });
  }

  resume(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'resume', async (dom) => {
      if (!(await this.lv.domains.hasManagedSaveImage(dom))) {
        throw new VirtError('invalid-state', `cannot resume instance ${uuid}: it is not suspended`, {
          fix: 'use power on for a stopped instance, unpause for a paused one',
        });
      }
      await this.start(uuid, dom);
    });
  }

  checkCanLiveMigrate(uuid: string): Promise<void> {
    return this.withDomain(uuid, 'live migration', (dom) => this.refuseNested(uuid, dom, 'live migration'));
  }

  snapshot(
    uuid: string,
    targetPath: string,
    format: 'qcow2' | 'raw',
    copy?: (targetPath: string, format: 'qcow2' | 'raw') => Promise<void>,
  ): Promise<void> {
    return this.withDomain(uuid, 'snapshot', async (dom) => {
      const def = await this.definition(dom);
      const disk = def.devices.disks.find((d) => d.device === 'disk');
      if (!disk)
        throw new VirtError('snapshot-failed', `instance ${uuid} has no root disk`, {
          fix: 'nothing to snapshot',
        });
      // Pausing keeps the guest from writing while the disk is copied (a crash-consistent copy).
      const running = (await this.state(dom)) === DomainState.RUNNING;
      if (running) await this.lv.domains.suspend(dom);
      try {
        if (copy) await copy(targetPath, format);
        else await snapshotDisk(disk, targetPath, format);
      } finally {
        if (running) await this.lv.domains.resume(dom);
      }
    });
  }

  consoleOutput(uuid: string, maxBytes = 64 * 1024): Promise<string> {
    return this.withDomain(uuid, 'read console', async (dom) => {
      const path = (await this.definition(dom)).devices.serials.find((s) => s.type === 'file')?.path;
      return path ? tailFile(path, maxBytes) : '';
    });
  }

  info(uuid: string): Promise<InstanceInfo> {
    return this.withDomain(uuid, 'read info', async (dom) => {
      const i = await this.lv.domains.getInfo(dom);
      const saved = i.state === DomainState.SHUTOFF ? await this.lv.domains.hasManagedSaveImage(dom) : false;
      return {
        uuid,
        state: powerStateFromDomainState(i.state, saved),
        cpuTimeNs: i.cpuTimeNs,
        memoryKb: i.memoryKiB,
        maxMemoryKb: i.maxMemKiB,
        vcpus: i.vcpus,
      };
    });
  }

  /** Kestrel's domains: named prefix+uuid and carrying the Kestrel metadata tag. */
  private async ownDomains(): Promise<{ uuid: string; dom: DomainRef }[]> {
    const out: { uuid: string; dom: DomainRef }[] = [];
    for (const dom of await this.lv.domains.listAll(0)) {
      const uuid = this.uuidOf(dom);
      if (!uuid) continue;
      try {
        await this.lv.domains.getMetadata(dom, MetadataType.ELEMENT, KESTREL_XMLNS);
        out.push({ uuid, dom });
      } catch (e) {
        if (!isNoMetadata(e) && !isNoDomain(e)) throw e;
      }
    }
    return out.sort((a, b) => a.uuid.localeCompare(b.uuid));
  }

  async list(): Promise<string[]> {
    return (await this.ownDomains()).map((d) => d.uuid);
  }

  async syncPowerStates(): Promise<Map<string, PowerState>> {
    const out = new Map<string, PowerState>();
    for (const { uuid, dom } of await this.ownDomains()) {
      try {
        out.set(uuid, await this.powerState(dom));
      } catch (e) {
        if (!isNoDomain(e)) throw e;
      }
    }
    return out;
  }

  agentCommand(uuid: string, command: string, timeoutSeconds: number): Promise<string> {
    return this.withDomain(uuid, 'guest agent command', async (dom) => {
      const def = await this.definition(dom);
      if (!def.devices.channels.some((c) => c.targetName === AGENT_CHANNEL)) {
        throw new VirtError('agent-not-configured', `instance ${uuid} has no guest agent channel`, {
          fix: 'boot it from an image with hw_qemu_guest_agent=yes (and qemu-guest-agent installed in the guest)',
        });
      }
      const timeout = Math.max(1, Math.ceil(timeoutSeconds));
      try {
        // qemu-ga answers nothing to a successful guest-shutdown; libvirt's agent shutdown
        // knows that, a raw command would wait for its timeout.
        if (/"execute"\s*:\s*"guest-shutdown"/.test(command)) {
          await this.lv.domains.shutdown(dom, ShutdownFlags.GUEST_AGENT);
          return '';
        }
        return (await this.lv.domains.agentCommand(dom, command, timeout)) ?? '';
      } catch (e) {
        if (isOperationTimeout(e) || (isLibvirtError(e) && /timed? ?out/i.test(e.libvirtMessage))) {
          throw new VirtError(
            'agent-timeout',
            `the guest agent of instance ${uuid} did not answer within ${timeout} s`,
            {
              fix: 'check qemu-guest-agent runs in the guest; retry with a longer timeout',
              cause: e,
            },
          );
        }
        if (isAgentUnresponsive(e)) {
          throw new VirtError(
            'agent-not-connected',
            `the guest agent of instance ${uuid} is not connected (${this.agentConnected.get(uuid) ? 'it was connected' : 'it has not connected since the guest started'})`,
            { fix: 'wait for the guest to boot and start qemu-guest-agent, then retry', cause: e },
          );
        }
        throw e;
      }
    });
  }

  /** Whether the agent of an instance has announced itself (from agent-lifecycle events). */
  isAgentConnected(uuid: string): boolean {
    return this.agentConnected.get(uuid) ?? false;
  }

  /** For the benchmark and tools: the client this driver talks through. */
  get libvirt(): LibvirtClient {
    return this.lv;
  }
}

export { AgentTimeout, CpuCompareResult };
