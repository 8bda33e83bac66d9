// The metadata tree a guest reads about itself, in Nova's layout (nova/api/metadata/base.py):
// openstack/<each dated version>/ and openstack/latest/ with meta_data.json, user_data,
// vendor_data.json, network_data.json and vendor_data2.json (each from the version that added
// it), and the EC2-compatible ec2/<version>/meta-data.json and user-data. The config drive
// writes this tree to a filesystem; the metadata service serves the same paths over HTTP.
// Pure: the instance's facts come in as plain data (GuestMetadata), the files come out.
import { randomBytes } from 'node:crypto';

/** OpenStack metadata versions, oldest first, and what each one added. */
export const OPENSTACK_VERSIONS = [
  '2012-08-10', // Folsom: meta_data.json, user_data
  '2013-04-04', // Grizzly: random_seed
  '2013-10-17', // Havana: vendor_data.json
  '2015-10-15', // Liberty: network_data.json, keys, project_id
  '2016-06-30', // Newton: devices
  '2016-10-06', // Newton: vendor_data2.json
  '2017-02-22', // Ocata: device vlans
  '2018-08-27', // Rocky: trusted virtual functions
  '2020-10-14', // Victoria: dedicated_cpus
] as const;

/** The EC2 versions a config drive carries (Nova's config_drive_skip_versions drops the rest). */
export const CONFIG_DRIVE_EC2_VERSIONS = ['2009-04-04', 'latest'] as const;
/** Every EC2 version (the metadata service answers them all). */
export const EC2_VERSIONS = [
  '1.0',
  '2007-01-19',
  '2007-03-01',
  '2007-08-29',
  '2007-10-10',
  '2007-12-15',
  '2008-02-01',
  '2008-09-01',
  '2009-04-04',
  'latest',
] as const;

/** One port of the instance, for network_data.json (filled in once servers have ports). */
export interface GuestPort {
  id: string;
  mac: string;
  networkId: string;
  mtu: number | null;
  /** Addresses on this port; dhcp = the guest asks DHCP instead of configuring it statically. */
  ips: { address: string; prefixLength: number; gateway?: string; version: 4 | 6; dhcp: boolean }[];
  dnsServers: string[];
}

/** What the guest is told: plain data, so it can travel from whoever holds the database. */
export interface GuestMetadata {
  uuid: string;
  /** The display name. */
  name: string;
  /** Short host name (the domain is added from dhcpDomain). */
  hostname: string;
  /** [api] dhcp_domain: appended to the host name in the metadata ("" = none). */
  dhcpDomain: string;
  launchIndex: number;
  availabilityZone: string;
  projectId: string;
  /** Server metadata items (openstack server create --property). */
  meta: Record<string, string>;
  key?: { name: string; type: 'ssh' | 'x509'; data: string };
  /** Decoded user data (the API stores it base64). */
  userData?: Buffer;
  reservationId: string;
  /** The instance's small number (EC2 instance-id i-%08x). */
  instanceNumber: number;
  flavorName: string;
  imageId: string;
  kernelId?: string;
  ramdiskId?: string;
  /** The root disk's device name in the guest (/dev/vda, /dev/sda …). */
  rootDeviceName: string;
  ports: GuestPort[];
  securityGroups: string[];
  /** [api] vendordata_jsonfile_path's content (static vendor data); {} when none. */
  vendorData: Record<string, unknown>;
}

/** Relative path (openstack/latest/meta_data.json …) → file content. */
export type MetadataTree = Map<string, Buffer>;

export interface TreeOptions {
  /** EC2 versions to include (default: the config drive's). */
  ec2Versions?: readonly string[];
  /** 512 random bytes for random_seed (injected by tests); a fresh seed per build otherwise. */
  randomSeed?: Buffer;
}

const atLeast = (version: string, since: string) => version === 'latest' || version >= since;

/** Nova's EC2 ids: a prefix and eight hex digits (from the number, or a uuid's first digits). */
export function ec2Id(prefix: 'i' | 'ami' | 'aki' | 'ari', ref: number | string): string {
  const hex = typeof ref === 'number' ? ref.toString(16) : ref.replace(/-/g, '').slice(0, 8);
  return `${prefix}-${hex.padStart(8, '0')}`;
}

function fqdn(md: GuestMetadata): string {
  return md.dhcpDomain ? `${md.hostname}.${md.dhcpDomain}` : md.hostname;
}

/** openstack/<version>/meta_data.json. */
export function openstackMetaData(md: GuestMetadata, version: string, seed: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = { uuid: md.uuid, meta: md.meta };
  if (md.key) {
    out.public_keys = { [md.key.name]: md.key.data };
    if (atLeast(version, '2015-10-15')) {
      out.keys = [{ name: md.key.name, type: md.key.type, data: md.key.data }];
    }
  }
  out.hostname = fqdn(md);
  out.name = md.name;
  out.launch_index = md.launchIndex;
  out.availability_zone = md.availabilityZone;
  if (atLeast(version, '2013-04-04')) out.random_seed = seed.toString('base64');
  if (atLeast(version, '2015-10-15')) out.project_id = md.projectId;
  // Only tagged devices are listed; Kestrel's API takes no device tags.
  if (atLeast(version, '2016-06-30')) out.devices = [];
  if (atLeast(version, '2020-10-14')) out.dedicated_cpus = [];
  return out;
}

