// Routers: the host routes between the subnets a router joins and NATs them out through the
// router's gateway on an external network (enable_snat). A gateway is a port on the external
// network holding the SNAT address; an interface is a port holding the subnet's gateway IP.
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { NeutronError, inUse, invalidInput } from './errors.js';
import { adminOnly, ipv4, optBool, optList, optString, resourceBody, type Body } from './fields.js';
import {
  Owner,
  type FloatingIpDoc,
  type NetworkDoc,
  type PortDoc,
  type RouterDoc,
  type SubnetDoc,
} from './model.js';
import { natSpec } from './host-state.js';
import type { Ports } from './ports.js';
import type { Quotas } from './quotas.js';

const ROUTER_FIELDS = [
  'name',
  'description',
  'admin_state_up',
  'external_gateway_info',
  'project_id',
  'tenant_id',
  'distributed',
  'ha',
  'availability_zone_hints',
  'routes',
] as const;

export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

export class Routers {
  constructor(
    private readonly nc: NetworkContext,
    private readonly quotas: Quotas,
    private readonly ports: Ports,
  ) {}

  async create(ctx: RequestContext, body: unknown): Promise<RouterDoc> {
    const b = resourceBody(body, 'router', ROUTER_FIELDS);
    adminOnly(b, ctx.isAdmin, ['distributed', 'ha']);
    if (b.distributed === true || b.ha === true)
      throw invalidInput('Distributed and HA routers are not supported: each host routes its own networks.');
    const projectId = this.nc.projectFor(ctx, b);
    await this.quotas.check('router', projectId);
    const doc: RouterDoc = {
      ...this.nc.common(
        ctx,
        { name: optString(b, 'name'), description: optString(b, 'description') },
        projectId,
      ),
      admin_state_up: optBool(b, 'admin_state_up') ?? true,
      status: 'ACTIVE',
      external_gateway_info: null,
      routes: [],
      distributed: false,
      ha: false,
    };
    this.noRoutes(b);
    const row = await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'router',
      projectId,
      parentId: null,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    if (b.external_gateway_info) {
      try {
        await this.setGateway(ctx, row, b.external_gateway_info);
      } catch (e) {
        await this.nc.repos.networking.delete('router', doc.id);
        throw e;
      }
    }
    return row.body;
  }

