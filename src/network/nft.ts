// Kestrel's nftables rules, as nft scripts applied atomically with `nft -f -`. Kestrel owns
// two tables of one name — nftables tables belong to one address family, and the two jobs
// need two families:
// - `bridge <name>`: anti-spoofing per port, on frames entering the bridge from the tap (the
//   only place that sees which tap a frame came from): a port sends only from its MAC and
//   fixed IPs (plus its allowed address pairs).
// - `inet <name>`: security groups per port with conntrack, keyed by the port's fixed IP
//   (anti-spoofing makes the source address trustworthy), isolation between networks that no
//   router joins, and NAT (router SNAT, floating IP DNAT/SNAT).
// Each port has its own chains and map elements, so one port's change is a small transaction
// that rewrites only that port's chains; a full sync replaces both tables in one transaction.
// Another table — anyone else's — is never read, flushed or deleted.
import { runChecked } from '../util/run.js';
import type { HostNetworkState, NatSpec, PortSpec, RuleSpec } from './contract.js';
import { portChain } from './names.js';

const q = (s: string) => `"${s.replace(/[^A-Za-z0-9_.:/-]/g, '')}"`;
const set = (items: string[]) => (items.length === 1 ? items[0] : `{ ${items.join(', ')} }`);

/** The tables, sets, maps and base chains (idempotent `add`: safe on an existing table). */
export function baseScript(table: string): string {
  return [
    `add table inet ${table}`,
    `add set inet ${table} bridges { type ifname; }`,
    `add set inet ${table} routed { type ifname . ifname; }`,
    `add set inet ${table} same_bridge { type ifname . ifname; }`,
    `add map inet ${table} port_in { type ipv4_addr : verdict; }`,
    `add map inet ${table} port_out { type ipv4_addr : verdict; }`,
    `add chain inet ${table} forward { type filter hook forward priority filter; policy accept; }`,
    `add chain inet ${table} input { type filter hook input priority filter; policy accept; }`,
    `add chain inet ${table} output { type filter hook output priority filter; policy accept; }`,
    `add chain inet ${table} isolate`,
    `add chain inet ${table} nat_pre { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain inet ${table} nat_out { type nat hook output priority -100; policy accept; }`,
    `add chain inet ${table} nat_post { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain inet ${table} forward`,
    `flush chain inet ${table} input`,
    `flush chain inet ${table} output`,
    `flush chain inet ${table} isolate`,
    // Traffic of no Kestrel bridge is not Kestrel's business.
    `add rule inet ${table} forward iifname != @bridges oifname != @bridges accept`,
    `add rule inet ${table} forward ct state established,related accept`,
    `add rule inet ${table} forward ct state invalid drop`,
    `add rule inet ${table} forward iifname @bridges oifname @bridges jump isolate`,
    // The sender's egress rules return when allowed, then the receiver's ingress rules decide.
    `add rule inet ${table} forward ip saddr vmap @port_out`,
    `add rule inet ${table} forward ip daddr vmap @port_in`,
    // Within one network, between networks a router joins, and to a floating IP: allowed.
    `add rule inet ${table} isolate iifname . oifname @same_bridge return`,
    `add rule inet ${table} isolate iifname . oifname @routed return`,
    `add rule inet ${table} isolate ct status dnat return`,
    `add rule inet ${table} isolate drop`,
    `add rule inet ${table} input iifname != @bridges accept`,
    `add rule inet ${table} input ct state established,related accept`,
    `add rule inet ${table} input ip saddr vmap @port_out`,
    `add rule inet ${table} output oifname != @bridges accept`,
    `add rule inet ${table} output ct state established,related accept`,
    `add rule inet ${table} output ip daddr vmap @port_in`,
    `add table bridge ${table}`,
    `add map bridge ${table} spoof { type ifname : verdict; }`,
    `add chain bridge ${table} prerouting { type filter hook prerouting priority filter; policy accept; }`,
    `flush chain bridge ${table} prerouting`,
    `add rule bridge ${table} prerouting iifname vmap @spoof`,
    '',
  ].join('\n');
}

