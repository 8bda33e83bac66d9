// Linux bridges and the host's addresses on them, through ip(8) with argument arrays.
import { run, runChecked } from '../util/run.js';

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Names of the bridges whose name starts with prefix. */
export async function listBridges(prefix: string): Promise<string[]> {
  const r = await runChecked(['ip', '-j', 'link', 'show', 'type', 'bridge']);
  const links = JSON.parse(r.stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

export async function bridgeExists(name: string): Promise<boolean> {
  const r = await run(['ip', 'link', 'show', 'dev', name]);
  return r.code === 0;
}

/** The bridge exists, is up, has this MTU and exactly these IPv4 addresses (CIDR notation). */
export async function ensureBridge(
  name: string,
  mtu: number,
  addresses: string[],
): Promise<{ created: boolean }> {
  let created = false;
  if (!(await bridgeExists(name))) {
    // No STP and no forwarding delay: a guest's tap forwards as soon as it is plugged.
    await runChecked([
      'ip',
      'link',
      'add',
      'name',
      name,
      'type',
      'bridge',
      'stp_state',
      '0',
      'forward_delay',
      '0',
    ]);
    created = true;
  }
  await runChecked(['ip', 'link', 'set', 'dev', name, 'mtu', String(mtu), 'up']);
  const have = await addressesOf(name);
  for (const a of addresses) if (!have.includes(a)) await runChecked(['ip', 'addr', 'add', a, 'dev', name]);
  for (const a of have) if (!addresses.includes(a)) await runChecked(['ip', 'addr', 'del', a, 'dev', name]);
  return { created };
}

export async function addressesOf(name: string): Promise<string[]> {
  const r = await runChecked(['ip', '-j', '-4', 'addr', 'show', 'dev', name]);
  const rows = JSON.parse(r.stdout || '[]') as IpAddrJson[];
  return rows.flatMap((row) =>
    (row.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  );
}

export async function deleteBridge(name: string): Promise<boolean> {
  if (!(await bridgeExists(name))) return false;
  await runChecked(['ip', 'link', 'del', 'dev', name]);
  return true;
}

/** The host's IPv4 route destinations (CIDR; not the default route): what a new subnet must avoid. */
export async function hostRouteCidrs(): Promise<string[]> {
  const r = await runChecked(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
  const routes = JSON.parse(r.stdout || '[]') as { dst?: string; type?: string }[];
  return routes
    .filter((x) => x.dst && x.dst !== 'default' && (x.type === undefined || x.type === 'unicast'))
    .map((x) => (x.dst!.includes('/') ? x.dst! : `${x.dst}/32`));
}
