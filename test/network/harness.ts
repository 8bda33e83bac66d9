// What the networking tests share: a per-run name prefix for bridges and the nftables table,
// free IPv4 ranges (away from the host's routes and other runs), and a cleanup that removes
// every bridge with the run's prefix, every dnsmasq under the run's state directory and the
// run's nftables tables — whatever a test left behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface NetRun {
  /** Bridge prefix ([network] bridge_prefix): kt + 4 hex characters. */
  bridgePrefix: string;
  /** nftables table name ([network] nft_table). */
  table: string;
}

export function netRun(): NetRun {
  const hex = randomBytes(2).toString('hex');
  return { bridgePrefix: `kt${hex}`, table: `kt-net-${hex}` };
}

/** Whether this machine can run the data plane (root, ip, nft, dnsmasq); the reason when not. */
export function dataPlaneUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (bridges, nftables)';
  for (const bin of ['/usr/sbin/nft', '/usr/sbin/dnsmasq', '/usr/sbin/ip'])
    if (!existsSync(bin)) return `${bin} is missing (npm run setup)`;
  return false;
}

/** A /24 in 10.<a>.<b>.0 that no host route and no other Kestrel bridge uses. */
export function freeSubnet(): string {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const a = 100 + Math.floor(Math.random() * 100);
    const b = Math.floor(Math.random() * 250);
    const net = `10.${a}.${b}.`;
    if (!routes.includes(net)) return `${net}0/24`;
  }
}

function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...pidsUnder(p));
    else if (e.name === 'dnsmasq.pid') {
      const pid = Number(readFileSync(p, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) out.push(pid);
    }
  }
  return out;
}

/** Removes the run's bridges, dnsmasq processes (found by pid file under stateDir) and tables. */
export function cleanupNetRun(run: NetRun, stateDir?: string): void {
  if (stateDir)
    for (const pid of pidsUnder(stateDir)) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.startsWith('dnsmasq') && cmd.includes(stateDir)) process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  const links = JSON.parse(
    execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }) || '[]',
  ) as { ifname: string }[];
  for (const l of links)
    if (l.ifname.startsWith(run.bridgePrefix)) execFileSync('ip', ['link', 'del', 'dev', l.ifname]);
  for (const family of ['inet', 'bridge'])
    execFileSync('nft', ['-f', '-'], {
      input: `add table ${family} ${run.table}\ndelete table ${family} ${run.table}\n`,
    });
}

/** The names of the nftables tables on the host ("family name"). */
export function nftTables(): string[] {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.replace(/^table /, '').trim())
    .filter(Boolean);
}