function ruleMatch(r: RuleSpec): string {
  const parts: string[] = [];
  const addr = r.direction === 'ingress' ? 'saddr' : 'daddr';
  if ('prefix' in r.remote) parts.push(`ip ${addr} ${r.remote.prefix}`);
  else if ('group' in r.remote) parts.push(`ip ${addr} @${groupSet(r.remote.group)}`);
  if (r.protocol === 'tcp' || r.protocol === 'udp') {
    if (r.portMin !== null && r.portMax !== null)
      parts.push(`${r.protocol} dport ${r.portMin === r.portMax ? r.portMin : `${r.portMin}-${r.portMax}`}`);
    else parts.push(`meta l4proto ${r.protocol}`);
  } else if (r.protocol === 'icmp') {
    parts.push(r.portMin !== null ? `icmp type ${r.portMin}` : 'meta l4proto icmp');
    if (r.portMin !== null && r.portMax !== null) parts.push(`icmp code ${r.portMax}`);
  } else if (typeof r.protocol === 'number') {
    parts.push(`meta l4proto ${r.protocol}`);
  }
  return parts.join(' ');
}

export function groupSet(groupId: string): string {
  return `sg-${groupId}`;
}

/** The port's chains and elements; `previous` is what was applied before (stale elements go). */
export function portScript(table: string, p: PortSpec, previous?: PortSpec): string {
  const inChain = portChain(p.id, 'in');
  const outChain = portChain(p.id, 'out');
  const spoof = portChain(p.id, 'spoof');
  const lines: string[] = [];
  if (previous) lines.push(...removeElements(table, previous));
  lines.push(
    `add chain inet ${table} ${inChain}`,
    `add chain inet ${table} ${outChain}`,
    `flush chain inet ${table} ${inChain}`,
    `flush chain inet ${table} ${outChain}`,
    `add chain bridge ${table} ${spoof}`,
    `flush chain bridge ${table} ${spoof}`,
  );
  if (p.security) {
    // DHCP replies reach the port whatever its rules (they match no connection: the request
    // went to the broadcast address), as in Neutron's firewall.
    lines.push(`add rule inet ${table} ${inChain} udp sport 67 udp dport 68 accept`);
    for (const r of p.rules) {
      const match = ruleMatch(r);
      if (r.direction === 'ingress')
        lines.push(`add rule inet ${table} ${inChain} ${match} accept`.replace(/ +/g, ' '));
      else lines.push(`add rule inet ${table} ${outChain} ${match} return`.replace(/ +/g, ' '));
    }
    lines.push(`add rule inet ${table} ${inChain} drop`, `add rule inet ${table} ${outChain} drop`);
    const macs = [...new Set([p.mac, ...p.allowed.map((a) => a.mac)])];
    const ips = [...new Set([...p.ips, ...p.allowed.map((a) => a.ip)])];
    lines.push(`add rule bridge ${table} ${spoof} ether saddr != ${set(macs)} drop`);
    // 0.0.0.0: DHCP discover and ARP probes before the guest has its address.
    const srcs = set([...ips, '0.0.0.0']);
    lines.push(`add rule bridge ${table} ${spoof} ether type arp arp saddr ip != ${srcs} drop`);
    lines.push(`add rule bridge ${table} ${spoof} ether type ip ip saddr != ${srcs} drop`);
    lines.push(`add rule bridge ${table} ${spoof} ether type ip ip saddr 0.0.0.0 udp dport != 67 drop`);
    // A guest is no DHCP server for the others.
    lines.push(`add rule bridge ${table} ${spoof} ether type ip udp sport 67 drop`);
    // IPv6 is not routed yet: link-local and DAD only.
    lines.push(`add rule bridge ${table} ${spoof} ether type ip6 ip6 saddr != { fe80::/10, :: } drop`);
    for (const g of p.groups) {
      lines.push(`add set inet ${table} ${groupSet(g)} { type ipv4_addr; }`);
      if (p.ips.length) lines.push(`add element inet ${table} ${groupSet(g)} { ${p.ips.join(', ')} }`);
    }
    for (const ip of p.ips) {
      lines.push(`add element inet ${table} port_in { ${ip} : jump ${inChain} }`);
      lines.push(`add element inet ${table} port_out { ${ip} : jump ${outChain} }`);
    }
    lines.push(`add element bridge ${table} spoof { ${q(p.tap)} : jump ${spoof} }`);
  }
  // Rules referencing other groups' sets need those sets to exist.
  const referenced = p.rules.flatMap((r) => ('group' in r.remote ? [r.remote.group] : []));
  const setLines = [...new Set(referenced)].map(
    (g) => `add set inet ${table} ${groupSet(g)} { type ipv4_addr; }`,
  );
  return [...setLines, ...lines, ''].join('\n');
}

