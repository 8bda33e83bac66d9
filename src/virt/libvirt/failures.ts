// Turning libvirt failures into errors that carry their cause: a QEMU start failure gets the
// tail of QEMU's own log, "no supported architecture for os type 'hvm'" gets the guide's
// explanation, a missing domain becomes instance-not-found.
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { firstBlockingDirectory, reachFix } from '../../host/qemu-reach.js';
import { readQemuAccount } from '../../host/users.js';
import { isLibvirtError, isNoDomain, isOperationInvalid } from '../../libvirt/index.js';
import { VirtError, NO_HVM_EXPLANATION, NO_HVM_FIX, instanceNotFound } from '../errors.js';

/** The last maxBytes of a file (as root: libvirt's logs are 0600), or '' when absent. */
export async function tailFile(path: string, maxBytes: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * QEMU's own words from its last start: the log since the last "starting up" line, without
 * the echoed command line (continuation lines ending in a backslash, and the env/argv line).
 */
export async function qemuLogTail(logDir: string, domainName: string, lines = 20): Promise<string> {
  const text = await tailFile(join(logDir, `${domainName}.log`), 64 * 1024);
  const all = text.trimEnd().split('\n');
  let start = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    if (/: starting up /.test(all[i])) {
      start = i;
      break;
    }
  }
  const said = all.slice(start).filter((l, i, arr) => {
    if (/ \\$/.test(l)) return false;
    // The last argv line has no backslash but follows one.
    return !(i > 0 && / \\$/.test(arr[i - 1]));
  });
  return said.slice(-lines).join('\n');
}

export function isNoHvm(e: unknown): boolean {
  return e instanceof Error && /no supported architecture for os type 'hvm'/i.test(e.message);
}

/**
 * libvirt's "Cannot access storage file '…' (as uid:N, gid:M): Permission denied": the disk is
 * fine, QEMU's user cannot pass a directory above it. Names the path, the user, the directory
 * that blocks, and the fix (the start-up check gives the same).
 */
export async function permissionFailure(e: unknown, uuid: string): Promise<VirtError | undefined> {
  const text = e instanceof Error ? e.message : String(e);
  const m = /Cannot access storage file '([^']+)'(?: \(as uid:(\d+), gid:(\d+)\))?: Permission denied/.exec(
    text,
  );
  if (!m) return undefined;
  const path = m[1];
  const account = await readQemuAccount().catch(() => undefined);
  const qemu = {
    user: account?.user ?? `uid ${m[2] ?? '?'}`,
    uid: m[2] !== undefined ? Number(m[2]) : account?.uid,
    gids: m[3] !== undefined ? [Number(m[3]), ...(account?.gids ?? [])] : (account?.gids ?? []),
    groupNames: account?.groupNames ?? [],
  };
  const blocking = await firstBlockingDirectory(dirname(path), qemu).catch(() => undefined);
  return new VirtError(
    'state-path-unreachable',
    `instance ${uuid} could not start: QEMU runs as ${qemu.user} and cannot open its disk ${path} ` +
      (blocking
        ? `(the directory ${blocking.dir} is not traversable for ${qemu.user})`
        : '(permission denied)'),
    {
      fix: blocking
        ? reachFix(blocking.dir)
        : `let ${qemu.user} read ${path} and pass every directory above it, or set [DEFAULT] state_path to a directory it can reach`,
      cause: e,
    },
  );
}

/** A guest that failed to define or start, with QEMU's log tail. */
export async function startFailure(
  e: unknown,
  uuid: string,
  domainName: string,
  logDir: string,
): Promise<VirtError> {
  if (e instanceof VirtError) return e;
  if (isNoHvm(e)) {
    return new VirtError('kvm-unavailable', `instance ${uuid} could not start: ${NO_HVM_EXPLANATION}`, {
      fix: NO_HVM_FIX,
      cause: e,
    });
  }
  const denied = await permissionFailure(e, uuid);
  if (denied) return denied;
  const tail = await qemuLogTail(logDir, domainName);
  return new VirtError('guest-start-failed', `instance ${uuid} failed to start: ${(e as Error).message}`, {
    fix: `read the QEMU log ${join(logDir, `${domainName}.log`)}; check the image and the flavor, then rebuild`,
    details: tail ? `QEMU log (last lines):\n${tail}` : undefined,
    cause: e,
  });
}

/** Maps a libvirt error from an operation on an existing guest. */
export function operationFailure(e: unknown, uuid: string, op: string): Error {
  if (e instanceof VirtError) return e;
  if (isNoDomain(e)) return instanceNotFound(uuid);
  if (isOperationInvalid(e)) {
    return new VirtError(
      'invalid-state',
      `cannot ${op} instance ${uuid}: ${isLibvirtError(e) ? e.libvirtMessage : String(e)}`,
      {
        fix: `wait until the instance is in a state that allows ${op}`,
        cause: e,
      },
    );
  }
  return new VirtError('hypervisor-error', `${op} of instance ${uuid} failed: ${(e as Error).message}`, {
    fix: 'check libvirtd (kestrel doctor) and the QEMU log of the instance',
    cause: e,
  });
}
