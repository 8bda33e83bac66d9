// Ports: a MAC (fa:16:3e:…, unique in its network), fixed IPs taken from the subnets'
// pools (the allocation table makes each IP one port's), security groups (the project's
// default group unless told otherwise) and allowed address pairs. A guest port becomes a tap
// on its network's bridge with its own nftables chains and a static DHCP entry; changing one
// port rewrites that port's chains and its network's DHCP hosts only.
import { randomBytes } from 'node:crypto';
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { NeutronError, inUse, invalidInput } from './errors.js';
import { adminOnly, ipv4, mac, optBool, optList, optString, resourceBody, type Body } from './fields.js';
import { firstFree, inPools, isHostOf, parseCidr, type Cidr } from './ipam.js';
import { Owner, type FixedIp, type NetworkDoc, type PortDoc, type SubnetDoc } from './model.js';
import { isGuestPort, networkSpec, portSpec } from './host-state.js';
import type { Quotas } from './quotas.js';
import type { SecurityGroups } from './security-groups.js';

const PORT_FIELDS = [
  'name',
  'description',
  'network_id',
  'admin_state_up',
  'mac_address',
  'fixed_ips',
  'device_id',
  'device_owner',
  'security_groups',
  'port_security_enabled',
  'allowed_address_pairs',
  'binding:host_id',
  'binding:vnic_type',
  'binding:profile',
  'project_id',
  'tenant_id',
  'extra_dhcp_opts',
] as const;

const UPDATE_FIELDS = PORT_FIELDS.filter(
  (f) => !['network_id', 'project_id', 'tenant_id', 'mac_address'].includes(f),
);

/** What a port asks for, already read from a body or given by Kestrel itself. */
export interface PortRequest {
  networkId: string;
  projectId: string;
  name?: string;
  description?: string;
  mac?: string;
  fixedIps?: { subnet_id?: string; ip_address?: string }[];
  deviceId?: string;
  deviceOwner?: string;
  securityGroups?: string[];
  portSecurity?: boolean;
  allowedPairs?: { ip_address: string; mac_address: string }[];
  hostId?: string;
  adminStateUp?: boolean;
}

export class Ports {
  constructor(
    private readonly nc: NetworkContext,
    private readonly quotas: Quotas,
    private readonly groups: () => SecurityGroups,
  ) {}

  async create(ctx: RequestContext, body: unknown): Promise<PortDoc> {
    const b = resourceBody(body, 'port', PORT_FIELDS);
    adminOnly(b, ctx.isAdmin, ['binding:host_id', 'binding:profile']);
    const networkId = optString(b, 'network_id');
    if (!networkId)
      throw invalidInput('Invalid input for network_id: it is required (the network of the port).');
    await this.nc.visible<NetworkDoc>(ctx, 'network', networkId);
    const projectId = this.nc.projectFor(ctx, b);
    if (b['binding:vnic_type'] !== undefined && b['binding:vnic_type'] !== 'normal')
      throw invalidInput(
        `Invalid input for binding:vnic_type: '${String(b['binding:vnic_type'])}'; Kestrel's ports are 'normal' (a tap on a bridge).`,
      );
    if (Array.isArray(b.extra_dhcp_opts) && b.extra_dhcp_opts.length)
      throw invalidInput('extra_dhcp_opts are not supported. Fix: leave them out.');
    const req = this.readRequest(b, { networkId, projectId });
    if (req.securityGroups)
      for (const sg of req.securityGroups) await this.nc.visible(ctx, 'security_group', sg);
    return (await this.createFor(req)).body;
  }

