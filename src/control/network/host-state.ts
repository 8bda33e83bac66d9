// From the database to what a host's data plane must make true (src/network/contract.ts):
// one network's bridge, addresses and DHCP entries; one port's chains; the NAT of routers and
// floating IPs; or all of it for start-up reconciliation.
import type { NetworkResource } from '../../db/index.js';
import type { HostNetworkState, NatSpec, NetworkSpec, PortSpec, RuleSpec } from '../../network/contract.js';
import { bridgeName, tapName } from '../../network/names.js';
import type { NetworkContext } from './context.js';
import {
  Owner,
  type FloatingIpDoc,
  type NetworkDoc,
  type PortDoc,
  type RouterDoc,
  type RuleDoc,
  type SubnetDoc,
} from './model.js';

/** Ports that are guests' NICs (the others are the host's own addresses: DHCP, router). */
export function isGuestPort(p: PortDoc): boolean {
  return !p.device_owner.startsWith('network:');
}

const prefixOf = (cidr: string) => cidr.split('/')[1];

export async function networkSpec(nc: NetworkContext, networkId: string): Promise<NetworkSpec | undefined> {
  const net = await nc.repos.networking.get<NetworkDoc>('network', networkId);
  if (!net) return undefined;
  const subnets = await nc.repos.networking.list<SubnetDoc>('subnet', { parentId: networkId });
  const ports = await nc.repos.networking.list<PortDoc>('port', { parentId: networkId });
  const bySubnet = new Map(subnets.map((s) => [s.id, s.body]));
  const hostAddresses = new Set<string>();
  const withPrefix = (ip: string, subnetId: string) => {
    const s = bySubnet.get(subnetId);
    return s ? `${ip}/${prefixOf(s.cidr)}` : undefined;
  };
  if (net.body['router:external']) {
    // The host is the upstream of an external network: it holds each subnet's gateway.
    for (const s of subnets)
      if (s.body.gateway_ip) hostAddresses.add(`${s.body.gateway_ip}/${prefixOf(s.body.cidr)}`);
  }
  const dhcpHosts: NetworkSpec['dhcpHosts'] = [];
  for (const p of ports) {
    const owner = p.body.device_owner;
    for (const f of p.body.fixed_ips) {
      if (owner === Owner.dhcp || owner === Owner.routerInterface || owner === Owner.routerGateway) {
        const a = withPrefix(f.ip_address, f.subnet_id);
        if (a) hostAddresses.add(a);
      } else if (owner === Owner.floatingIp) {
        hostAddresses.add(`${f.ip_address}/32`);
      } else if (bySubnet.get(f.subnet_id)?.enable_dhcp) {
        dhcpHosts.push({
          mac: p.body.mac_address,
          ip: f.ip_address,
          hostname: `host-${f.ip_address.replace(/\./g, '-')}`,
        });
      }
    }
  }
  return {
    id: net.id,
    bridge: bridgeName(nc.opts.bridgePrefix, net.id),
    mtu: net.body.mtu,
    external: net.body['router:external'],
    subnets: subnets.map((s) => ({
      id: s.id,
      cidr: s.body.cidr,
      gateway: s.body.gateway_ip,
      dhcp: s.body.enable_dhcp,
      dnsServers: s.body.dns_nameservers,
    })),
    hostAddresses: [...hostAddresses].sort(),
    dhcpHosts,
  };
}

function ruleSpec(r: RuleDoc): RuleSpec | undefined {
  if (r.ethertype !== 'IPv4') return undefined;
  const p = r.protocol;
  const protocol: RuleSpec['protocol'] =
    p === null || p === 'any' || p === '0'
      ? 'any'
      : p === 'tcp' || p === 'udp' || p === 'icmp'
        ? p
        : /^\d+$/.test(p)
          ? Number(p) === 6
            ? 'tcp'
            : Number(p) === 17
              ? 'udp'
              : Number(p) === 1
                ? 'icmp'
                : Number(p)
          : 'any';
  return {
    direction: r.direction,
    protocol,
    portMin: r.port_range_min,
    portMax: r.port_range_max,
    remote: r.remote_group_id
      ? { group: r.remote_group_id }
      : r.remote_ip_prefix && r.remote_ip_prefix !== '0.0.0.0/0'
        ? { prefix: r.remote_ip_prefix }
        : { any: true },
  };
}

