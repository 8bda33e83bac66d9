// The in-memory hypervisor: same interface, same refusals and the same events as the libvirt
// driver (it builds every guest through the real configurators), in milliseconds. Events are
// emitted asynchronously, as libvirt's arrive after the call returns.
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../../util/log.js';
import type { HostCell } from '../numa/host.js';
import {
  PowerState,
  type DisplayEndpoint,
  type DriverEvents,
  type HostStatus,
  type HypervisorDriver,
  type InstanceInfo,
  type InstanceSpec,
  type LifecycleKind,
} from '../driver.js';
import { VirtError, instanceNotFound } from '../errors.js';
import { buildDomain, type GuestPolicy, type HostFacts } from '../libvirt/configure/index.js';
import type { Domain } from '../libvirt/domain/types.js';
import { AGENT_CHANNEL } from '../libvirt/configure/agent.js';
import { domainNameFor } from '../naming.js';
import { nestedConflict } from '../nested.js';
import { sevOperationConflict, specWantsMemEncryption } from '../libvirt/configure/sev.js';
import { fakeHostFacts } from './host.js';

export interface FakeDriverOptions {
  policy?: Partial<GuestPolicy>;
  host?: HostFacts;
  /** [workarounds] allow_nested_suspend. */
  allowNestedSuspend?: boolean;
  /** Text the guest "prints" on its serial console when it starts. */
  bootMessage?: string;
  /** Delay before a started guest's agent connects (ms). */
  agentConnectDelayMs?: number;
  namePrefix?: string;
  log?: Logger;
  /** NUMA cells the fake host reports (e.g. a recorded two-socket host); none by default. */
  numaCells?: HostCell[];
}

interface FakeGuest {
  spec: InstanceSpec;
  domain: Domain;
  name: string;
  state: PowerState;
  managedSave: boolean;
  hasAgent: boolean;
  agentConnected: boolean;
  nestedVirt: boolean;
  console: string;
  cpuTimeNs: bigint;
  startedAt: number;
  agentTimer?: NodeJS.Timeout;
}

