// Floating IPs: an address of an external network, held by a port there, DNAT'd to a port's
// fixed IP (and that port's traffic SNAT'd to it) once associated. Association needs a router
// joining the fixed IP's subnet to that external network (Neutron's 404 otherwise).
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { NeutronError, invalidInput } from './errors.js';
import { adminOnly, ipv4, optNullableString, optString, resourceBody, type Body } from './fields.js';
import { Owner, type FloatingIpDoc, type NetworkDoc, type PortDoc } from './model.js';
import type { Ports } from './ports.js';
import type { Quotas } from './quotas.js';
import type { Routers } from './routers.js';

const FIELDS = [
  'floating_network_id',
  'floating_ip_address',
  'port_id',
  'fixed_ip_address',
  'subnet_id',
  'description',
  'project_id',
  'tenant_id',
  'dns_name',
  'dns_domain',
] as const;

export class FloatingIps {
  constructor(
    private readonly nc: NetworkContext,
    private readonly quotas: Quotas,
    private readonly ports: Ports,
    private readonly routers: Routers,
  ) {
    ports.onRemove = (p) => this.portGone(p);
  }

  async create(ctx: RequestContext, body: unknown): Promise<FloatingIpDoc> {
    const b = resourceBody(body, 'floatingip', FIELDS);
    adminOnly(b, ctx.isAdmin, ['floating_ip_address']);
    const netId = optString(b, 'floating_network_id');
    if (!netId)
      throw invalidInput('Invalid input for floating_network_id: it is required (an external network).');
    const net = await this.nc.visible<NetworkDoc>(ctx, 'network', netId);
    if (!net.body['router:external'])
      throw new NeutronError(
        'bad-request',
        'BadRequest',
        `Bad floatingip request: Network ${netId} is not a valid external network.`,
      );
    const projectId = this.nc.projectFor(ctx, b);
    await this.quotas.check('floatingip', projectId);
    const address =
      b.floating_ip_address === undefined ? undefined : ipv4('floating_ip_address', b.floating_ip_address);
    const subnetId = optString(b, 'subnet_id');
    const id = this.nc.newId();
    const port = await this.ports.createFor({
      networkId: netId,
      projectId: '',
      deviceOwner: Owner.floatingIp,
      deviceId: id,
      portSecurity: false,
      fixedIps: address || subnetId ? [{ ip_address: address, subnet_id: subnetId }] : undefined,
    });
    const common = this.nc.common(ctx, { description: optString(b, 'description') }, projectId);
    const doc: FloatingIpDoc = {
      ...common,
      id,
      floating_ip_address: port.body.fixed_ips[0]?.ip_address ?? '',
      floating_network_id: netId,
      router_id: null,
      port_id: null,
      fixed_ip_address: null,
      status: 'DOWN',
    };
    if (!doc.floating_ip_address) {
      await this.ports.remove(port);
      throw new NeutronError(
        'conflict',
        'ExternalIpAddressExhausted',
        `Unable to find any IP address on external network ${netId}.`,
      );
    }
    const row = await this.nc.repos.networking.insert({
      id,
      kind: 'floatingip',
      projectId,
      parentId: netId,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    try {
      if (b.port_id) await this.associate(ctx, row, b);
    } catch (e) {
      await this.nc.repos.networking.delete('floatingip', id);
      await this.ports.remove(port);
      throw e;
    }
    return row.body;
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<FloatingIpDoc> {
    const r = await this.nc.owned<FloatingIpDoc>(ctx, 'floatingip', id);
    const b = resourceBody(body, 'floatingip', ['port_id', 'fixed_ip_address', 'description']);
    r.body.description = optString(b, 'description') ?? r.body.description;
    if (b.port_id === null) await this.disassociate(r);
    else if (b.port_id !== undefined) await this.associate(ctx, r, b);
    else await this.nc.save('floatingip', r);
    return r.body;
  }

  private async associate(ctx: RequestContext, r: NetworkResource<FloatingIpDoc>, b: Body): Promise<void> {
    const portId = optString(b, 'port_id') as string;
    const port = await this.nc.owned<PortDoc>(ctx, 'port', portId);
    const asked = optNullableString(b, 'fixed_ip_address');
    const fixed = asked ? port.body.fixed_ips.find((f) => f.ip_address === asked) : port.body.fixed_ips[0];
    if (!fixed)
      throw invalidInput(
        asked
          ? `Bad floatingip request: Port ${portId} does not have fixed ip ${asked}.`
          : `Bad floatingip request: Port ${portId} has no fixed IP.`,
      );
    const routerId = await this.routers.routerFor(fixed.subnet_id, r.body.floating_network_id);
    if (!routerId)
      throw new NeutronError(
        'not-found',
        'ExternalGatewayForFloatingIPNotFound',
        `External network ${r.body.floating_network_id} is not reachable from subnet ${fixed.subnet_id}. Therefore, cannot associate Port ${portId} with a Floating IP. Fix: add the subnet to a router whose gateway is on that network (openstack router add subnet; openstack router set --external-gateway).`,
      );
    for (const other of await this.nc.repos.networking.list<FloatingIpDoc>('floatingip'))
      if (
        other.id !== r.id &&
        other.body.port_id === portId &&
        other.body.fixed_ip_address === fixed.ip_address
      )
        throw new NeutronError(
          'conflict',
          'FloatingIPPortAlreadyAssociated',
          `Cannot associate floating IP ${r.body.floating_ip_address} (${r.id}) with port ${portId} using fixed IP ${fixed.ip_address}, as that fixed IP already has a floating IP on external network ${other.body.floating_network_id}.`,
        );
    const before = { ...r.body };
    Object.assign(r.body, {
      port_id: portId,
      fixed_ip_address: fixed.ip_address,
      router_id: routerId,
      status: 'ACTIVE',
    });
    await this.nc.save('floatingip', r);
    try {
      await this.routers.pushNat();
    } catch (e) {
      Object.assign(r.body, before);
      await this.nc.save('floatingip', r);
      throw e;
    }
  }

  private async disassociate(r: NetworkResource<FloatingIpDoc>): Promise<void> {
    Object.assign(r.body, { port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
    await this.nc.save('floatingip', r);
    await this.routers.pushNat();
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<FloatingIpDoc>(ctx, 'floatingip', id);
    await this.nc.repos.networking.delete('floatingip', id);
    for (const p of await this.nc.repos.networking.list<PortDoc>('port', { deviceId: id }))
      if (p.body.device_owner === Owner.floatingIp) await this.ports.remove(p);
    if (r.body.port_id) await this.routers.pushNat();
  }

  /** A port being deleted loses its floating IPs' association (Neutron does the same). */
  private async portGone(p: NetworkResource<PortDoc>): Promise<void> {
    for (const f of await this.nc.repos.networking.list<FloatingIpDoc>('floatingip'))
      if (f.body.port_id === p.id) await this.disassociate(f);
  }
}
