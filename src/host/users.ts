// The account QEMU runs as under libvirt (qemu.conf `user`/`group`, Debian default
// libvirt-qemu) and its groups, read from the host's /etc/passwd and /etc/group, so device
// checks can tell whether QEMU can open a node rather than only whether root can.
import { readHostFile } from './host-files.js';

export interface QemuAccount {
  user: string;
  uid: number | undefined;
  /** Primary and supplementary group ids (libvirt applies the user's supplementary groups). */
  gids: number[];
  groupNames: string[];
}

export interface GroupTable {
  byGid: Map<number, string>;
  byName: Map<string, { gid: number; members: string[] }>;
}

export async function readGroups(hostRoot = '/'): Promise<GroupTable> {
  const byGid = new Map<number, string>();
  const byName = new Map<string, { gid: number; members: string[] }>();
  for (const line of ((await readHostFile(hostRoot, '/etc/group')) ?? '').split('\n')) {
    const [name, , gidText, members] = line.split(':');
    if (!name || gidText === undefined) continue;
    const gid = Number(gidText);
    byGid.set(gid, name);
    byName.set(name, { gid, members: (members ?? '').split(',').filter(Boolean) });
  }
  return { byGid, byName };
}

/** Reads a quoted `key = "value"` setting from libvirt's qemu.conf text. */
export function qemuConfSetting(text: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
  return m?.[1];
}

export async function readQemuAccount(hostRoot = '/', groups?: GroupTable): Promise<QemuAccount> {
  const conf = (await readHostFile(hostRoot, '/etc/libvirt/qemu.conf')) ?? '';
  const user = qemuConfSetting(conf, 'user') ?? 'libvirt-qemu';
  const configuredGroup = qemuConfSetting(conf, 'group');
  const table = groups ?? (await readGroups(hostRoot));
  let uid: number | undefined;
  const gids = new Set<number>();
  if (/^\+?\d+$/.test(user)) uid = Number(user.replace('+', ''));
  for (const line of ((await readHostFile(hostRoot, '/etc/passwd')) ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === user || (uid !== undefined && Number(f[2]) === uid)) {
      uid = Number(f[2]);
      gids.add(Number(f[3]));
    }
  }
  if (user === 'root') uid = 0;
  for (const [, g] of table.byName) if (g.members.includes(user)) gids.add(g.gid);
  if (configuredGroup !== undefined) {
    const g = table.byName.get(configuredGroup);
    if (g) gids.add(g.gid);
  }
  const groupNames = [...gids].map((g) => table.byGid.get(g) ?? String(g));
  return { user, uid, gids: [...gids], groupNames };
}

/** Unix permission rule: owner bits if the uid matches, else group bits if a gid matches, else other. */
export function canReadWrite(account: QemuAccount, dev: { mode: number; uid: number; gid: number }): boolean {
  if (account.uid === 0) return true;
  if (account.uid !== undefined && account.uid === dev.uid) return (dev.mode & 0o600) === 0o600;
  if (account.gids.includes(dev.gid)) return (dev.mode & 0o060) === 0o060;
  return (dev.mode & 0o006) === 0o006;
}
