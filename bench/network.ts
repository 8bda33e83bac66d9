// npm run bench -- network: plugging one port on the host's data plane (its network's bridge
// and DHCP hosts rewritten + SIGHUP, the port's own chains and map elements) with 10 and with
// 1,000 ports already there, against the same ip and nft commands run alone (the baseline,
// measured in the same run). The figure must not grow with the number of ports: one port's
// change touches that port's chains only. Everything made carries a per-run prefix and is
// removed at the end.
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostNetwork } from '../src/network/host-network.js';
import type { NetworkSpec, PortSpec } from '../src/network/contract.js';
import { bridgeName, tapName } from '../src/network/names.js';
import { portRemovalScript, portScript } from '../src/network/nft.js';
import { stopDnsmasq, dnsmasqNetworks } from '../src/network/dnsmasq.js';
import { runChecked } from '../src/util/run.js';

const hex = randomBytes(2).toString('hex');
const table = `kt-bench-${hex}`;
const prefix = `kb${hex}`;
const stateDir = mkdtempSync(join(tmpdir(), 'kt-bench-net-'));
chmodSync(stateDir, 0o711);
const ROUNDS = 15;

function freeBlock(): string {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const a = 100 + Math.floor(Math.random() * 100);
    const b = Math.floor(Math.random() * 31) * 8;
    if (![0, 1, 2, 3, 4, 5, 6, 7].some((i) => routes.includes(`10.${a}.${b + i}.`))) return `10.${a}.${b}`;
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const ip = (base: string, n: number) =>
  `${base.split('.').slice(0, 2).join('.')}.${Number(base.split('.')[2]) + Math.floor(n / 250)}.${(n % 250) + 3}`;
const mac = (n: number) =>
  `fa:16:3e:${[n >> 16, (n >> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;

async function scenario(existing: number): Promise<{ plugMs: number; rawMs: number }> {
  const base = freeBlock();
  const id = randomUUID();
  const bridge = bridgeName(prefix, id);
  const port = (n: number): PortSpec => {
    const pid = randomUUID();
    return {
      id: pid,
      networkId: id,
      bridge,
      tap: tapName(pid),
      mac: mac(n),
      ips: [ip(base, n)],
      security: true,
      allowed: [],
      groups: ['bench-default'],
      rules: [
        { direction: 'egress', protocol: 'any', portMin: null, portMax: null, remote: { any: true } },
        {
          direction: 'ingress',
          protocol: 'any',
          portMin: null,
          portMax: null,
          remote: { group: 'bench-default' },
        },
        { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remote: { any: true } },
      ],
    };
  };
  const ports = Array.from({ length: existing }, (_, n) => port(n));
  const net = (ps: PortSpec[]): NetworkSpec => ({
    id,
    bridge,
    mtu: 1500,
    external: false,
    subnets: [{ id: 's', cidr: `${base}.0/21`, gateway: `${base}.1`, dhcp: true, dnsServers: [] }],
    hostAddresses: [`${base}.2/21`],
    dhcpHosts: ps.map((p) => ({ mac: p.mac, ip: p.ips[0], hostname: `h${p.ips[0].replace(/\./g, '-')}` })),
  });
  const hn = new HostNetwork({ table, bridgePrefix: prefix, stateDir });
  await hn.networkSync({ networks: [net(ports)], ports, nat: { snat: [], floating: [], routed: [] } });
  const plug: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const p = port(existing + r);
    const t0 = performance.now();
    await hn.networkApply({ op: 'network', network: net([...ports, p]) });
    await hn.networkApply({ op: 'port', port: p });
    plug.push(performance.now() - t0);
    await hn.networkApply({ op: 'port-removed', portId: p.id, ips: p.ips, groups: p.groups });
    // The commands a plug runs, alone: bridge up and its addresses read, the bridges element,
    // the port's nft transaction.
    const q = port(existing + ROUNDS + r);
    const t1 = performance.now();
    await runChecked(['ip', 'link', 'set', 'dev', bridge, 'mtu', '1500', 'up']);
    await runChecked(['ip', '-j', '-4', 'addr', 'show', 'dev', bridge]);
    await runChecked(['nft', '-f', '-'], { input: `add element inet ${table} bridges { "${bridge}" }\n` });
    await runChecked(['nft', '-f', '-'], { input: portScript(table, q) });
    raw.push(performance.now() - t1);
    await runChecked(['nft', '-f', '-'], { input: portRemovalScript(table, q) });
  }
  await hn.networkApply({ op: 'network-removed', networkId: id, bridge });
  await hn.networkSync({ networks: [], ports: [], nat: { snat: [], floating: [], routed: [] } });
  return { plugMs: median(plug), rawMs: median(raw) };
}

try {
  const small = await scenario(10);
  console.log(
    `plug one port with 10 existing: ${small.plugMs.toFixed(1)} ms (ip + nft commands alone: ${small.rawMs.toFixed(1)} ms, ${(small.plugMs / small.rawMs).toFixed(2)}x)`,
  );
  const large = await scenario(1000);
  console.log(
    `plug one port with 1,000 existing: ${large.plugMs.toFixed(1)} ms (ip + nft commands alone: ${large.rawMs.toFixed(1)} ms, ${(large.plugMs / large.rawMs).toFixed(2)}x)`,
  );
  console.log(
    `growth 10 → 1,000 ports: ${(large.plugMs / small.plugMs).toFixed(2)}x (baseline ${(large.rawMs / small.rawMs).toFixed(2)}x); medians of ${ROUNDS}`,
  );
  console.log(
    `BENCH ${JSON.stringify({
      bench: 'network',
      plug_ms_10: +small.plugMs.toFixed(2),
      raw_ms_10: +small.rawMs.toFixed(2),
      plug_ms_1000: +large.plugMs.toFixed(2),
      raw_ms_1000: +large.rawMs.toFixed(2),
      growth: +(large.plugMs / small.plugMs).toFixed(3),
    })}`,
  );
} finally {
  for (const id of dnsmasqNetworks(stateDir)) await stopDnsmasq(stateDir, id);
  for (const family of ['inet', 'bridge'])
    execFileSync('nft', ['-f', '-'], {
      input: `add table ${family} ${table}\ndelete table ${family} ${table}\n`,
    });
  const links = JSON.parse(
    execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }) || '[]',
  ) as { ifname: string }[];
  for (const l of links)
    if (l.ifname.startsWith(prefix)) execFileSync('ip', ['link', 'del', 'dev', l.ifname]);
  rmSync(stateDir, { recursive: true, force: true });
}
