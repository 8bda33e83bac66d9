// First start with networking on: an external network `public` bound to the host (the host
// holds its first address; floating IPs and router gateways come from the rest), and for the
// admin project a network `private` with a subnet routed and NATed to `public` by `router1`,
// so `openstack server create` without --network gives the guest a NIC the host can reach.
// The admin project's default security group also lets in ICMP and SSH from anywhere (as
// devstack's users add by hand): the host is not a member of the group, and reaching the
// guest from the host is the point of the default.
import type { RequestContext } from '../control/context.js';
import type { NetworkService } from '../control/network/service.js';
import { overlaps, parseCidr, type Cidr } from '../control/network/ipam.js';
import { hostRouteCidrs } from '../network/bridge.js';
import type { Logger } from '../util/log.js';

export interface DefaultNetworkOptions {
  privateCidr: string;
  externalCidr: string;
}

/** cidr itself, or the next /24 after it that overlaps none of the host's routes. */
export function freeCidr(wanted: string, taken: string[]): string {
  const start = parseCidr(wanted);
  if (typeof start === 'string') throw new Error(`[network] default CIDR: ${start}`);
  const used = taken.map((t) => parseCidr(t)).filter((c): c is Cidr => typeof c !== 'string');
  const size = 2 ** (32 - start.prefix);
  for (let i = 0; i < 256; i++) {
    const base = start.base + i * size;
    const c = parseCidr(
      `${[base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.')}/${start.prefix}`,
    ) as Cidr;
    if (!used.some((u) => overlaps(u, c))) return c.text;
  }
  throw new Error(
    `no free range near ${wanted} on this host. Fix: set [network] default_cidr / external_cidr.`,
  );
}

export async function createDefaultNetwork(
  network: NetworkService,
  admin: RequestContext,
  o: DefaultNetworkOptions,
  log: Logger,
): Promise<{ privateNetwork: string; cidr: string }> {
  const taken = (await hostRouteCidrs()).filter((r) => !r.endsWith('/32'));
  const externalCidr = freeCidr(o.externalCidr, taken);
  const privateCidr = freeCidr(o.privateCidr, [...taken, externalCidr]);
  const pub = await network.networks.create(admin, { network: { name: 'public', 'router:external': true } });
  const pubSubnet = await network.networks.createSubnet(admin, {
    subnet: {
      name: 'public-subnet',
      network_id: pub.id,
      ip_version: 4,
      cidr: externalCidr,
      enable_dhcp: false,
    },
  });
  const priv = await network.networks.create(admin, { network: { name: 'private' } });
  const privSubnet = await network.networks.createSubnet(admin, {
    subnet: { name: 'private-subnet', network_id: priv.id, ip_version: 4, cidr: privateCidr },
  });
  const router = await network.routers.create(admin, {
    router: { name: 'router1', external_gateway_info: { network_id: pub.id, enable_snat: true } },
  });
  await network.routers.addInterface(admin, router.id, { subnet_id: privSubnet.id });
  const sg = await network.securityGroups.ensureDefault(admin.projectId);
  for (const rule of [{ protocol: 'icmp' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }])
    await network.securityGroups.createRule(admin, {
      security_group_rule: {
        security_group_id: sg.id,
        direction: 'ingress',
        remote_ip_prefix: '0.0.0.0/0',
        ...rule,
      },
    });
  log.info(
    {
      private: priv.id,
      cidr: privateCidr,
      external: pub.id,
      externalCidr,
      router: router.id,
      gateway: pubSubnet.gateway_ip,
    },
    'created the default networks: private (NATed through router1 to public)',
  );
  return { privateNetwork: priv.id, cidr: privateCidr };
}
