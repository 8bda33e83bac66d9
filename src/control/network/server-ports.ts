// The compute side of networking: what `networks` in a server create asks for (checked before
// any row is written), the ports made or bound for the server once its host is known, the
// `addresses` of the server views, and the ports let go when the server is deleted — the ones
// Kestrel made are deleted, pre-created ones are only unbound (Nova's preserve_on_delete).
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import { badRequest, conflict } from '../../errors/index.js';
import type { NetworkContext } from './context.js';
import { NeutronError } from './errors.js';
import { isHostOf, parseCidr, type Cidr } from './ipam.js';
import { Owner, type FloatingIpDoc, type NetworkDoc, type PortDoc, type SubnetDoc } from './model.js';
import type { Ports } from './ports.js';

/** One NIC of the server: a port to make on a network (with a fixed IP) or an existing port. */
export type NicPlan = { network: string; fixedIp?: string } | { port: string };

export interface NetworkPlan {
  projectId: string;
  nics: NicPlan[];
}

export interface AddressView {
  addr: string;
  version: 4 | 6;
  'OS-EXT-IPS:type': 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr': string;
}

/** The tap of one port as the hypervisor plugs it. */
export interface NicSpec {
  portId: string;
  networkId: string;
  mac: string;
}

const isUuidish = (s: string) => /^[0-9a-f-]{32,36}$/i.test(s);

export class ServerPorts {
  constructor(
    private readonly nc: NetworkContext,
    private readonly ports: Ports,
  ) {}

