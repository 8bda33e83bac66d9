// A host's network data plane: bridges (bridge.ts), one dnsmasq per network (dnsmasq.ts) and
// Kestrel's nftables tables (nft.ts), driven by the plain-JSON changes of contract.ts. One
// change at a time (a queue), each one small: a network's bridge and DHCP hosts, one port's
// chains, or the NAT. networkSync makes the host match a whole desired state: what is missing
// is made, orphans (bridges with Kestrel's prefix, dnsmasq directories, chains) are removed.
import { readFileSync, writeFileSync } from 'node:fs';
import { silentLogger, type Logger } from '../util/log.js';
import { deleteBridge, ensureBridge, listBridges } from './bridge.js';
import type {
  HostNetworkCalls,
  HostNetworkChange,
  HostNetworkState,
  NatSpec,
  NetworkSpec,
  NetworkSyncReport,
  PortSpec,
} from './contract.js';
import { dnsmasqNetworks, ensureDnsmasq, stopDnsmasq } from './dnsmasq.js';
import {
  applyNft,
  baseScript,
  deleteTables,
  fullScript,
  natScript,
  portRemovalScript,
  portScript,
} from './nft.js';

export interface HostNetworkOptions {
  /** Name of Kestrel's nftables tables ([network] nft_table). */
  table: string;
  /** Prefix of Kestrel's bridges ([network] bridge_prefix): others are never touched. */
  bridgePrefix: string;
  /** dnsmasq files: <stateDir>/<network id>/. */
  stateDir: string;
  logger?: Logger;
}

const q = (s: string) => `"${s}"`;

export class HostNetwork implements HostNetworkCalls {
  private readonly log: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  private baseReady = false;
  /** What was last applied per port (its stale elements go on the next change). */
  private readonly applied = new Map<string, PortSpec>();

  constructor(readonly opts: HostNetworkOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async ensureBase(): Promise<void> {
    if (this.baseReady) return;
    await applyNft(baseScript(this.opts.table));
    this.baseReady = true;
  }

  networkApply(change: HostNetworkChange): Promise<void> {
    return this.serialized(async () => {
      await this.ensureBase();
      switch (change.op) {
        case 'network':
          return this.applyNetwork(change.network);
        case 'network-removed':
          return this.removeNetwork(change.networkId, change.bridge);
        case 'port':
          return this.applyPort(change.port);
        case 'port-removed':
          return this.removePort(change.portId, change.ips, change.groups);
        case 'nat':
          return this.applyNat(change.nat);
      }
    });
  }

  private async applyNetwork(n: NetworkSpec): Promise<void> {
    const { created } = await ensureBridge(n.bridge, n.mtu, n.hostAddresses);
    const t = this.opts.table;
    await applyNft(
      `add element inet ${t} bridges { ${q(n.bridge)} }\nadd element inet ${t} same_bridge { ${q(n.bridge)} . ${q(n.bridge)} }\n`,
    );
    const dhcp = await ensureDnsmasq(this.opts.stateDir, n);
    if (created || (dhcp !== 'reloaded' && dhcp !== 'none'))
      this.log.info(
        { network: n.id, bridge: n.bridge, dnsmasq: dhcp },
        created ? 'network bridge created' : 'network updated',
      );
  }

  private async removeNetwork(networkId: string, bridge: string): Promise<void> {
    await stopDnsmasq(this.opts.stateDir, networkId);
    await deleteBridge(bridge);
    const t = this.opts.table;
    // add-then-delete: deleting an element that is not there would fail the transaction.
    await applyNft(
      [
        `add element inet ${t} bridges { ${q(bridge)} }`,
        `delete element inet ${t} bridges { ${q(bridge)} }`,
        `add element inet ${t} same_bridge { ${q(bridge)} . ${q(bridge)} }`,
        `delete element inet ${t} same_bridge { ${q(bridge)} . ${q(bridge)} }`,
        '',
      ].join('\n'),
    );
    this.log.info({ network: networkId, bridge }, 'network removed');
  }

  private async applyPort(p: PortSpec): Promise<void> {
    await applyNft(portScript(this.opts.table, p, this.applied.get(p.id)));
    this.applied.set(p.id, p);
  }

  private async removePort(portId: string, ips: string[], groups: string[]): Promise<void> {
    const known = this.applied.get(portId);
    if (known) await applyNft(portRemovalScript(this.opts.table, known));
    else {
      // Not applied by this process (and no sync since): try with its elements, then chains alone.
      await applyNft(portRemovalScript(this.opts.table, { id: portId, ips, groups })).catch(() =>
        applyNft(portRemovalScript(this.opts.table, { id: portId, ips: [], groups: [] })),
      );
    }
    this.applied.delete(portId);
  }

  private async applyNat(nat: NatSpec): Promise<void> {
    if (nat.snat.length || nat.floating.length || nat.routed.length) enableForwarding(this.log);
    await applyNft(natScript(this.opts.table, nat));
  }

  networkSync(state: HostNetworkState): Promise<NetworkSyncReport> {
    return this.serialized(async () => {
      const report: NetworkSyncReport = {
        bridgesCreated: [],
        bridgesRemoved: [],
        dnsmasqStarted: [],
        dnsmasqStopped: [],
        ports: state.ports.length,
      };
      const wanted = new Set(state.networks.map((n) => n.bridge));
      for (const n of state.networks) {
        if ((await ensureBridge(n.bridge, n.mtu, n.hostAddresses)).created)
          report.bridgesCreated.push(n.bridge);
      }
      for (const b of await listBridges(this.opts.bridgePrefix)) {
        if (wanted.has(b)) continue;
        await deleteBridge(b);
        report.bridgesRemoved.push(b);
      }
      const ids = new Set(state.networks.map((n) => n.id));
      for (const id of dnsmasqNetworks(this.opts.stateDir)) {
        if (ids.has(id)) continue;
        if (await stopDnsmasq(this.opts.stateDir, id)) report.dnsmasqStopped.push(id);
      }
      for (const n of state.networks) {
        const r = await ensureDnsmasq(this.opts.stateDir, n);
        if (r === 'started' || r === 'restarted') report.dnsmasqStarted.push(n.id);
        if (r === 'stopped') report.dnsmasqStopped.push(n.id);
      }
      const nat = state.nat;
      if (nat.snat.length || nat.floating.length || nat.routed.length) enableForwarding(this.log);
      if (state.networks.length === 0 && state.ports.length === 0) {
        // Nothing to carry: no tables of Kestrel's on the host at all (made with the first network).
        await deleteTables(this.opts.table);
        this.baseReady = false;
      } else {
        await applyNft(fullScript(this.opts.table, state));
        this.baseReady = true;
      }
      this.applied.clear();
      for (const p of state.ports) this.applied.set(p.id, p);
      return report;
    });
  }
}

/** Routing between the host's networks needs IPv4 forwarding (Kestrel is their router). */
function enableForwarding(log: Logger): void {
  const path = '/proc/sys/net/ipv4/ip_forward';
  try {
    if (readFileSync(path, 'utf8').trim() === '1') return;
    writeFileSync(path, '1\n');
    log.info('enabled IPv4 forwarding (net.ipv4.ip_forward = 1): Kestrel routes between its networks');
  } catch (err) {
    log.warn({ err }, 'cannot enable IPv4 forwarding: routed and NATed guest traffic will not pass');
  }
}