/** openstack/<version>/network_data.json: links, networks and services from the ports. */
export function networkData(md: GuestMetadata): Record<string, unknown> {
  const links = md.ports.map((p) => ({
    id: `tap${p.id.slice(0, 11)}`,
    vif_id: p.id,
    type: 'bridge',
    mtu: p.mtu,
    ethernet_mac_address: p.mac,
  }));
  const networks: Record<string, unknown>[] = [];
  for (const p of md.ports) {
    for (const ip of p.ips) {
      const id = `network${networks.length}`;
      const link = `tap${p.id.slice(0, 11)}`;
      if (ip.dhcp) {
        networks.push({
          id,
          link,
          network_id: p.networkId,
          type: ip.version === 4 ? 'ipv4_dhcp' : 'ipv6_dhcp',
        });
        continue;
      }
      networks.push({
        id,
        link,
        network_id: p.networkId,
        type: ip.version === 4 ? 'ipv4' : 'ipv6',
        ip_address: ip.address,
        netmask: ip.version === 4 ? prefixToNetmask(ip.prefixLength) : `${ip.prefixLength}`,
        routes: ip.gateway
          ? [
              {
                network: ip.version === 4 ? '0.0.0.0' : '::',
                netmask: ip.version === 4 ? '0.0.0.0' : '0',
                gateway: ip.gateway,
              },
            ]
          : [],
        services: p.dnsServers.map((address) => ({ type: 'dns', address })),
      });
    }
  }
  const dns = [...new Set(md.ports.flatMap((p) => p.dnsServers))];
  return { links, networks, services: dns.map((address) => ({ type: 'dns', address })) };
}

function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

/**
 * ec2/<version>/meta-data.json. The key's `_name` ("0=mykey", the listing of public-keys/) is
 * for the metadata service; Nova leaves it off the config drive (withKeyListing false).
 */
export function ec2MetaData(
  md: GuestMetadata,
  version: string,
  withKeyListing = false,
): Record<string, unknown> {
  const firstIp = md.ports.flatMap((p) => p.ips).find((ip) => ip.version === 4)?.address ?? '';
  const out: Record<string, unknown> = {
    'ami-id': ec2Id('ami', md.imageId),
    'ami-launch-index': md.launchIndex,
    'ami-manifest-path': 'FIXME',
    'instance-id': ec2Id('i', md.instanceNumber),
    hostname: fqdn(md),
    'local-ipv4': firstIp,
    'reservation-id': md.reservationId,
    'security-groups': md.securityGroups,
  };
  if (md.key) {
    const key: Record<string, string> = { 'openssh-key': md.key.data };
    if (withKeyListing) key._name = `0=${md.key.name}`;
    out['public-keys'] = { '0': key };
  }
  if (atLeast(version, '2007-01-19')) {
    out['local-hostname'] = fqdn(md);
    out['public-hostname'] = fqdn(md);
    out['public-ipv4'] = '';
  }
  if (atLeast(version, '2007-08-29')) out['instance-type'] = md.flavorName;
  if (atLeast(version, '2007-10-10')) {
    if (md.kernelId) out['kernel-id'] = ec2Id('aki', md.kernelId);
    if (md.ramdiskId) out['ramdisk-id'] = ec2Id('ari', md.ramdiskId);
  }
  if (atLeast(version, '2007-12-15')) {
    out['block-device-mapping'] = { ami: md.rootDeviceName.replace(/^\/dev\//, ''), root: md.rootDeviceName };
  }
  if (atLeast(version, '2008-02-01')) out.placement = { 'availability-zone': md.availabilityZone };
  if (atLeast(version, '2009-04-04')) out['instance-action'] = 'none';
  return out;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** The whole tree for one instance. */
export function buildMetadataTree(md: GuestMetadata, opts: TreeOptions = {}): MetadataTree {
  const seed = opts.randomSeed ?? randomBytes(512);
  const tree: MetadataTree = new Map();
  for (const v of opts.ec2Versions ?? CONFIG_DRIVE_EC2_VERSIONS) {
    if (md.userData) tree.set(`ec2/${v}/user-data`, md.userData);
    tree.set(`ec2/${v}/meta-data.json`, json(ec2MetaData(md, v)));
  }
  for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
    const dir = `openstack/${v}`;
    tree.set(`${dir}/meta_data.json`, json(openstackMetaData(md, v, seed)));
    if (md.userData) tree.set(`${dir}/user_data`, md.userData);
    if (atLeast(v, '2013-10-17')) tree.set(`${dir}/vendor_data.json`, json(md.vendorData));
    if (atLeast(v, '2015-10-15')) tree.set(`${dir}/network_data.json`, json(networkData(md)));
    // Dynamic vendor data (vendordata_dynamic_targets): none configured, so an empty object.
    if (atLeast(v, '2016-10-06')) tree.set(`${dir}/vendor_data2.json`, json({}));
  }
  return tree;
}