  /**
   * Checks `networks` of a server create: a list of {uuid, port, fixed_ip}; "auto" / "none"
   * (microversion 2.37; allowAuto says whether the request's version has them); absent means
   * the project's only network, or no NIC when it has none (Nova with Neutron).
   */
  async plan(
    ctx: RequestContext,
    networks: unknown,
    count: number,
    allowAuto: boolean,
  ): Promise<NetworkPlan> {
    const plan: NetworkPlan = { projectId: ctx.projectId, nics: [] };
    if (networks === 'none' || networks === 'auto') {
      if (!allowAuto)
        throw badRequest(`networks "${networks}" needs microversion 2.37; at 2.1 networks is a list.`);
      if (networks === 'none') return plan;
    }
    if (networks === undefined || networks === 'auto') {
      const candidates = (await this.nc.visibleList<NetworkDoc>(ctx, 'network')).filter(
        (n) =>
          !n.body['router:external'] &&
          (n.projectId === ctx.projectId || n.body.shared) &&
          n.body.subnets.length > 0,
      );
      const own = candidates.filter((n) => n.projectId === ctx.projectId);
      const pick = own.length ? own : candidates;
      if (pick.length > 1)
        throw conflict(
          `Multiple possible networks found, use a Network ID to be more specific (${pick.map((n) => n.body.name || n.id).join(', ')}).`,
        );
      if (pick.length === 1) plan.nics.push({ network: pick[0].id });
      return plan;
    }
    if (!Array.isArray(networks))
      throw badRequest('networks must be a list of {"uuid"|"port", "fixed_ip"?}.');
    for (const [i, raw] of networks.entries()) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw))
        throw badRequest(`networks[${i}] must be an object.`);
      const n = raw as Record<string, unknown>;
      const extra = Object.keys(n).filter((k) => !['uuid', 'port', 'fixed_ip', 'tag'].includes(k));
      if (extra.length)
        throw badRequest(`Invalid input for networks[${i}]: unknown key(s) ${extra.join(', ')}.`);
      if (n.port !== undefined && n.port !== null) {
        if (typeof n.port !== 'string' || !isUuidish(n.port))
          throw badRequest(`networks[${i}].port must be a port UUID.`);
        if (count > 1)
          throw badRequest(
            'Unable to launch multiple instances with a single configured port ID. Fix: boot them one by one, or give a network.',
          );
        const p = await this.nc.find<PortDoc>('port', n.port);
        if (!p || (!ctx.isAdmin && p.projectId !== ctx.projectId))
          throw badRequest(`Port ${n.port} could not be found.`);
        if (p.body.device_id) throw conflict(`Port ${n.port} is still in use (device ${p.body.device_id}).`);
        plan.nics.push({ port: p.id });
        continue;
      }
      if (typeof n.uuid !== 'string' || !isUuidish(n.uuid))
        throw badRequest(`networks[${i}] needs a network uuid or a port.`);
      const net = await this.nc.find<NetworkDoc>('network', n.uuid);
      if (!net || !(await this.nc.canSee(ctx, 'network', net as NetworkResource<unknown>)))
        throw badRequest(`Network ${n.uuid} could not be found.`);
      if (net.body['router:external'] && !ctx.isAdmin && net.projectId !== ctx.projectId && !net.body.shared)
        throw new NeutronError(
          'forbidden',
          'HTTPForbidden',
          `Network ${n.uuid} is an external network; servers attach to project networks (reach them through a floating IP).`,
        );
      let fixedIp: string | undefined;
      if (n.fixed_ip !== undefined && n.fixed_ip !== null) {
        if (count > 1) throw badRequest('Unable to launch multiple instances with a single fixed IP.');
        const subnets = await this.nc.repos.networking.list<SubnetDoc>('subnet', { parentId: net.id });
        if (
          typeof n.fixed_ip !== 'string' ||
          !subnets.some((s) => isHostOf(parseCidr(s.body.cidr) as Cidr, n.fixed_ip as string))
        )
          throw badRequest(
            `Invalid fixed IP address ${String(n.fixed_ip)}: it is in no subnet of network ${net.id}.`,
          );
        const sub = subnets.find((s) => isHostOf(parseCidr(s.body.cidr) as Cidr, n.fixed_ip as string))!;
        if (await this.nc.repos.networking.ipHolder(sub.id, n.fixed_ip))
          throw conflict(`Fixed IP address ${n.fixed_ip} is already in use on network ${net.id}.`);
        fixedIp = n.fixed_ip;
      }
      plan.nics.push({ network: net.id, fixedIp });
    }
    return plan;
  }

  /** Makes or binds the server's ports on host; on failure the ones made here are removed. */
  async attach(serverId: string, plan: NetworkPlan, host: string): Promise<void> {
    const done: { port: NetworkResource<PortDoc>; created: boolean }[] = [];
    try {
      for (const nic of plan.nics) {
        if ('port' in nic) {
          const p = await this.nc.find<PortDoc>('port', nic.port);
          if (!p) throw new NeutronError('not-found', 'PortNotFound', `Port ${nic.port} could not be found.`);
          if (p.body.device_id)
            throw conflict(`Port ${nic.port} is still in use (device ${p.body.device_id}).`);
          Object.assign(p.body, {
            device_id: serverId,
            device_owner: Owner.compute,
            'binding:host_id': host,
            'binding:vif_type': 'bridge',
            status: 'ACTIVE',
          });
          await this.nc.save('port', p, { deviceId: serverId });
          done.push({ port: p, created: false });
          await this.ports.plug(p);
        } else {
          const p = await this.ports.createFor({
            networkId: nic.network,
            projectId: plan.projectId,
            deviceId: serverId,
            deviceOwner: Owner.compute,
            hostId: host,
            fixedIps: nic.fixedIp ? [{ ip_address: nic.fixedIp }] : undefined,
          });
          // Kestrel made it, so Kestrel deletes it with the server (Nova's preserve_on_delete false).
          p.body['binding:profile'] = { 'kestrel:owned_by_server': true };
          p.body.status = 'ACTIVE';
          await this.nc.save('port', p);
          done.push({ port: p, created: true });
        }
      }
    } catch (e) {
      for (const d of done.reverse()) await this.letGo(d.port).catch(() => undefined);
      throw e;
    }
  }

  /** The server's NICs in order, for the hypervisor. */
  async nics(serverId: string): Promise<NicSpec[]> {
    const ports = await this.nc.repos.networking.list<PortDoc>('port', { deviceId: serverId });
    return ports.map((p) => ({ portId: p.id, networkId: p.body.network_id, mac: p.body.mac_address }));
  }

  /** After the server is gone: its own ports deleted, pre-created ones unbound. */
  async release(serverId: string): Promise<void> {
    for (const p of await this.nc.repos.networking.list<PortDoc>('port', { deviceId: serverId }))
      await this.letGo(p);
  }

  private async letGo(p: NetworkResource<PortDoc>): Promise<void> {
    if (p.body['binding:profile']['kestrel:owned_by_server']) {
      await this.ports.remove(p);
      return;
    }
    await this.nc.push({
      op: 'port-removed',
      portId: p.id,
      ips: p.body.fixed_ips.map((f) => f.ip_address),
      groups: p.body.security_groups,
    });
    Object.assign(p.body, {
      device_id: '',
      device_owner: '',
      'binding:host_id': '',
      'binding:vif_type': 'unbound',
      status: 'DOWN',
    });
    await this.nc.save('port', p, { deviceId: null });
    await this.ports.pushNetworkOf(p.body.network_id);
  }

  /** Nova's `addresses`: by network name, fixed IPs then their floating IPs. */
  async addresses(serverIds: string[]): Promise<Map<string, Record<string, AddressView[]>>> {
    const out = new Map<string, Record<string, AddressView[]>>();
    if (serverIds.length === 0) return out;
    const wanted = new Set(serverIds);
    const ports = (await this.nc.repos.networking.list<PortDoc>('port')).filter(
      (p) => p.deviceId && wanted.has(p.deviceId),
    );
    if (ports.length === 0) return out;
    const nets = new Map(
      (await this.nc.repos.networking.list<NetworkDoc>('network')).map((n) => [n.id, n.body]),
    );
    const fips = (await this.nc.repos.networking.list<FloatingIpDoc>('floatingip')).filter(
      (f) => f.body.port_id,
    );
    for (const p of ports) {
      const server = out.get(p.deviceId!) ?? {};
      const name = nets.get(p.body.network_id)?.name || p.body.network_id;
      const list = server[name] ?? [];
      for (const f of p.body.fixed_ips) {
        list.push({
          addr: f.ip_address,
          version: 4,
          'OS-EXT-IPS:type': 'fixed',
          'OS-EXT-IPS-MAC:mac_addr': p.body.mac_address,
        });
        for (const fip of fips)
          if (fip.body.port_id === p.id && fip.body.fixed_ip_address === f.ip_address)
            list.push({
              addr: fip.body.floating_ip_address,
              version: 4,
              'OS-EXT-IPS:type': 'floating',
              'OS-EXT-IPS-MAC:mac_addr': p.body.mac_address,
            });
      }
      server[name] = list;
      out.set(p.deviceId!, server);
    }
    return out;
  }
}
