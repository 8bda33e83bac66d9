// Whether QEMU's user (qemu.conf `user`, Debian's libvirt-qemu) can reach the files Kestrel
// gives it: every directory from / down to instances_path and the image cache must be
// traversable (x) for that user. A state_path under a private directory (a `mktemp -d`, a home
// directory of mode 0700) lets Kestrel start and every boot fail with libvirt's "Cannot access
// storage file … Permission denied"; this check finds it first and names the directory.
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { KestrelError } from '../errors/index.js';
import { check, type Check } from './types.js';
import { readQemuAccount, type QemuAccount } from './users.js';

export interface BlockingDirectory {
  /** The first directory on the way that QEMU's user cannot traverse. */
  dir: string;
  mode: number;
  uid: number;
  gid: number;
}

/** The directories from / down to `path` (only those that exist: Kestrel creates the rest 0711). */
async function existingChain(
  path: string,
): Promise<{ dir: string; mode: number; uid: number; gid: number }[]> {
  const parts = resolve(path).split(sep).filter(Boolean);
  const out: { dir: string; mode: number; uid: number; gid: number }[] = [];
  let dir: string = sep;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) dir = resolve(dir, parts[i - 1]);
    const st = await stat(dir).catch(() => undefined);
    if (!st) break;
    if (!st.isDirectory()) break;
    out.push({ dir, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }
  return out;
}

/** Whether `account` may search (x) a directory of this mode and owner. */
export function canTraverse(account: QemuAccount, d: { mode: number; uid: number; gid: number }): boolean {
  if (account.uid === 0) return true;
  if (account.uid !== undefined && account.uid === d.uid) return (d.mode & 0o100) !== 0;
  if (account.gids.includes(d.gid)) return (d.mode & 0o010) !== 0;
  return (d.mode & 0o001) !== 0;
}

/** The first directory on the way to `path` that QEMU's user cannot traverse, if any. */
export async function firstBlockingDirectory(
  path: string,
  account: QemuAccount,
): Promise<BlockingDirectory | undefined> {
  for (const d of await existingChain(path)) if (!canTraverse(account, d)) return d;
  return undefined;
}

/** The fix for a blocking directory, in one sentence (start-up, doctor, and boot faults). */
export function reachFix(dir: string): string {
  return (
    `chmod o+x ${dir} (QEMU needs to pass through it, not to list it), or set [DEFAULT] state_path ` +
    `(and instances_path) to a directory QEMU's user can reach, such as /var/lib/kestrel`
  );
}

/** The refusal when QEMU's user cannot reach one of `paths`; undefined when every path is reachable. */
export async function checkQemuCanReach(
  paths: { what: string; path: string }[],
  account?: QemuAccount,
): Promise<KestrelError | undefined> {
  const qemu = account ?? (await readQemuAccount());
  for (const { what, path } of paths) {
    const b = await firstBlockingDirectory(path, qemu);
    if (!b) continue;
    return new KestrelError(
      'state-path-unreachable',
      `QEMU runs as ${qemu.user} and cannot reach ${what} ${path}: the directory ${b.dir} ` +
        `(mode ${b.mode.toString(8).padStart(4, '0')}, owner uid ${b.uid}) is not traversable for ${qemu.user}, ` +
        `so every guest would fail to open its disk.`,
      { fix: reachFix(b.dir) },
    );
  }
  return undefined;
}

/** The paths QEMU opens under the configuration: the instance disks and the image cache. */
export function qemuPaths(c: {
  DEFAULT: { instances_path: string };
  image_cache: { subdirectory_name: string };
}): { what: string; path: string }[] {
  return [
    { what: 'instances_path', path: c.DEFAULT.instances_path },
    { what: 'the image cache', path: resolve(c.DEFAULT.instances_path, c.image_cache.subdirectory_name) },
  ];
}

/** The doctor's check: pass when QEMU's user reaches every path, fail naming the blocking directory. */
export async function checkQemuReach(
  paths: { what: string; path: string }[],
  account?: QemuAccount,
): Promise<Check> {
  const qemu = account ?? (await readQemuAccount());
  const refusal = await checkQemuCanReach(paths, qemu);
  return refusal
    ? check('storage.qemu-reach', "QEMU's user reaches the state path", 'fail', refusal.message, refusal.fix)
    : check(
        'storage.qemu-reach',
        "QEMU's user reaches the state path",
        'pass',
        `${qemu.user} can pass every directory down to ${paths.map((p) => p.path).join(' and ')}`,
        null,
      );
}