function removeElements(
  table: string,
  p: { id: string; ips: string[]; groups: string[]; tap?: string; security?: boolean },
): string[] {
  const lines: string[] = [];
  if (p.security === false) return lines;
  for (const ip of p.ips) {
    lines.push(`delete element inet ${table} port_in { ${ip} }`);
    lines.push(`delete element inet ${table} port_out { ${ip} }`);
  }
  for (const g of p.groups)
    if (p.ips.length) lines.push(`delete element inet ${table} ${groupSet(g)} { ${p.ips.join(', ')} }`);
  if (p.tap) lines.push(`delete element bridge ${table} spoof { ${q(p.tap)} }`);
  return lines;
}

/** Removes a port's elements and chains (previous: what was applied, when known). */
export function portRemovalScript(
  table: string,
  p: PortSpec | { id: string; ips: string[]; groups: string[] },
): string {
  const lines = removeElements(table, p);
  for (const [family, dir] of [
    ['inet', 'in'],
    ['inet', 'out'],
    ['bridge', 'spoof'],
  ] as const) {
    const c = portChain(p.id, dir);
    lines.push(`add chain ${family} ${table} ${c}`, `delete chain ${family} ${table} ${c}`);
  }
  return [...lines, ''].join('\n');
}

/** The bridges set (which interfaces are Kestrel's). */
export function bridgesScript(table: string, bridges: string[]): string {
  const lines = [`flush set inet ${table} bridges`, `flush set inet ${table} same_bridge`];
  if (bridges.length) {
    lines.push(`add element inet ${table} bridges { ${bridges.map(q).join(', ')} }`);
    lines.push(
      `add element inet ${table} same_bridge { ${bridges.map((b) => `${q(b)} . ${q(b)}`).join(', ')} }`,
    );
  }
  return [...lines, ''].join('\n');
}

/** NAT and the routed pairs: small, global, rewritten whole on every router / floating IP change. */
export function natScript(table: string, nat: NatSpec): string {
  const lines = [
    `flush chain inet ${table} nat_pre`,
    `flush chain inet ${table} nat_out`,
    `flush chain inet ${table} nat_post`,
    `flush set inet ${table} routed`,
  ];
  if (nat.routed.length)
    lines.push(
      `add element inet ${table} routed { ${nat.routed.map((r) => `${q(r.from)} . ${q(r.to)}`).join(', ')} }`,
    );
  for (const f of nat.floating) {
    lines.push(`add rule inet ${table} nat_pre ip daddr ${f.floatingIp} dnat ip to ${f.fixedIp}`);
    lines.push(`add rule inet ${table} nat_out ip daddr ${f.floatingIp} dnat ip to ${f.fixedIp}`);
    lines.push(
      `add rule inet ${table} nat_post ip saddr ${f.fixedIp} oifname ${q(f.externalBridge)} snat ip to ${f.floatingIp}`,
    );
  }
  for (const s of nat.snat) {
    lines.push(
      `add rule inet ${table} nat_post ip saddr ${s.cidr} oifname ${q(s.externalBridge)} snat ip to ${s.snatTo}`,
    );
    // Out through the host's own uplinks (not another Kestrel bridge): the host's address.
    lines.push(`add rule inet ${table} nat_post ip saddr ${s.cidr} oifname != @bridges masquerade`);
  }
  return [...lines, ''].join('\n');
}

/** Both tables replaced in one transaction: base, bridges, every port, NAT. */
export function fullScript(table: string, state: HostNetworkState): string {
  const parts = [
    // add-then-delete: deleting a table that does not exist would fail the transaction.
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `add table bridge ${table}`,
    `delete table bridge ${table}`,
    baseScript(table),
    bridgesScript(
      table,
      state.networks.map((n) => n.bridge),
    ),
    ...state.ports.map((p) => portScript(table, p)),
    natScript(table, state.nat),
  ];
  return parts.join('\n');
}

export async function applyNft(script: string): Promise<void> {
  await runChecked(['nft', '-f', '-'], { input: script, timeoutMs: 30_000 });
}

export async function deleteTables(table: string): Promise<void> {
  await applyNft(
    [
      `add table inet ${table}`,
      `delete table inet ${table}`,
      `add table bridge ${table}`,
      `delete table bridge ${table}`,
      '',
    ].join('\n'),
  );
}