export async function portSpec(nc: NetworkContext, port: NetworkResource<PortDoc>): Promise<PortSpec> {
  const p = port.body;
  const rules: RuleSpec[] = [];
  if (p.port_security_enabled) {
    for (const sg of p.security_groups) {
      for (const r of await nc.repos.networking.list<RuleDoc>('security_group_rule', { parentId: sg })) {
        const spec = ruleSpec(r.body);
        if (spec) rules.push(spec);
      }
    }
  }
  return {
    id: port.id,
    networkId: p.network_id,
    bridge: bridgeName(nc.opts.bridgePrefix, p.network_id),
    tap: tapName(port.id),
    mac: p.mac_address,
    ips: p.fixed_ips.map((f) => f.ip_address),
    security: p.port_security_enabled,
    allowed: p.allowed_address_pairs.map((a) => ({ ip: a.ip_address, mac: a.mac_address || p.mac_address })),
    groups: p.port_security_enabled ? [...p.security_groups] : [],
    rules,
  };
}

export async function natSpec(nc: NetworkContext): Promise<NatSpec> {
  const nat: NatSpec = { snat: [], floating: [], routed: [] };
  const bridge = (id: string) => bridgeName(nc.opts.bridgePrefix, id);
  const routers = await nc.repos.networking.list<RouterDoc>('router');
  for (const r of routers) {
    const gw = r.body.external_gateway_info;
    const ifaces = await nc.repos.networking.list<PortDoc>('port', { deviceId: r.id });
    const inside = ifaces.filter((p) => p.body.device_owner === Owner.routerInterface);
    const bridges = [...new Set(inside.map((p) => bridge(p.body.network_id)))];
    for (const a of bridges) for (const b of bridges) if (a !== b) nat.routed.push({ from: a, to: b });
    if (!gw) continue;
    const ext = bridge(gw.network_id);
    for (const b of bridges) {
      nat.routed.push({ from: b, to: ext });
      nat.routed.push({ from: ext, to: b });
    }
    const snatTo = gw.external_fixed_ips[0]?.ip_address;
    if (!gw.enable_snat || !snatTo) continue;
    for (const p of inside) {
      for (const f of p.body.fixed_ips) {
        const s = await nc.repos.networking.get<SubnetDoc>('subnet', f.subnet_id);
        if (s)
          nat.snat.push({
            cidr: s.body.cidr,
            bridge: bridge(p.body.network_id),
            externalBridge: ext,
            snatTo,
          });
      }
    }
  }
  for (const f of await nc.repos.networking.list<FloatingIpDoc>('floatingip')) {
    if (f.body.port_id && f.body.fixed_ip_address)
      nat.floating.push({
        floatingIp: f.body.floating_ip_address,
        fixedIp: f.body.fixed_ip_address,
        externalBridge: bridge(f.body.floating_network_id),
      });
  }
  return nat;
}

export async function hostState(nc: NetworkContext): Promise<HostNetworkState> {
  const networks: NetworkSpec[] = [];
  for (const n of await nc.repos.networking.list<NetworkDoc>('network')) {
    const spec = await networkSpec(nc, n.id);
    if (spec) networks.push(spec);
  }
  const ports: PortSpec[] = [];
  for (const p of await nc.repos.networking.list<PortDoc>('port'))
    if (isGuestPort(p.body)) ports.push(await portSpec(nc, p));
  return { networks, ports, nat: await natSpec(nc) };
}
