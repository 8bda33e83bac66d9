// What every part of the libvirt driver shares: the client, the options, the per-instance locks,
// what init() learned about the host, and the lookups from an instance uuid to its domain. The
// driver's operations live in files by concern (lifecycle.ts, power.ts, guest-io.ts,
// host-status.ts, power-events.ts) and all take this one context, so the LibvirtDriver class
// stays a thin façade and no concern reaches into another's state.
import { DomainState, LibvirtClient, isNoDomain, type DomainRef } from '../../libvirt/index.js';
import { KeyedMutex } from '../../util/lock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { PowerState } from '../driver.js';
import { instanceNotFound, type VirtError } from '../errors.js';
import { domainNameFor, isUuid } from '../naming.js';
import { powerStateFromDomainState } from '../power-state.js';
import type { GuestPolicy, HostFacts } from './configure/index.js';
import { parseDomain } from './domain/parse.js';
import type { Domain } from './domain/types.js';
import { operationFailure, startFailure } from './failures.js';
import type { HostCapabilities } from './host-caps.js';
import { DEFAULTS, type LibvirtDriverOptions } from './options.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DriverContext {
  client: LibvirtClient | undefined;
  readonly log: Logger;
  readonly locks = new KeyedMutex();
  readonly prefix: string;
  /** Set by init(): how guests are built, and what the host offers. */
  policy!: GuestPolicy;
  host!: HostFacts;
  caps!: HostCapabilities;
  /** Per instance: whether its guest agent has announced itself (agent-lifecycle events). */
  readonly agentConnected = new Map<string, boolean>();

  constructor(readonly opts: LibvirtDriverOptions) {
    this.log = opts.log ?? silentLogger;
    this.prefix = opts.namePrefix ?? 'instance-';
  }

  get lv(): LibvirtClient {
    if (!this.client) throw new Error('LibvirtDriver: call init() first');
    return this.client;
  }

  nameOf(uuid: string): string {
    return domainNameFor(uuid, this.prefix);
  }

  /** The instance uuid of one of our domains, or undefined for someone else's. */
  uuidOf(dom: DomainRef): string | undefined {
    if (!dom.name.startsWith(this.prefix)) return undefined;
    const uuid = dom.name.slice(this.prefix.length);
    return isUuid(uuid) && uuid === dom.uuidString ? uuid : undefined;
  }

  async lookup(uuid: string): Promise<DomainRef> {
    try {
      const dom = await this.lv.domains.lookupByUuid(uuid);
      if (dom.name !== this.nameOf(uuid)) throw instanceNotFound(uuid);
      return dom;
    } catch (e) {
      if (isNoDomain(e)) throw instanceNotFound(uuid);
      throw e;
    }
  }

  async definition(dom: DomainRef): Promise<Domain> {
    return parseDomain(await this.lv.domains.getXmlDesc(dom));
  }

  async state(dom: DomainRef): Promise<number> {
    return (await this.lv.domains.getState(dom)).state;
  }

  async powerState(dom: DomainRef): Promise<PowerState> {
    const s = await this.state(dom);
    const saved = s === DomainState.SHUTOFF ? await this.lv.domains.hasManagedSaveImage(dom) : false;
    return powerStateFromDomainState(s, saved);
  }

  /** Runs op on the instance's domain under its lock, mapping libvirt failures. */
  withDomain<T>(uuid: string, op: string, fn: (dom: DomainRef) => Promise<T>): Promise<T> {
    return this.locks.run(uuid, async () => {
      try {
        return await fn(await this.lookup(uuid));
      } catch (e) {
        throw operationFailure(e, uuid, op);
      }
    });
  }

  async waitForState(dom: DomainRef, states: number[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (states.includes(await this.state(dom))) return true;
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
  }

  /** Starts a defined domain; a failure carries QEMU's log (failures.ts). */
  async start(uuid: string, dom: DomainRef): Promise<void> {
    try {
      await this.lv.domains.create(dom);
    } catch (e) {
      throw await this.startFailure(e, uuid, dom.name);
    }
  }

  startFailure(e: unknown, uuid: string, domainName: string): Promise<VirtError> {
    return startFailure(e, uuid, domainName, this.opts.qemuLogDir ?? DEFAULTS.qemuLogDir);
  }
}
