// [network]: Kestrel's guest networking (the Networking v2 API and its data plane on this
// host: a Linux bridge per network, dnsmasq for DHCP, Kestrel's own nftables tables).
import { bool, group, str } from './option.js';

const NAME = /^[a-z][a-z0-9_-]*$/;

export const networkGroup = group(
  'network',
  'Guest networking: the Networking v2 API, bridges, dnsmasq and nftables on this host.',
  {
    enabled: bool({
      default: true,
      help: 'Serve the Networking v2 API and give guests NICs. Off: no network service in the catalog and servers boot without NICs (as before networking existed).',
    }),
    bridge_prefix: str({
      default: 'kbr',
      check: (v) =>
        /^[a-z][a-z0-9]{0,5}$/.test(v)
          ? null
          : 'expected 1 to 6 lower-case letters or digits, starting with a letter',
      help: "Prefix of the Linux bridges Kestrel makes (prefix + the network id's first characters); start-up removes bridges with this prefix that no network owns.",
    }),
    nft_table: str({
      default: 'kestrel',
      check: (v) =>
        NAME.test(v) && v.length <= 32
          ? null
          : 'expected a name of letters, digits, - and _ (at most 32), e.g. kestrel',
      help: "Name of Kestrel's nftables tables (inet and bridge families). Kestrel writes only these tables and never touches another.",
    }),
    default_network: bool({
      default: true,
      help: 'On first start, create an external network bound to the host, and for the admin project a network `private` routed and NATed through a router to it, so that servers get a network without --network.',
    }),
    default_cidr: str({
      default: '10.0.0.0/24',
      help: "The first-start `private` network's subnet (another free /24 is taken when it overlaps one of the host's routes).",
    }),
    external_cidr: str({
      default: '172.24.4.0/24',
      help: "The first-start external network's subnet (devstack's public range); the host holds its first address, floating IPs come from the rest.",
    }),
    state_dir: str({
      default: '$state_path/networks',
      help: 'Where each network keeps its dnsmasq files (hosts, leases, pid).',
    }),
  },
);
