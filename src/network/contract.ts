// What the control plane asks a host's network data plane to make true, as plain JSON (it
// travels through the compute agent, later over a broker). The host is the router of every
// network it carries: each network is a Linux bridge with the host's addresses on it (the
// DHCP port's, the gateway's when a router serves the subnet), one dnsmasq for its subnets,
// and Kestrel's nftables tables hold per-port chains, NAT and isolation.
// Across hosts each network would add a VXLAN device on its bridge (one VNI per network);
// NetworkSpec.segment is that seam.

export interface DhcpHost {
  mac: string;
  ip: string;
  hostname: string;
}

export interface SubnetSpec {
  id: string;
  cidr: string;
  gateway: string | null;
  dhcp: boolean;
  dnsServers: string[];
}

export interface NetworkSpec {
  id: string;
  /** Linux bridge name (src/network/names.ts). */
  bridge: string;
  mtu: number;
  external: boolean;
  subnets: SubnetSpec[];
  /** Addresses the host holds on the bridge, CIDR notation (10.0.0.2/24). */
  hostAddresses: string[];
  /** Static DHCP entries: one per port with a fixed IP on a DHCP subnet. */
  dhcpHosts: DhcpHost[];
  /** Several hosts: the VXLAN segment id; unset on one host. */
  segment?: number;
}

export interface RuleSpec {
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'any' | number;
  portMin: number | null;
  portMax: number | null;
  /** Where the other end may be: anywhere, an IPv4 prefix, or a security group's members (an nft set). */
  remote: { any: true } | { prefix: string } | { group: string };
}

export interface PortSpec {
  id: string;
  networkId: string;
  bridge: string;
  tap: string;
  mac: string;
  ips: string[];
  /** false: no anti-spoofing and no security groups (port_security_enabled). */
  security: boolean;
  /** allowed_address_pairs: more sources the port may send from. */
  allowed: { ip: string; mac: string }[];
  /** The port's security groups: its IPs are members of their sets. */
  groups: string[];
  rules: RuleSpec[];
}

export interface NatSpec {
  /** Source NAT of a router-served subnet: traffic leaving it goes out as snatTo. */
  snat: { cidr: string; bridge: string; externalBridge: string; snatTo: string }[];
  /** Floating IP → fixed IP (DNAT in, SNAT out). */
  floating: { floatingIp: string; fixedIp: string; externalBridge: string }[];
  /** Bridge pairs a router joins (traffic between other Kestrel bridges is dropped). */
  routed: { from: string; to: string }[];
}

export interface HostNetworkState {
  networks: NetworkSpec[];
  ports: PortSpec[];
  nat: NatSpec;
}

export type HostNetworkChange =
  | { op: 'network'; network: NetworkSpec }
  | { op: 'network-removed'; networkId: string; bridge: string }
  | { op: 'port'; port: PortSpec }
  | { op: 'port-removed'; portId: string; ips: string[]; groups: string[] }
  | { op: 'nat'; nat: NatSpec };

export interface NetworkSyncReport {
  bridgesCreated: string[];
  bridgesRemoved: string[];
  dnsmasqStarted: string[];
  dnsmasqStopped: string[];
  ports: number;
}

/** The host-side calls (plain JSON in and out) a compute agent offers for networking. */
export interface HostNetworkCalls {
  /** One incremental change: a network's bridge and DHCP, one port's chains, or NAT. */
  networkApply(change: HostNetworkChange): Promise<unknown>;
  /** The whole desired state: missing parts rebuilt, orphans removed (start-up). */
  networkSync(state: HostNetworkState): Promise<NetworkSyncReport>;
}
