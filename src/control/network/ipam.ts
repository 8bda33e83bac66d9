// IPv4 address arithmetic for subnets: parsing a CIDR, the default gateway and allocation
// pool (Neutron's: gateway the first host, the pool every other host address), membership,
// and overlap between two subnets.
import { isIPv4 } from 'node:net';
import { intToIp, ipToInt } from '../../network/ipv4.js';

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
  /** Normalised text, e.g. 10.0.0.0/24. */
  text: string;
}

export interface IpRange {
  start: string;
  end: string;
}

export { ipToInt, intToIp };

/** A CIDR such as 10.0.0.0/24, or undefined with the reason. */
export function parseCidr(text: string): Cidr | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !isIPv4(m[1])) return `'${text}' is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/24)`;
  const prefix = Number(m[2]);
  if (prefix > 30 || prefix < 8)
    return `'${text}' has prefix /${prefix}; Kestrel's IPv4 subnets are /8 to /30`;
  const size = 2 ** (32 - prefix);
  const base = Math.floor(ipToInt(m[1]) / size) * size;
  return { base, prefix, text: `${intToIp(base)}/${prefix}` };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function netmask(c: Cidr): string {
  return intToIp(c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0);
}

/** A host address of c: not the network address, not the broadcast address. */
export function isHostOf(c: Cidr, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToInt(ip);
  return n > c.base && n < c.base + cidrSize(c) - 1;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

export function defaultGateway(c: Cidr): string {
  return intToIp(c.base + 1);
}

/** Every host address except the gateway, as ranges (Neutron's default allocation pools). */
export function defaultPools(c: Cidr, gateway: string | null): IpRange[] {
  const first = c.base + 1;
  const last = c.base + cidrSize(c) - 2;
  const g = gateway === null ? -1 : ipToInt(gateway);
  const ranges: IpRange[] = [];
  if (g >= first && g <= last) {
    if (g > first) ranges.push({ start: intToIp(first), end: intToIp(g - 1) });
    if (g < last) ranges.push({ start: intToIp(g + 1), end: intToIp(last) });
  } else {
    ranges.push({ start: intToIp(first), end: intToIp(last) });
  }
  return ranges;
}

export function inPools(pools: IpRange[], ip: string): boolean {
  const n = ipToInt(ip);
  return pools.some((p) => n >= ipToInt(p.start) && n <= ipToInt(p.end));
}

/** The lowest pool address not in taken, or undefined when the pools are full. */
export function firstFree(pools: IpRange[], taken: Set<string>): string | undefined {
  for (const p of pools) {
    for (let n = ipToInt(p.start); n <= ipToInt(p.end); n++) {
      const ip = intToIp(n);
      if (!taken.has(ip)) return ip;
    }
  }
  return undefined;
}
