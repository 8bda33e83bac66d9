// Networks and subnets. Every network is a bridge on the host and every subnet's addresses
// live in the host's one routing table, so subnets of all networks must not overlap (the
// error says so). A subnet with DHCP gets the network's DHCP port (the host's address that
// dnsmasq serves from).
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { NeutronError, inUse, invalidInput } from './errors.js';
import {
  adminOnly,
  ipv4,
  optBool,
  optInt,
  optList,
  optNullableString,
  optString,
  resourceBody,
} from './fields.js';
import {
  defaultGateway,
  defaultPools,
  inPools,
  ipToInt,
  isHostOf,
  overlaps,
  parseCidr,
  type Cidr,
} from './ipam.js';
import { Owner, type NetworkDoc, type PortDoc, type SubnetDoc } from './model.js';
import { networkSpec } from './host-state.js';
import { bridgeName } from '../../network/names.js';
import type { Quotas } from './quotas.js';
import type { Ports } from './ports.js';

const NETWORK_FIELDS = [
  'name',
  'description',
  'admin_state_up',
  'shared',
  'router:external',
  'mtu',
  'port_security_enabled',
  'project_id',
  'tenant_id',
  'availability_zone_hints',
  'is_default',
] as const;

const SUBNET_FIELDS = [
  'name',
  'description',
  'network_id',
  'ip_version',
  'cidr',
  'gateway_ip',
  'enable_dhcp',
  'allocation_pools',
  'dns_nameservers',
  'host_routes',
  'project_id',
  'tenant_id',
  'ipv6_ra_mode',
  'ipv6_address_mode',
  'subnetpool_id',
  'service_types',
  'segment_id',
  'use_default_subnetpool',
  'prefixlen',
] as const;

export class Networks {
  constructor(
    private readonly nc: NetworkContext,
    private readonly quotas: Quotas,
    private readonly ports: () => Ports,
  ) {}