  private noRoutes(b: Body): void {
    const routes = optList(b, 'routes', (v) => v);
    if (routes && routes.length)
      throw invalidInput('Extra routes are not supported. Fix: leave routes empty.');
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<RouterDoc> {
    const r = await this.nc.owned<RouterDoc>(ctx, 'router', id);
    const b = resourceBody(body, 'router', [
      'name',
      'description',
      'admin_state_up',
      'external_gateway_info',
      'routes',
    ]);
    this.noRoutes(b);
    r.body.name = optString(b, 'name') ?? r.body.name;
    r.body.description = optString(b, 'description') ?? r.body.description;
    r.body.admin_state_up = optBool(b, 'admin_state_up') ?? r.body.admin_state_up;
    await this.nc.save('router', r);
    if (b.external_gateway_info !== undefined) {
      if (b.external_gateway_info === null || Object.keys(b.external_gateway_info as object).length === 0)
        await this.clearGateway(r);
      else await this.setGateway(ctx, r, b.external_gateway_info);
    }
    return r.body;
  }

  private async setGateway(ctx: RequestContext, r: NetworkResource<RouterDoc>, info: unknown): Promise<void> {
    if (!info || typeof info !== 'object' || Array.isArray(info))
      throw invalidInput('Invalid input for external_gateway_info: expected {"network_id": ...}.');
    const g = info as Body;
    const unknown = Object.keys(g).filter(
      (k) => !['network_id', 'enable_snat', 'external_fixed_ips'].includes(k),
    );
    if (unknown.length)
      throw invalidInput(`Invalid input for external_gateway_info: unknown key(s) ${unknown.join(', ')}.`);
    const networkId = optString(g, 'network_id');
    if (!networkId) throw invalidInput('Invalid input for external_gateway_info: network_id is required.');
    const net = await this.nc.visible<NetworkDoc>(ctx, 'network', networkId);
    if (!net.body['router:external'])
      throw new NeutronError(
        'bad-request',
        'BadRequest',
        `Bad router request: Network ${networkId} is not an external network. Fix: pick a network with router:external (openstack network list --external).`,
      );
    const snat = optBool(g, 'enable_snat') ?? true;
    const fixed = optList(g, 'external_fixed_ips', (v, i) => {
      const f = v as Body;
      return {
        subnet_id: f?.subnet_id === undefined ? undefined : String(f.subnet_id),
        ip_address:
          f?.ip_address === undefined ? undefined : ipv4(`external_fixed_ips[${i}].ip_address`, f.ip_address),
      };
    });
    if (fixed?.some((f) => f.ip_address) && !ctx.isAdmin)
      throw new NeutronError(
        'forbidden',
        'HTTPForbidden',
        'Only an admin may choose external_fixed_ips addresses.',
      );
    const current = r.body.external_gateway_info;
    if (current && current.network_id === networkId && !fixed) {
      current.enable_snat = snat;
      await this.nc.save('router', r);
      await this.pushNat();
      return;
    }
    if (current) await this.clearGateway(r);
    const port = await this.ports.createFor({
      networkId,
      projectId: '',
      deviceOwner: Owner.routerGateway,
      deviceId: r.id,
      fixedIps: fixed,
      portSecurity: false,
    });
    r.body.external_gateway_info = {
      network_id: networkId,
      enable_snat: snat,
      external_fixed_ips: port.body.fixed_ips,
    };
    await this.nc.save('router', r);
    await this.pushNat();
  }

  private async clearGateway(r: NetworkResource<RouterDoc>): Promise<void> {
    const gw = r.body.external_gateway_info;
    if (!gw) return;
    const fips = (await this.nc.repos.networking.list<FloatingIpDoc>('floatingip')).filter(
      (f) => f.body.router_id === r.id,
    );
    if (fips.length)
      throw inUse(
        'RouterExternalGatewayInUseByFloatingIp',
        `Gateway cannot be updated for router ${r.id}, since a gateway to external network ${gw.network_id} is required by one or more floating IPs (${fips.map((f) => f.body.floating_ip_address).join(', ')}). Fix: disassociate them first.`,
      );
    for (const p of await this.nc.repos.networking.list<PortDoc>('port', { deviceId: r.id }))
      if (p.body.device_owner === Owner.routerGateway) await this.ports.remove(p);
    r.body.external_gateway_info = null;
    await this.nc.save('router', r);
    await this.pushNat();
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<RouterDoc>(ctx, 'router', id);
    const ifaces = (await this.nc.repos.networking.list<PortDoc>('port', { deviceId: id })).filter(
      (p) => p.body.device_owner === Owner.routerInterface,
    );
    if (ifaces.length)
      throw inUse(
        'RouterInUse',
        `Router ${id} still has ports (${ifaces.map((p) => p.id).join(', ')}). Fix: remove its subnets first (openstack router remove subnet).`,
      );
    await this.clearGateway(r);
    await this.nc.repos.networking.delete('router', id);
  }

  async addInterface(ctx: RequestContext, id: string, body: unknown): Promise<InterfaceInfo> {
    const r = await this.nc.owned<RouterDoc>(ctx, 'router', id);
    const b = (body && typeof body === 'object' ? body : {}) as Body;
    const subnetId = optString(b, 'subnet_id');
    const portId = optString(b, 'port_id');
    if (!!subnetId === !!portId)
      throw invalidInput('Bad router request: give exactly one of subnet_id or port_id.');
    let port: NetworkResource<PortDoc>;
    if (subnetId) {
      const s = await this.nc.visible<SubnetDoc>(ctx, 'subnet', subnetId);
      if (!s.body.gateway_ip)
        throw invalidInput(
          `Bad router request: Subnet ${subnetId} does not have a gateway IP. Fix: openstack subnet set --gateway auto.`,
        );
      await this.notAttached(s.body);
      port = await this.ports.createFor({
        networkId: s.body.network_id,
        projectId: r.projectId,
        deviceOwner: Owner.routerInterface,
        deviceId: id,
        fixedIps: [{ subnet_id: subnetId, ip_address: s.body.gateway_ip }],
        portSecurity: false,
      });
    } else {
      port = await this.nc.owned<PortDoc>(ctx, 'port', portId as string);
      if (port.body.device_id)
        throw inUse('PortInUse', `Port ${portId} is in use by device ${port.body.device_id}.`);
      if (port.body.fixed_ips.length === 0)
        throw invalidInput(
          `Bad router request: Router port must have at least one fixed IP (port ${portId}).`,
        );
      for (const f of port.body.fixed_ips) {
        const s = await this.nc.find<SubnetDoc>('subnet', f.subnet_id);
        if (s) await this.notAttached(s.body);
      }
      port.body.device_id = id;
      port.body.device_owner = Owner.routerInterface;
      port.body.security_groups = [];
      port.body.port_security_enabled = false;
      await this.nc.save('port', port, { deviceId: id });
      await this.nc.push({
        op: 'port-removed',
        portId: port.id,
        ips: port.body.fixed_ips.map((f) => f.ip_address),
        groups: [],
      });
      await this.ports.plug(port);
    }
    await this.pushNat();
    const first = port.body.fixed_ips[0];
    return {
      id,
      tenant_id: r.projectId,
      project_id: r.projectId,
      port_id: port.id,
      network_id: port.body.network_id,
      subnet_id: first?.subnet_id ?? '',
      subnet_ids: port.body.fixed_ips.map((f) => f.subnet_id),
    };
  }

  private async notAttached(s: SubnetDoc): Promise<void> {
    for (const p of await this.nc.repos.networking.list<PortDoc>('port', { parentId: s.network_id }))
      if (p.body.device_owner === Owner.routerInterface && p.body.fixed_ips.some((f) => f.subnet_id === s.id))
        throw new NeutronError(
          'bad-request',
          'BadRequest',
          `Bad router request: Router already has a port on subnet ${s.id} (router ${p.body.device_id}).`,
        );
  }

  async removeInterface(ctx: RequestContext, id: string, body: unknown): Promise<InterfaceInfo> {
    const r = await this.nc.owned<RouterDoc>(ctx, 'router', id);
    const b = (body && typeof body === 'object' ? body : {}) as Body;
    const subnetId = optString(b, 'subnet_id');
    const portId = optString(b, 'port_id');
    if (!subnetId && !portId) throw invalidInput('Bad router request: give subnet_id or port_id.');
    const port = (await this.nc.repos.networking.list<PortDoc>('port', { deviceId: id })).find(
      (p) =>
        p.body.device_owner === Owner.routerInterface &&
        (portId ? p.id === portId : p.body.fixed_ips.some((f) => f.subnet_id === subnetId)),
    );
    if (!port)
      throw new NeutronError(
        'not-found',
        subnetId ? 'RouterInterfaceNotFoundForSubnet' : 'RouterInterfaceNotFound',
        subnetId
          ? `Router ${id} has no interface on subnet ${subnetId}.`
          : `Router ${id} does not have an interface with id ${portId}.`,
      );
    const subnets = port.body.fixed_ips.map((f) => f.subnet_id);
    const fips = await this.nc.repos.networking.list<FloatingIpDoc>('floatingip');
    for (const f of fips) {
      if (f.body.router_id !== id || !f.body.port_id) continue;
      const p = await this.nc.find<PortDoc>('port', f.body.port_id);
      if (p && p.body.fixed_ips.some((x) => subnets.includes(x.subnet_id)))
        throw inUse(
          'RouterInterfaceInUseByFloatingIP',
          `Router interface for subnet ${subnets[0]} on router ${id} cannot be deleted, as it is required by one or more floating IPs (${f.body.floating_ip_address}).`,
        );
    }
    await this.ports.remove(port);
    await this.pushNat();
    return {
      id,
      tenant_id: r.projectId,
      project_id: r.projectId,
      port_id: port.id,
      network_id: port.body.network_id,
      subnet_id: subnets[0] ?? '',
      subnet_ids: subnets,
    };
  }

  /** The router serving a subnet (its interface) with a gateway on externalNetworkId. */
  async routerFor(subnetId: string, externalNetworkId: string): Promise<string | undefined> {
    for (const r of await this.nc.repos.networking.list<RouterDoc>('router')) {
      if (r.body.external_gateway_info?.network_id !== externalNetworkId) continue;
      const ifaces = await this.nc.repos.networking.list<PortDoc>('port', { deviceId: r.id });
      if (
        ifaces.some(
          (p) =>
            p.body.device_owner === Owner.routerInterface &&
            p.body.fixed_ips.some((f) => f.subnet_id === subnetId),
        )
      )
        return r.id;
    }
    return undefined;
  }

  async pushNat(): Promise<void> {
    await this.nc.push({ op: 'nat', nat: await natSpec(this.nc) });
  }
}
