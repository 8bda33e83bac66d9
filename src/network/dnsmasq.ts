// One dnsmasq per network (as Neutron's DHCP agent and Incus run it): DHCP for the network's
// subnets in "static" mode — only ports Kestrel knows get a lease, each its own fixed IP from
// the hosts file — and DNS for their names. Files live in <state_dir>/<network id>/; a change
// of hosts is a rewrite of the hosts file and SIGHUP, a change of subnets a restart.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { runChecked } from '../util/run.js';
import type { NetworkSpec } from './contract.js';
import { intToIp, ipToInt } from './ipv4.js';

export interface DnsmasqPaths {
  dir: string;
  pid: string;
  hosts: string;
  addnHosts: string;
  leases: string;
  args: string;
}

export function pathsFor(stateDir: string, networkId: string): DnsmasqPaths {
  const dir = join(stateDir, networkId);
  return {
    dir,
    pid: join(dir, 'dnsmasq.pid'),
    hosts: join(dir, 'hosts'),
    addnHosts: join(dir, 'addn_hosts'),
    leases: join(dir, 'leases'),
    args: join(dir, 'args.json'),
  };
}

/** Whether the network needs a dnsmasq at all: a DHCP subnet and an address of the host on it. */
export function needsDnsmasq(n: NetworkSpec): boolean {
  return !n.external && n.subnets.some((s) => s.dhcp) && n.hostAddresses.length > 0;
}

/** The dnsmasq command line for a network (pure: tests read it). */
export function dnsmasqArgs(n: NetworkSpec, p: DnsmasqPaths): string[] {
  const args = [
    'dnsmasq',
    '--conf-file=/dev/null',
    '--no-hosts',
    '--strict-order',
    '--bind-interfaces',
    `--interface=${n.bridge}`,
    '--except-interface=lo',
    `--pid-file=${p.pid}`,
    `--dhcp-hostsfile=${p.hosts}`,
    `--addn-hosts=${p.addnHosts}`,
    `--dhcp-leasefile=${p.leases}`,
    '--dhcp-no-override',
    '--domain=openstacklocal',
    '--user=nobody',
    '--group=nogroup',
  ];
  n.subnets.forEach((s, i) => {
    if (!s.dhcp) return;
    const [base, prefix] = s.cidr.split('/');
    const mask = intToIp(Number(prefix) === 0 ? 0 : (0xffffffff << (32 - Number(prefix))) >>> 0);
    const tag = `subnet${i}`;
    args.push(`--dhcp-range=set:${tag},${intToIp(ipToInt(base))},static,${mask},86400s`);
    // No gateway: tell the guest there is no router (an empty option) rather than dnsmasq's own address.
    args.push(
      s.gateway
        ? `--dhcp-option=tag:${tag},option:router,${s.gateway}`
        : `--dhcp-option=tag:${tag},option:router`,
    );
    if (s.dnsServers.length)
      args.push(`--dhcp-option=tag:${tag},option:dns-server,${s.dnsServers.join(',')}`);
  });
  args.push(`--dhcp-option=option:mtu,${n.mtu}`);
  return args;
}

export function hostsFile(n: NetworkSpec): string {
  return n.dhcpHosts.map((h) => `${h.mac},${h.ip},${h.hostname}\n`).join('');
}

export function addnHostsFile(n: NetworkSpec): string {
  return n.dhcpHosts.map((h) => `${h.ip}\t${h.hostname}.openstacklocal ${h.hostname}\n`).join('');
}

/** The pid of the network's running dnsmasq (its command line names our pid file), or undefined. */
export function runningPid(p: DnsmasqPaths): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(p.pid, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(`--pid-file=${p.pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * dnsmasq drops to `nobody` and re-reads the hosts file as that user on SIGHUP: every directory
 * above it must let others through (x), or DHCP silently offers nothing.
 */
function checkReachable(dir: string): void {
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new Error(
        `dnsmasq (running as nobody) cannot reach ${dir}: ${d} is not traversable by others. Fix: chmod o+x ${d}, or set [network] state_dir elsewhere.`,
      );
  }
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o644 });
  // rename keeps readers (dnsmasq on SIGHUP) from seeing half a file.
  renameSync(`${path}.tmp`, path);
}

/**
 * Makes the network's dnsmasq match the spec: started when missing, restarted when its
 * command line changed, sent SIGHUP when only the hosts changed; stopped when not needed.
 * Returns what it did.
 */
export async function ensureDnsmasq(
  stateDir: string,
  n: NetworkSpec,
): Promise<'started' | 'restarted' | 'reloaded' | 'stopped' | 'none'> {
  const p = pathsFor(stateDir, n.id);
  if (!needsDnsmasq(n)) return (await stopDnsmasq(stateDir, n.id)) ? 'stopped' : 'none';
  mkdirSync(p.dir, { recursive: true, mode: 0o755 });
  checkReachable(p.dir);
  chmodSync(p.dir, 0o755);
  writeAtomically(p.hosts, hostsFile(n));
  writeAtomically(p.addnHosts, addnHostsFile(n));
  const args = dnsmasqArgs(n, p);
  const pid = runningPid(p);
  const same = existsSync(p.args) && readFileSync(p.args, 'utf8') === JSON.stringify(args);
  if (pid && same) {
    process.kill(pid, 'SIGHUP');
    return 'reloaded';
  }
  if (pid) await stopPid(pid);
  // The lease file must be writable by the dropped user (nobody).
  if (!existsSync(p.leases)) writeFileSync(p.leases, '', { mode: 0o644 });
  chmodSync(p.leases, 0o666);
  await runChecked(args, { timeoutMs: 20_000 });
  writeFileSync(p.args, JSON.stringify(args));
  return pid ? 'restarted' : 'started';
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  // dnsmasq exits on SIGTERM at once; wait briefly so a restart can bind the same address.
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(20);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Stops the network's dnsmasq and removes its files; true when one was running. */
export async function stopDnsmasq(stateDir: string, networkId: string): Promise<boolean> {
  const p = pathsFor(stateDir, networkId);
  const pid = runningPid(p);
  if (pid) await stopPid(pid);
  rmSync(p.dir, { recursive: true, force: true });
  return pid !== undefined;
}

/** Network ids that have a dnsmasq directory under stateDir. */
export function dnsmasqNetworks(stateDir: string): string[] {
  try {
    return readdirSync(stateDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