  async create(ctx: RequestContext, body: unknown): Promise<NetworkDoc> {
    const b = resourceBody(body, 'network', NETWORK_FIELDS);
    adminOnly(b, ctx.isAdmin, ['shared', 'router:external', 'is_default']);
    const projectId = this.nc.projectFor(ctx, b);
    await this.quotas.check('network', projectId);
    const doc: NetworkDoc = {
      ...this.nc.common(
        ctx,
        { name: optString(b, 'name'), description: optString(b, 'description') },
        projectId,
      ),
      admin_state_up: optBool(b, 'admin_state_up') ?? true,
      status: 'ACTIVE',
      subnets: [],
      shared: optBool(b, 'shared') ?? false,
      'router:external': optBool(b, 'router:external') ?? false,
      mtu: (optInt(b, 'mtu', 68, 9000) as number | undefined) ?? 1500,
      port_security_enabled: optBool(b, 'port_security_enabled') ?? true,
    };
    optList(b, 'availability_zone_hints', (v) => v);
    await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'network',
      projectId,
      parentId: null,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    try {
      await this.pushNetwork(doc.id);
    } catch (e) {
      await this.nc.repos.networking.delete('network', doc.id);
      throw e;
    }
    return doc;
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<NetworkDoc> {
    const r = await this.nc.owned<NetworkDoc>(ctx, 'network', id);
    const b = resourceBody(body, 'network', [
      'name',
      'description',
      'admin_state_up',
      'shared',
      'router:external',
      'mtu',
      'port_security_enabled',
    ]);
    adminOnly(b, ctx.isAdmin, ['shared', 'router:external']);
    const n = r.body;
    n.name = optString(b, 'name') ?? n.name;
    n.description = optString(b, 'description') ?? n.description;
    n.admin_state_up = optBool(b, 'admin_state_up') ?? n.admin_state_up;
    n.shared = optBool(b, 'shared') ?? n.shared;
    n['router:external'] = optBool(b, 'router:external') ?? n['router:external'];
    n.mtu = (optInt(b, 'mtu', 68, 9000) as number | undefined) ?? n.mtu;
    n.port_security_enabled = optBool(b, 'port_security_enabled') ?? n.port_security_enabled;
    const saved = await this.nc.save('network', r);
    await this.pushNetwork(id);
    return saved;
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<NetworkDoc>(ctx, 'network', id);
    const ports = await this.nc.repos.networking.list<PortDoc>('port', { parentId: id });
    const users = ports.filter((p) => p.body.device_owner !== Owner.dhcp);
    if (users.length)
      throw inUse(
        'NetworkInUse',
        `Unable to complete operation on network ${id}. There are one or more ports still in use on the network (${users.map((p) => p.id).join(', ')}). Fix: delete those ports (or the servers and routers using them) first.`,
      );
    for (const p of ports) await this.ports().remove(p);
    for (const s of await this.nc.repos.networking.list<SubnetDoc>('subnet', { parentId: id }))
      await this.nc.repos.networking.delete('subnet', s.id);
    await this.nc.repos.networking.delete('network', r.id);
    await this.nc.push({
      op: 'network-removed',
      networkId: id,
      bridge: bridgeName(this.nc.opts.bridgePrefix, id),
    });
  }

  async pushNetwork(id: string): Promise<void> {
    const spec = await networkSpec(this.nc, id);
    if (spec) await this.nc.push({ op: 'network', network: spec });
  }

  // --- subnets -----------------------------------------------------------------------------

  async createSubnet(ctx: RequestContext, body: unknown): Promise<SubnetDoc> {
    const b = resourceBody(body, 'subnet', SUBNET_FIELDS);
    const networkId = optString(b, 'network_id');
    if (!networkId)
      throw invalidInput('Invalid input for network_id: it is required (the network the subnet belongs to).');
    const net = await this.nc.visible<NetworkDoc>(ctx, 'network', networkId);
    if (!ctx.isAdmin && net.projectId !== ctx.projectId)
      throw new NeutronError('not-found', 'NetworkNotFound', `Network ${networkId} could not be found.`);
    const version = b.ip_version ?? 4;
    if (version === 6 || version === '6')
      throw invalidInput(
        'IPv6 subnets are not supported by Kestrel yet. Fix: create an IPv4 subnet (ip_version 4).',
      );
    if (version !== 4 && version !== '4')
      throw invalidInput(`Invalid input for ip_version: '${String(version)}' (4).`);
    if (b.ipv6_ra_mode != null || b.ipv6_address_mode != null)
      throw invalidInput('ipv6_ra_mode and ipv6_address_mode apply to IPv6 subnets only.');
    if (b.subnetpool_id != null || b.use_default_subnetpool === true || b.prefixlen !== undefined)
      throw invalidInput('Subnet pools are not supported. Fix: give the subnet a cidr.');
    const cidrText = optString(b, 'cidr');
    if (!cidrText) throw invalidInput('Invalid input for cidr: it is required (e.g. 10.0.0.0/24).');
    const cidr = parseCidr(cidrText);
    if (typeof cidr === 'string') throw invalidInput(`Invalid input for cidr: ${cidr}.`);
    await this.checkOverlap(cidr);
    const projectId = this.nc.projectFor(ctx, b);
    await this.quotas.check('subnet', projectId);
    let gateway: string | null = defaultGateway(cidr);
    const g = optNullableString(b, 'gateway_ip');
    if (g === null) gateway = null;
    else if (g !== undefined) {
      ipv4('gateway_ip', g);
      if (!isHostOf(cidr, g))
        throw invalidInput(`Invalid input for gateway_ip: ${g} is not a host address of ${cidr.text}.`);
      gateway = g;
    }
    const pools =
      optList(b, 'allocation_pools', (v, i) => {
        const p = v as { start?: unknown; end?: unknown } | null;
        const start = ipv4(`allocation_pools[${i}].start`, p?.start);
        const end = ipv4(`allocation_pools[${i}].end`, p?.end);
        if (!isHostOf(cidr, start) || !isHostOf(cidr, end) || ipToInt(start) > ipToInt(end))
          throw invalidInput(
            `The allocation pool ${start}-${end} spans beyond the subnet cidr ${cidr.text} or ends before it starts.`,
          );
        return { start, end };
      }) ?? defaultPools(cidr, gateway);
    if (gateway && pools.length && inPools(pools, gateway))
      throw new NeutronError(
        'conflict',
        'GatewayConflictWithAllocationPools',
        `Gateway ip ${gateway} conflicts with allocation pool ${pools.map((p) => `${p.start}-${p.end}`).join(', ')}.`,
      );
    const doc: SubnetDoc = {
      ...this.nc.common(
        ctx,
        { name: optString(b, 'name'), description: optString(b, 'description') },
        projectId,
      ),
      network_id: networkId,
      ip_version: 4,
      cidr: cidr.text,
      gateway_ip: gateway,
      enable_dhcp: optBool(b, 'enable_dhcp') ?? true,
      allocation_pools: pools,
      dns_nameservers: optList(b, 'dns_nameservers', (v, i) => ipv4(`dns_nameservers[${i}]`, v)) ?? [],
      host_routes:
        optList(b, 'host_routes', (v, i) => {
          const r = v as { destination?: unknown; nexthop?: unknown } | null;
          const d = parseCidr(String(r?.destination));
          if (typeof d === 'string')
            throw invalidInput(`Invalid input for host_routes[${i}].destination: ${d}.`);
          return { destination: d.text, nexthop: ipv4(`host_routes[${i}].nexthop`, r?.nexthop) };
        }) ?? [],
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
      subnetpool_id: null,
      service_types: [],
      segment_id: null,
    };
    await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'subnet',
      projectId,
      parentId: networkId,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    try {
      net.body.subnets.push(doc.id);
      await this.nc.save('network', net);
      if (doc.enable_dhcp) await this.ports().ensureDhcpAddress(net.id, net.projectId, doc.id);
      await this.pushNetwork(networkId);
    } catch (e) {
      await this.deleteSubnetRows(doc.id, networkId);
      await this.pushNetwork(networkId).catch(() => undefined);
      throw e;
    }
    return doc;
  }

  private async checkOverlap(cidr: Cidr): Promise<void> {
    for (const s of await this.nc.repos.networking.list<SubnetDoc>('subnet')) {
      const other = parseCidr(s.body.cidr) as Cidr;
      if (overlaps(cidr, other))
        throw invalidInput(
          `Invalid input for cidr: ${cidr.text} overlaps subnet ${s.id} (${other.text}) of network ${s.body.network_id}. Every Kestrel network lives in the host's one routing table, so subnets must not overlap. Fix: choose another range.`,
        );
    }
  }

  async updateSubnet(ctx: RequestContext, id: string, body: unknown): Promise<SubnetDoc> {
    const r = await this.nc.owned<SubnetDoc>(ctx, 'subnet', id);
    const b = resourceBody(body, 'subnet', [
      'name',
      'description',
      'gateway_ip',
      'enable_dhcp',
      'dns_nameservers',
      'host_routes',
      'allocation_pools',
    ]);
    if (b.allocation_pools !== undefined)
      throw invalidInput('Changing allocation_pools is not supported. Fix: create a new subnet.');
    const s = r.body;
    s.name = optString(b, 'name') ?? s.name;
    s.description = optString(b, 'description') ?? s.description;
    const g = optNullableString(b, 'gateway_ip');
    if (g !== undefined) {
      if (g !== null) {
        ipv4('gateway_ip', g);
        if (!isHostOf(parseCidr(s.cidr) as Cidr, g))
          throw invalidInput(`Invalid input for gateway_ip: ${g} is not a host address of ${s.cidr}.`);
        if (inPools(s.allocation_pools, g))
          throw new NeutronError(
            'conflict',
            'GatewayConflictWithAllocationPools',
            `Gateway ip ${g} conflicts with the allocation pools of subnet ${id}.`,
          );
      }
      s.gateway_ip = g;
    }
    s.dns_nameservers =
      optList(b, 'dns_nameservers', (v, i) => ipv4(`dns_nameservers[${i}]`, v)) ?? s.dns_nameservers;
    const dhcp = optBool(b, 'enable_dhcp');
    const saved = await this.nc.save('subnet', r);
    if (dhcp !== undefined && dhcp !== s.enable_dhcp) {
      s.enable_dhcp = dhcp;
      await this.nc.save('subnet', r);
      if (dhcp) await this.ports().ensureDhcpAddress(s.network_id, r.projectId, id);
      else await this.ports().dropDhcpAddress(s.network_id, id);
    }
    await this.pushNetwork(s.network_id);
    return saved;
  }

  async deleteSubnet(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<SubnetDoc>(ctx, 'subnet', id);
    const ports = await this.nc.repos.networking.list<PortDoc>('port', { parentId: r.body.network_id });
    const users = ports.filter(
      (p) => p.body.device_owner !== Owner.dhcp && p.body.fixed_ips.some((f) => f.subnet_id === id),
    );
    if (users.length)
      throw inUse(
        'SubnetInUse',
        `Unable to complete operation on subnet ${id}: one or more ports have an IP allocation from this subnet (${users.map((p) => p.id).join(', ')}). Fix: delete those ports, or remove the subnet from its router (openstack router remove subnet).`,
      );
    await this.ports().dropDhcpAddress(r.body.network_id, id);
    await this.deleteSubnetRows(id, r.body.network_id);
    await this.pushNetwork(r.body.network_id);
  }

  private async deleteSubnetRows(id: string, networkId: string): Promise<void> {
    await this.nc.repos.networking.delete('subnet', id);
    const net = await this.nc.find<NetworkDoc>('network', networkId);
    if (net) {
      net.body.subnets = net.body.subnets.filter((s) => s !== id);
      await this.nc.save('network', net as NetworkResource<NetworkDoc>);
    }
  }
}