  private readRequest(b: Body, base: { networkId: string; projectId: string }): PortRequest {
    return {
      ...base,
      name: optString(b, 'name'),
      description: optString(b, 'description'),
      mac: b.mac_address === undefined ? undefined : mac('mac_address', b.mac_address),
      fixedIps: optList(b, 'fixed_ips', (v, i) => {
        const f = v as { subnet_id?: unknown; ip_address?: unknown } | null;
        if (!f || typeof f !== 'object')
          throw invalidInput(`Invalid input for fixed_ips[${i}]: expected {"subnet_id"?, "ip_address"?}.`);
        const extra = Object.keys(f).filter((k) => k !== 'subnet_id' && k !== 'ip_address');
        if (extra.length)
          throw invalidInput(`Invalid input for fixed_ips[${i}]: unknown key(s) ${extra.join(', ')}.`);
        return {
          subnet_id: f.subnet_id === undefined ? undefined : String(f.subnet_id),
          ip_address:
            f.ip_address === undefined ? undefined : ipv4(`fixed_ips[${i}].ip_address`, f.ip_address),
        };
      }),
      deviceId: optString(b, 'device_id'),
      deviceOwner: optString(b, 'device_owner'),
      securityGroups: optList(b, 'security_groups', (v, i) => {
        if (typeof v !== 'string')
          throw invalidInput(`Invalid input for security_groups[${i}]: expected a security group id.`);
        return v;
      }),
      portSecurity: optBool(b, 'port_security_enabled'),
      allowedPairs: optList(b, 'allowed_address_pairs', (v, i) => {
        const p = v as { ip_address?: unknown; mac_address?: unknown } | null;
        const ip = String(p?.ip_address ?? '');
        const c = ip.includes('/') ? parseCidr(ip) : undefined;
        if (typeof c === 'string' || (!c && !ipv4(`allowed_address_pairs[${i}].ip_address`, ip)))
          throw invalidInput(`Invalid input for allowed_address_pairs[${i}].ip_address: '${ip}'.`);
        return {
          ip_address: c ? c.text : ip,
          mac_address:
            p?.mac_address === undefined ? '' : mac(`allowed_address_pairs[${i}].mac_address`, p.mac_address),
        };
      }),
      hostId: optString(b, 'binding:host_id'),
      adminStateUp: optBool(b, 'admin_state_up'),
    };
  }

  /** Creates a port (API, servers, routers, floating IPs, DHCP) and plugs it on the hosts. */
  async createFor(req: PortRequest): Promise<NetworkResource<PortDoc>> {
    const net = await this.nc.find<NetworkDoc>('network', req.networkId);
    if (!net)
      throw new NeutronError('not-found', 'NetworkNotFound', `Network ${req.networkId} could not be found.`);
    const owner = req.deviceOwner ?? '';
    const service = owner.startsWith('network:');
    if (!service) await this.quotas.check('port', req.projectId);
    const portSecurity = req.portSecurity ?? (service ? false : net.body.port_security_enabled);
    let groups = req.securityGroups;
    if (!portSecurity && groups && groups.length)
      throw new NeutronError(
        'conflict',
        'PortSecurityAndIPRequiredForSecurityGroups',
        'A port with port_security_enabled false cannot have security groups. Fix: leave security_groups out or enable port security.',
      );
    if (!portSecurity && req.allowedPairs?.length)
      throw new NeutronError(
        'conflict',
        'AddressPairAndPortSecurityRequired',
        'allowed_address_pairs need port_security_enabled. Fix: enable port security.',
      );
    if (portSecurity && groups === undefined)
      groups = [(await this.groups().ensureDefault(req.projectId)).id];
    const id = this.nc.newId();
    const now = this.nc.now();
    const doc: PortDoc = {
      id,
      name: req.name ?? '',
      description: req.description ?? '',
      project_id: req.projectId,
      tags: [],
      created_at: now,
      updated_at: now,
      revision_number: 0,
      network_id: net.id,
      admin_state_up: req.adminStateUp ?? true,
      status: 'DOWN',
      mac_address: '',
      fixed_ips: [],
      device_id: req.deviceId ?? '',
      device_owner: owner,
      security_groups: portSecurity ? (groups ?? []) : [],
      port_security_enabled: portSecurity,
      allowed_address_pairs: req.allowedPairs ?? [],
      'binding:host_id': req.hostId ?? '',
      'binding:vif_type': req.hostId ? 'bridge' : 'unbound',
      'binding:vnic_type': 'normal',
      'binding:profile': {},
      'binding:vif_details': req.hostId ? { port_filter: true } : {},
      extra_dhcp_opts: [],
    };
    let stored: NetworkResource<PortDoc> | undefined;
    for (let attempt = 0; !stored; attempt++) {
      doc.mac_address = req.mac ?? randomMac();
      try {
        stored = await this.nc.repos.networking.insert({
          id,
          kind: 'port',
          projectId: req.projectId,
          parentId: net.id,
          deviceId: doc.device_id || null,
          macAddress: doc.mac_address,
          body: doc,
        });
      } catch (e) {
        if (req.mac || attempt >= 5) {
          if (await this.macTaken(net.id, doc.mac_address))
            throw new NeutronError(
              'conflict',
              'MacAddressInUse',
              `Unable to complete operation for network ${net.id}. The mac address ${doc.mac_address} is in use. Fix: leave mac_address out to get a new one.`,
            );
          throw e;
        }
      }
    }
    try {
      doc.fixed_ips = await this.allocate(stored, req.fixedIps);
      await this.nc.repos.networking.update('port', id, doc);
      await this.plug(stored);
    } catch (e) {
      await this.nc.repos.networking.releaseIps(id);
      await this.nc.repos.networking.delete('port', id);
      await this.pushNetworkOf(net.id).catch(() => undefined);
      throw e;
    }
    return stored;
  }

