// The Networking v2 documents as stored and shown: Neutron's field names, so views are the
// documents themselves (plus tenant_id, which mirrors project_id).
export interface Common {
  id: string;
  name: string;
  description: string;
  project_id: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface NetworkDoc extends Common {
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN';
  subnets: string[];
  shared: boolean;
  'router:external': boolean;
  mtu: number;
  port_security_enabled: boolean;
}

export interface SubnetDoc extends Common {
  network_id: string;
  ip_version: 4;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  allocation_pools: { start: string; end: string }[];
  dns_nameservers: string[];
  host_routes: { destination: string; nexthop: string }[];
  ipv6_ra_mode: null;
  ipv6_address_mode: null;
  subnetpool_id: null;
  service_types: string[];
  segment_id: null;
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface AddressPair {
  ip_address: string;
  mac_address: string;
}

export interface PortDoc extends Common {
  network_id: string;
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN' | 'BUILD';
  mac_address: string;
  fixed_ips: FixedIp[];
  device_id: string;
  device_owner: string;
  security_groups: string[];
  port_security_enabled: boolean;
  allowed_address_pairs: AddressPair[];
  'binding:host_id': string;
  'binding:vif_type': string;
  'binding:vnic_type': 'normal';
  'binding:profile': Record<string, unknown>;
  'binding:vif_details': Record<string, unknown>;
  extra_dhcp_opts: unknown[];
}

export interface RuleDoc {
  id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  remote_address_group_id: null;
  description: string;
  project_id: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface SecurityGroupDoc extends Common {
  stateful: boolean;
}

export interface RouterDoc extends Common {
  admin_state_up: boolean;
  status: 'ACTIVE';
  external_gateway_info: {
    network_id: string;
    enable_snat: boolean;
    external_fixed_ips: FixedIp[];
  } | null;
  routes: { destination: string; nexthop: string }[];
  distributed: boolean;
  ha: boolean;
}

export interface FloatingIpDoc extends Common {
  floating_ip_address: string;
  floating_network_id: string;
  router_id: string | null;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: 'ACTIVE' | 'DOWN';
}

/** device_owner values Kestrel itself gives the ports it makes. */
export const Owner = {
  dhcp: 'network:dhcp',
  routerInterface: 'network:router_interface',
  routerGateway: 'network:router_gateway',
  floatingIp: 'network:floatingip',
  compute: 'compute:nova',
} as const;