export class FakeDriver implements HypervisorDriver {
  readonly name = 'fake' as const;
  readonly events: DriverEvents = new EventEmitter() as DriverEvents;
  private readonly guests = new Map<string, FakeGuest>();
  private readonly policy: GuestPolicy;
  private readonly host: HostFacts;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: FakeDriverOptions = {}) {
    this.policy = {
      virtType: 'kvm',
      cpuModels: [],
      cpuExtraFlags: [],
      machineTypes: {},
      nvramDir: '/var/lib/libvirt/qemu/nvram',
      ...opts.policy,
    };
    this.host = opts.host ?? fakeHostFacts();
    this.log = opts.log ?? silentLogger;
  }

  async init(): Promise<void> {
    this.closed = false;
    return;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.guests.values()) clearTimeout(g.agentTimer);
    return;
  }

  async hostStatus(): Promise<HostStatus> {
    return {
      hostname: 'fake-host',
      hypervisorType: 'QEMU',
      hypervisorVersion: 7002022,
      virtType: this.policy.virtType,
      vcpus: 8,
      memoryMb: 16384,
      localDiskGb: 200,
      cpuInfo: {
        arch: this.host.arch,
        model: 'Haswell-noTSX',
        vendor: 'Intel',
        features: [...this.host.hostCpuFeatures],
      },
      traits: ['HW_CPU_X86_AVX', 'HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE', 'HW_CPU_X86_SSE2', 'HW_CPU_X86_VMX'],
      memEncryptionSlots: 0,
      ...(this.opts.numaCells ? { numaCells: this.opts.numaCells } : {}),
    };
  }

  private readonly consoles = new Map<string, Set<Duplex>>();

  private get(uuid: string): FakeGuest {
    const g = this.guests.get(uuid);
    if (!g) throw instanceNotFound(uuid);
    return g;
  }

  private emit(g: FakeGuest, kind: LifecycleKind, detail: string): void {
    if (g.state !== PowerState.RUNNING && g.state !== PowerState.PAUSED) {
      for (const c of this.consoles.get(g.spec.uuid) ?? []) c.push(null);
      this.consoles.delete(g.spec.uuid);
    }
    const event = { uuid: g.spec.uuid, kind, state: g.state, detail, at: Date.now() };
    setImmediate(() => {
      if (!this.closed) this.events.emit('lifecycle', event);
    });
  }

  private setAgent(g: FakeGuest, connected: boolean): void {
    clearTimeout(g.agentTimer);
    if (!g.hasAgent) return;
    const announce = () => {
      if (g.agentConnected === connected) return;
      g.agentConnected = connected;
      if (!this.closed) this.events.emit('agent', { uuid: g.spec.uuid, connected });
    };
    if (connected) g.agentTimer = setTimeout(announce, this.opts.agentConnectDelayMs ?? 5);
    else setImmediate(announce);
  }

  private start(g: FakeGuest, detail: string): void {
    g.state = PowerState.RUNNING;
    g.startedAt = Date.now();
    g.console += `${this.opts.bootMessage ?? 'GUEST-BOOTED'}\r\n`;
    this.emit(g, 'started', detail);
    this.setAgent(g, true);
  }

  private stop(g: FakeGuest, kind: LifecycleKind = 'stopped', detail = 'destroyed'): void {
    g.cpuTimeNs += BigInt(Math.max(0, Date.now() - g.startedAt)) * 1_000_000n;
    g.state = kind === 'suspended' ? PowerState.SUSPENDED : PowerState.SHUTDOWN;
    this.emit(g, kind, detail);
    this.setAgent(g, false);
  }

  private requireState(g: FakeGuest, allowed: PowerState[], op: string): void {
    if (!allowed.includes(g.state)) {
      throw new VirtError(
        'invalid-state',
        `cannot ${op} instance ${g.spec.uuid}: it is in power state ${g.state}`,
        {
          fix: `wait for the instance to reach a state that allows ${op}`,
        },
      );
    }
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    if (this.guests.has(spec.uuid)) {
      throw new VirtError('instance-exists', `instance ${spec.uuid} already has a guest on this hypervisor`, {
        fix: 'destroy the existing guest first',
      });
    }
    const name = domainNameFor(spec.uuid, this.opts.namePrefix);
    const dom = await buildDomain({
      spec,
      policy: this.policy,
      host: this.host,
      domainName: name,
      createdAt: new Date().toISOString(),
      log: this.log,
    });
    const g: FakeGuest = {
      spec,
      domain: dom,
      name,
      state: PowerState.SHUTDOWN,
      managedSave: false,
      hasAgent: dom.devices.channels.some((c) => c.targetName === AGENT_CHANNEL),
      agentConnected: false,
      nestedVirt: dom.metadata?.nestedVirt ?? false,
      console: '',
      cpuTimeNs: 0n,
      startedAt: Date.now(),
    };
    this.guests.set(spec.uuid, g);
    this.emit(g, 'defined', 'added');
    this.start(g, 'booted');
  }

  async destroy(uuid: string): Promise<void> {
    const g = this.guests.get(uuid);
    if (!g) return;
    if (g.state === PowerState.RUNNING || g.state === PowerState.PAUSED) this.stop(g);
    clearTimeout(g.agentTimer);
    this.guests.delete(uuid);
    this.emit({ ...g, state: PowerState.NOSTATE }, 'undefined', 'removed');
    return;
  }

  async powerOff(uuid: string, _timeoutSeconds: number): Promise<void> {
    const g = this.get(uuid);
    if (g.state === PowerState.SHUTDOWN) return;
    if (g.state === PowerState.SUSPENDED) g.managedSave = false;
    else this.stop(g, 'stopped', 'shutdown');
    g.state = PowerState.SHUTDOWN;
    return;
  }

  async powerOn(uuid: string): Promise<void> {
    const g = this.get(uuid);
    if (g.state === PowerState.RUNNING) return;
    this.requireState(g, [PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.SUSPENDED], 'power on');
    const restored = g.managedSave;
    g.managedSave = false;
    this.start(g, restored ? 'restored' : 'booted');
    return;
  }

  async reboot(uuid: string, _kind: 'soft' | 'hard'): Promise<void> {
    const g = this.get(uuid);
    this.requireState(
      g,
      [PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.PAUSED],
      'reboot',
    );
    if (g.state === PowerState.RUNNING || g.state === PowerState.PAUSED) this.stop(g, 'stopped', 'shutdown');
    this.start(g, 'booted');
    return;
  }

  async pause(uuid: string): Promise<void> {
    const g = this.get(uuid);
    this.requireState(g, [PowerState.RUNNING, PowerState.PAUSED], 'pause');
    if (g.state === PowerState.PAUSED) return;
    g.state = PowerState.PAUSED;
    this.emit(g, 'paused', 'paused');
    return;
  }

  async unpause(uuid: string): Promise<void> {
    const g = this.get(uuid);
    this.requireState(g, [PowerState.RUNNING, PowerState.PAUSED], 'unpause');
    if (g.state === PowerState.RUNNING) return;
    g.state = PowerState.RUNNING;
    this.emit(g, 'resumed', 'unpaused');
    return;
  }

  async suspend(uuid: string): Promise<void> {
    const g = this.get(uuid);
    if (specWantsMemEncryption(g.spec)) throw sevOperationConflict(uuid, 'suspend');
    if (g.nestedVirt && !this.opts.allowNestedSuspend) throw nestedConflict(uuid, 'suspend');
    this.requireState(g, [PowerState.RUNNING, PowerState.PAUSED], 'suspend');
    g.managedSave = true;
    this.stop(g, 'suspended', 'saved');
    return;
  }

  async resume(uuid: string): Promise<void> {
    const g = this.get(uuid);
    this.requireState(g, [PowerState.SUSPENDED], 'resume');
    await this.powerOn(uuid);
  }

  async checkCanLiveMigrate(uuid: string): Promise<void> {
    const g = this.get(uuid);
    if (specWantsMemEncryption(g.spec)) throw sevOperationConflict(uuid, 'live migration');
    if (g.nestedVirt && !this.opts.allowNestedSuspend) throw nestedConflict(uuid, 'live migration');
    return;
  }

  async snapshot(uuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    const g = this.get(uuid);
    // A qcow2 "snapshot" starts with qcow2's magic, as a real one would.
    const magic = format === 'qcow2' ? Buffer.from([0x51, 0x46, 0x49, 0xfb]) : Buffer.alloc(0);
    await writeFile(
      targetPath,
      Buffer.concat([magic, Buffer.from(`fake ${format} snapshot of ${g.spec.uuid}\n`)]),
    );
  }

  async vncEndpoint(uuid: string): Promise<DisplayEndpoint> {
    this.get(uuid);
    throw new VirtError(
      'console-unavailable',
      `instance ${uuid} runs on the fake driver, which has no display`,
      {
        fix: 'use the libvirt driver (kestrel serve --driver libvirt) for VNC consoles',
      },
    );
  }

  /** A console whose guest echoes what is typed (as a tty does) into its output and its log. */
  async openSerialConsole(uuid: string): Promise<Duplex> {
    const g = this.get(uuid);
    if (g.state !== PowerState.RUNNING) {
      throw new VirtError('invalid-state', `instance ${uuid} is not running, so it has no serial console`, {
        fix: 'start the server, then ask for the console again',
      });
    }
    const open = this.consoles.get(uuid) ?? new Set<Duplex>();
    this.consoles.set(uuid, open);
    const d: Duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        g.console += chunk.toString('utf8');
        d.push(chunk);
        cb();
      },
      destroy(err, cb) {
        open.delete(d);
        cb(err);
      },
    });
    open.add(d);
    return d;
  }

  async consoleOutput(uuid: string, maxBytes = 64 * 1024): Promise<string> {
    const g = this.get(uuid);
    const buf = Buffer.from(g.console);
    return buf.subarray(Math.max(0, buf.length - maxBytes)).toString('utf8');
  }

  async info(uuid: string): Promise<InstanceInfo> {
    const g = this.get(uuid);
    const running = g.state === PowerState.RUNNING;
    const cpu = g.cpuTimeNs + (running ? BigInt(Date.now() - g.startedAt + 1) * 1000n : 0n);
    const memoryKb = g.spec.flavor.memoryMb * 1024;
    return {
      uuid,
      state: g.state,
      cpuTimeNs: cpu,
      memoryKb: running || g.state === PowerState.PAUSED ? memoryKb : 0,
      maxMemoryKb: memoryKb,
      vcpus: g.spec.flavor.vcpus,
    };
  }

  async list(): Promise<string[]> {
    return [...this.guests.keys()].sort();
  }

  async syncPowerStates(): Promise<Map<string, PowerState>> {
    return new Map([...this.guests].map(([u, g]) => [u, g.state]));
  }

  async agentCommand(uuid: string, command: string, timeoutSeconds: number): Promise<string> {
    const g = this.get(uuid);
    if (!g.hasAgent) {
      throw new VirtError('agent-not-configured', `instance ${uuid} has no guest agent channel`, {
        fix: 'boot it from an image with hw_qemu_guest_agent=yes',
      });
    }
    if (!g.agentConnected) {
      throw new VirtError(
        'agent-not-connected',
        `the guest agent of instance ${uuid} is not connected (waited ${timeoutSeconds} s)`,
        {
          fix: 'wait for the guest to boot and start qemu-guest-agent',
        },
      );
    }
    const execute = String((JSON.parse(command) as { execute?: unknown }).execute ?? '');
    switch (execute) {
      case 'guest-ping':
        return '{"return":{}}';
      case 'guest-info':
        return '{"return":{"version":"fake"}}';
      case 'guest-shutdown':
        // The guest powers itself off shortly after answering (it answers nothing, like qemu-ga).
        setImmediate(() => {
          if (this.guests.get(uuid) === g && g.state === PowerState.RUNNING) {
            g.state = PowerState.SHUTDOWN;
            this.emit(g, 'shutdown', 'guest request');
            this.stop(g, 'stopped', 'shutdown');
          }
        });
        return '';
      default:
        throw new VirtError(
          'agent-failed',
          `the guest agent of ${uuid} rejected ${String(execute)}: command not found`,
          {
            fix: 'send a command qemu-guest-agent supports (guest-info lists them)',
          },
        );
    }
  }

  /** Test hook: the guest powers itself off (as `poweroff` inside it would). */
  /** The domain the configurators built for a guest (what the libvirt driver would define). */
  definedDomain(uuid: string): Domain | undefined {
    return this.guests.get(uuid)?.domain;
  }

  simulateGuestPowerOff(uuid: string): void {
    const g = this.get(uuid);
    if (g.state !== PowerState.RUNNING) return;
    g.state = PowerState.SHUTDOWN;
    this.emit(g, 'shutdown', 'guest request');
    this.stop(g, 'stopped', 'shutdown');
  }
}