  private async macTaken(networkId: string, m: string): Promise<boolean> {
    const ports = await this.nc.repos.networking.list<PortDoc>('port', { parentId: networkId });
    return ports.some((p) => p.macAddress === m);
  }

  /** Takes the requested fixed IPs (or one from the first subnet with room). */
  private async allocate(port: NetworkResource<PortDoc>, asked: PortRequest['fixedIps']): Promise<FixedIp[]> {
    const subnets = await this.nc.repos.networking.list<SubnetDoc>('subnet', {
      parentId: port.body.network_id,
    });
    const out: FixedIp[] = [];
    const requests = asked ?? (subnets.length ? [{}] : []);
    for (const r of requests) {
      let subnet: NetworkResource<SubnetDoc> | undefined;
      if (r.subnet_id) {
        subnet = subnets.find((s) => s.id === r.subnet_id);
        if (!subnet)
          throw invalidInput(
            `Invalid input for fixed_ips: subnet ${r.subnet_id} is not on network ${port.body.network_id}.`,
          );
      } else if (r.ip_address) {
        subnet = subnets.find((s) => isHostOf(parseCidr(s.body.cidr) as Cidr, r.ip_address as string));
        if (!subnet)
          throw invalidInput(
            `Invalid input for fixed_ips: no subnet of network ${port.body.network_id} contains ${r.ip_address}.`,
          );
      }
      if (r.ip_address && subnet) {
        const c = parseCidr(subnet.body.cidr) as Cidr;
        if (!isHostOf(c, r.ip_address))
          throw invalidInput(
            `IP address ${r.ip_address} is not a valid IP for the specified subnet ${subnet.id} (${c.text}).`,
          );
        const ownerIsRouter = port.body.device_owner === Owner.routerInterface;
        if (r.ip_address === subnet.body.gateway_ip && !ownerIsRouter)
          throw new NeutronError(
            'conflict',
            'IpAddressInUse',
            `IP address ${r.ip_address} is the gateway of subnet ${subnet.id}. Fix: choose another address.`,
          );
        if (!(await this.nc.repos.networking.allocateIp(subnet.id, r.ip_address, port.id)))
          throw new NeutronError(
            'conflict',
            'IpAddressAlreadyAllocated',
            `IP address ${r.ip_address} already allocated in subnet ${subnet.id}. Fix: choose another address or leave ip_address out.`,
          );
        out.push({ subnet_id: subnet.id, ip_address: r.ip_address });
        continue;
      }
      const candidates = subnet ? [subnet] : subnets;
      let got: FixedIp | undefined;
      for (const s of candidates) {
        for (let tries = 0; tries < 8 && !got; tries++) {
          const taken = await this.nc.repos.networking.allocatedIps(s.id);
          if (s.body.gateway_ip) taken.add(s.body.gateway_ip);
          const ip = firstFree(s.body.allocation_pools, taken);
          if (!ip) break;
          if (await this.nc.repos.networking.allocateIp(s.id, ip, port.id))
            got = { subnet_id: s.id, ip_address: ip };
        }
        if (got) break;
      }
      if (!got)
        throw new NeutronError(
          'conflict',
          'IpAddressGenerationFailure',
          `No more IP addresses available on network ${port.body.network_id}. Fix: delete unused ports or add a subnet.`,
        );
      out.push(got);
    }
    return out;
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<PortDoc> {
    const r = await this.nc.owned<PortDoc>(ctx, 'port', id);
    const b = resourceBody(body, 'port', UPDATE_FIELDS);
    adminOnly(b, ctx.isAdmin, ['binding:host_id', 'binding:profile']);
    const req = this.readRequest(b, { networkId: r.body.network_id, projectId: r.projectId });
    const p = r.body;
    if (req.securityGroups)
      for (const sg of req.securityGroups) await this.nc.visible(ctx, 'security_group', sg);
    const portSecurity = req.portSecurity ?? p.port_security_enabled;
    const groups = req.securityGroups ?? (req.portSecurity === false ? [] : p.security_groups);
    if (!portSecurity && groups.length)
      throw new NeutronError(
        'conflict',
        'PortSecurityPortHasSecurityGroup',
        'Port has security group associated. Cannot disable port security or IP address until security group is removed. Fix: set security_groups to [] in the same update.',
      );
    p.name = req.name ?? p.name;
    p.description = req.description ?? p.description;
    p.admin_state_up = req.adminStateUp ?? p.admin_state_up;
    p.port_security_enabled = portSecurity;
    p.security_groups = groups;
    p.allowed_address_pairs = req.allowedPairs ?? p.allowed_address_pairs;
    if (req.deviceId !== undefined) p.device_id = req.deviceId;
    if (req.deviceOwner !== undefined) p.device_owner = req.deviceOwner;
    if (req.hostId !== undefined) {
      p['binding:host_id'] = req.hostId;
      p['binding:vif_type'] = req.hostId ? 'bridge' : 'unbound';
    }
    if (req.fixedIps) {
      const keep = req.fixedIps.filter((f) =>
        p.fixed_ips.some(
          (o) => o.ip_address === f.ip_address && (!f.subnet_id || f.subnet_id === o.subnet_id),
        ),
      );
      const fresh = req.fixedIps.filter((f) => !keep.includes(f));
      const kept = p.fixed_ips.filter((o) => keep.some((k) => k.ip_address === o.ip_address));
      await this.nc.repos.networking.releaseIps(
        id,
        kept.map((k) => ({ subnetId: k.subnet_id, ip: k.ip_address })),
      );
      p.fixed_ips = [...kept, ...(fresh.length ? await this.allocate(r, fresh) : [])];
    }
    const saved = await this.nc.save('port', r, { deviceId: p.device_id || null });
    await this.plug(r);
    return saved;
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<PortDoc>(ctx, 'port', id);
    const owner = r.body.device_owner;
    if (
      (owner === Owner.routerInterface || owner === Owner.routerGateway || owner === Owner.floatingIp) &&
      !ctx.isAdmin
    )
      throw inUse(
        'PortInUse',
        `Port ${id} is used by a router or floating IP (device_owner ${owner}). Fix: remove it with openstack router remove subnet / unset gateway, or delete the floating IP.`,
      );
    await this.remove(r);
  }

  /** Deletes a port: its floating IP let go, its chains and DHCP entry removed, its IPs freed. */
  async remove(r: NetworkResource<PortDoc>): Promise<void> {
    await this.onRemove?.(r);
    await this.nc.repos.networking.delete('port', r.id);
    await this.nc.repos.networking.releaseIps(r.id);
    if (isGuestPort(r.body))
      await this.nc.push({
        op: 'port-removed',
        portId: r.id,
        ips: r.body.fixed_ips.map((f) => f.ip_address),
        groups: r.body.security_groups,
      });
    await this.pushNetworkOf(r.body.network_id);
  }

  /** Set by the floating IPs: a port going away first loses its floating IP. */
  onRemove?: (r: NetworkResource<PortDoc>) => Promise<void>;

  /** Pushes a port's chains (guest ports) and its network's DHCP entries and host addresses. */
  async plug(r: NetworkResource<PortDoc>): Promise<void> {
    await this.pushNetworkOf(r.body.network_id);
    if (isGuestPort(r.body)) await this.nc.push({ op: 'port', port: await portSpec(this.nc, r) });
  }

  async pushNetworkOf(networkId: string): Promise<void> {
    const spec = await networkSpec(this.nc, networkId);
    if (spec) await this.nc.push({ op: 'network', network: spec });
  }

  /** The network's DHCP port gets an address on subnetId (created with the first one). */
  async ensureDhcpAddress(networkId: string, projectId: string, subnetId: string): Promise<void> {
    const dhcp = (await this.nc.repos.networking.list<PortDoc>('port', { parentId: networkId })).find(
      (p) => p.body.device_owner === Owner.dhcp,
    );
    if (!dhcp) {
      await this.createFor({
        networkId,
        projectId,
        deviceOwner: Owner.dhcp,
        deviceId: `dhcp-${networkId}`,
        fixedIps: [{ subnet_id: subnetId }],
      });
      return;
    }
    if (dhcp.body.fixed_ips.some((f) => f.subnet_id === subnetId)) return;
    dhcp.body.fixed_ips.push(...(await this.allocate(dhcp, [{ subnet_id: subnetId }])));
    await this.nc.save('port', dhcp);
  }

  async dropDhcpAddress(networkId: string, subnetId: string): Promise<void> {
    const dhcp = (await this.nc.repos.networking.list<PortDoc>('port', { parentId: networkId })).find(
      (p) => p.body.device_owner === Owner.dhcp,
    );
    if (!dhcp) return;
    dhcp.body.fixed_ips = dhcp.body.fixed_ips.filter((f) => f.subnet_id !== subnetId);
    if (dhcp.body.fixed_ips.length === 0) {
      await this.remove(dhcp);
      return;
    }
    await this.nc.repos.networking.releaseIps(
      dhcp.id,
      dhcp.body.fixed_ips.map((f) => ({ subnetId: f.subnet_id, ip: f.ip_address })),
    );
    await this.nc.save('port', dhcp);
  }

  /** Pushes the chains of every guest port in a security group (its rules changed). */
  async replugGroup(groupId: string): Promise<void> {
    for (const p of await this.nc.repos.networking.list<PortDoc>('port'))
      if (isGuestPort(p.body) && p.body.security_groups.includes(groupId))
        await this.nc.push({ op: 'port', port: await portSpec(this.nc, p) });
  }

  /** True when ip is free in subnet and in its pools (for router gateways and floating IPs). */
  static inPool(s: SubnetDoc, ip: string): boolean {
    return inPools(s.allocation_pools, ip);
  }
}

/** Neutron's base_mac fa:16:3e with three random bytes. */
function randomMac(): string {
  const r = randomBytes(3);
  return `fa:16:3e:${[...r].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}
