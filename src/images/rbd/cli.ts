// The `rbd` and `ceph` command-line clients, wrapped: every call gets the same connection flags
// (`--conf`, `--id`, `--keyring`, the mount timeout) as an argument array, never a shell string.
// Kestrel talks to Ceph only through these CLIs (no librados binding in Node), as Nova's
// rbd_utils does through python-rbd; each `rbd` call costs about 60 ms, each `ceph` call 0.3-0.5 s.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { CommandError, runChecked, run, type RunOptions, type RunResult } from '../../util/run.js';
import { ImageError } from '../errors.js';

export interface CephConnection {
  /** ceph.conf path (`images_rbd_ceph_conf` / `rbd_ceph_conf`); empty = Ceph's default search. */
  cephConf?: string;
  /** RADOS client id without `client.` (`rbd_user`); empty = Ceph's default (admin). */
  user?: string;
  /** Keyring file; empty = the `keyring` setting of ceph.conf. */
  keyring?: string;
  /** Seconds to wait for the monitors (`rbd_connect_timeout`, default 5). */
  connectTimeoutSec?: number;
}

/** Errno-style outcomes worth telling apart from "something failed". */
export function isNotFound(e: unknown): boolean {
  return (
    e instanceof CommandError &&
    /\(2\) No such file or directory|error opening (image|pool)|does not exist/i.test(e.result?.stderr ?? '')
  );
}

export function isBusy(e: unknown): boolean {
  return (
    e instanceof CommandError &&
    /\(16\) Device or resource busy|has watchers|still has watchers/i.test(e.result?.stderr ?? '')
  );
}

export class CephCli {
  readonly conn: Required<Pick<CephConnection, 'connectTimeoutSec'>> & CephConnection;
  private fsidCache: Promise<string> | undefined;
  private monCache: Promise<{ host: string; port: number }[]> | undefined;

  constructor(conn: CephConnection = {}) {
    this.conn = { ...conn, connectTimeoutSec: conn.connectTimeoutSec ?? 5 };
  }

  /** The connection flags every rbd/ceph call carries. */
  connectionArgs(): string[] {
    const a: string[] = [];
    if (this.conn.cephConf) a.push('--conf', this.conn.cephConf);
    if (this.conn.user) a.push('--id', this.conn.user);
    if (this.conn.keyring) a.push('--keyring', this.conn.keyring);
    // librados' own mount timeout: an unreachable cluster fails in N seconds instead of hanging.
    a.push('--client_mount_timeout', String(this.conn.connectTimeoutSec));
    return a;
  }

  /** A bound on a whole command: the mount timeout plus the work itself. */
  private timeout(workMs: number): number {
    return this.conn.connectTimeoutSec * 1000 + workMs;
  }

  rbd(args: readonly string[], opts: RunOptions & { workMs?: number } = {}): Promise<RunResult> {
    const { workMs, ...rest } = opts;
    return runChecked(['rbd', ...this.connectionArgs(), ...args], {
      timeoutMs: this.timeout(workMs ?? 60_000),
      ...rest,
    });
  }

  /** rbd with `--format json`, parsed. */
  async rbdJson<T>(args: readonly string[], workMs?: number): Promise<T> {
    const r = await this.rbd([...args, '--format', 'json'], { workMs });
    return JSON.parse(r.stdout) as T;
  }

  async cephJson<T>(args: readonly string[], workMs = 30_000): Promise<T> {
    const r = await runChecked(['ceph', ...this.connectionArgs(), ...args, '--format', 'json'], {
      timeoutMs: this.timeout(workMs),
    });
    return JSON.parse(r.stdout) as T;
  }

  /** Runs rbd with piped stdio: for `rbd import - …` (stdin) and `rbd export … -` (stdout). */
  rbdSpawn(args: readonly string[]): ChildProcessByStdio<Writable, Readable, Readable> {
    return spawn('rbd', [...this.connectionArgs(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** The cluster's fsid (cached): the first part of an rbd:// location. */
  fsid(): Promise<string> {
    this.fsidCache ??= runChecked(['ceph', ...this.connectionArgs(), 'fsid'], {
      timeoutMs: this.timeout(30_000),
    }).then(
      (r) => r.stdout.trim(),
      (e: unknown) => {
        this.fsidCache = undefined;
        throw new ImageError(
          'storage-unavailable',
          `cannot read the Ceph cluster's fsid (${describe(e)}); check that the cluster is up and that ${this.describeConn()} can reach it`,
        );
      },
    );
    return this.fsidCache;
  }

  /** Monitor addresses for libvirt's network disk (`ceph mon dump`, as Nova does; cached). */
  monitors(): Promise<{ host: string; port: number }[]> {
    this.monCache ??= this.cephJson<MonDump>(['mon', 'dump']).then(
      (dump) => parseMonDump(dump),
      (e: unknown) => {
        this.monCache = undefined;
        throw new ImageError(
          'storage-unavailable',
          `cannot list the Ceph monitors with 'ceph mon dump' (${describe(e)}); check the cluster is up`,
        );
      },
    );
    return this.monCache;
  }

  describeConn(): string {
    return `client.${this.conn.user || 'admin'} with ${this.conn.cephConf || 'the default ceph.conf'}`;
  }
}

interface MonDump {
  mons: {
    name: string;
    addr?: string;
    public_addr?: string;
    public_addrs?: { addrvec: { type: string; addr: string }[] };
  }[];
}

/** Every monitor's v1 address (or its only one), `host:port/nonce` → {host, port}. */
export function parseMonDump(dump: MonDump): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const mon of dump.mons ?? []) {
    const vec = mon.public_addrs?.addrvec ?? [];
    const addr = vec.find((a) => a.type === 'v1')?.addr ?? vec[0]?.addr ?? mon.public_addr ?? mon.addr;
    if (!addr) continue;
    const hostPort = addr.split('/')[0];
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hostPort);
    if (m) out.push({ host: m[1], port: Number(m[2]) });
  }
  if (out.length === 0)
    throw new ImageError('storage-unavailable', 'ceph mon dump listed no monitor addresses');
  return out;
}

/**
 * The secret key of a client, for the libvirt secret the driver defines (type ceph). Reads it with
 * `ceph auth get-key client.<user>` as an admin identity (a restricted client may not read keys).
 * The key is a secret: never log it.
 */
export async function cephClientKey(opts: {
  cephConf?: string;
  user: string;
  /** The identity allowed to read keys (default admin). */
  adminUser?: string;
  adminKeyring?: string;
}): Promise<string> {
  const argv = ['ceph'];
  if (opts.cephConf) argv.push('--conf', opts.cephConf);
  argv.push('--id', opts.adminUser ?? 'admin');
  if (opts.adminKeyring) argv.push('--keyring', opts.adminKeyring);
  argv.push('auth', 'get-key', `client.${opts.user}`);
  const r = await run(argv, { timeoutMs: 30_000 });
  if (r.code !== 0 || r.timedOut) {
    throw new ImageError(
      'storage-unavailable',
      `cannot read the key of client.${opts.user} with 'ceph auth get-key' as client.${opts.adminUser ?? 'admin'} ` +
        `(${r.timedOut ? 'timed out' : r.stderr.trim().split('\n').pop()}); run it with an identity that has 'mon allow *'`,
    );
  }
  return r.stdout.trim();
}

export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
