// An in-process Kestrel (SQLite in a temp dir, the fake driver, the real FileImageStore)
// with an admin, a member of another project, and helpers that call the APIs by inject().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDatabase } from '../../src/db/index.js';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { FileImageStore } from '../../src/images/store/file.js';
import type { RootDisks } from '../../src/compute/disks.js';
import { createCore, type AgentTransportKind, type Core } from '../../src/service/core.js';
import { bootstrap } from '../../src/service/bootstrap.js';
import type { CpuSetOptions } from '../../src/virt/numa/host.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: unknown;
  text: string;
}

export interface InjectOptions {
  token?: string | null;
  /** Sent as JSON (content-type application/json unless headers say otherwise). */
  body?: unknown;
  payload?: string | Buffer;
  headers?: Record<string, string>;
}

/** One API call through fastify's inject(): the reply with its body parsed when it is JSON. */
export async function injectApi(
  app: FastifyInstance,
  method: string,
  url: string,
  opts: InjectOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers['x-auth-token'] = opts.token;
  let payload: string | Buffer | undefined = opts.payload;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await app.inject({ method: method as 'GET', url, headers, payload });
  let body: unknown;
  try {
    body = r.body ? JSON.parse(r.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.statusCode, headers: r.headers, body, text: r.body };
}

/** Disks that exist only as names: the fake driver never opens them. */
class NameOnlyDisks implements RootDisks {
  readonly created = new Set<string>();
  async create(uuid: string) {
    this.created.add(uuid);
    return { kind: 'file' as const, path: `/nonexistent/kt-api/${uuid}/disk`, format: 'qcow2' as const };
  }
  async delete(uuid: string) {
    this.created.delete(uuid);
  }
  async exportTo() {}
}

export interface Harness {
  core: Core;
  dir: string;
  driver: FakeDriver;
  disks: NameOnlyDisks;
  admin: string;
  member: string;
  memberProjectId: string;
  other: string;
  call(
    api: 'identity' | 'compute' | 'image',
    method: string,
    url: string,
    opts?: {
      token?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
      payload?: Buffer | string;
    },
  ): Promise<Reply>;
  waitFor(
    token: string,
    id: string,
    pred: (s: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** The fake hypervisor (default: a plain FakeDriver whose guests print GUEST-BOOTED). */
  driver?: FakeDriver;
  /** The compute host's name (default kt-node1). */
  hostName?: string;
  /** Temp directory prefix, naming the area (default kt-service-api-). */
  tempPrefix?: string;
  /** [compute] cpu_dedicated_set / cpu_shared_set of the compute host. */
  cpuSets?: CpuSetOptions;
  /** How control reaches the agent (default in-process); the suites run against each. */
  agent?: AgentTransportKind;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), o.tempPrefix ?? 'kt-service-api-'));
  const db = await openDatabase({ statePath: dir });
  const driver = o.driver ?? new FakeDriver({ bootMessage: 'GUEST-BOOTED' });
  await driver.init();
  const disks = new NameOnlyDisks();
  const core = await createCore({
    db,
    driver,
    imageStore: new FileImageStore({ directory: join(dir, 'images'), fsync: false }),
    disks,
    hostName: o.hostName ?? 'kt-node1',
    instancesPath: join(dir, 'instances'),
    endpoints: () => ({
      identity: 'http://127.0.0.1:5000/v3',
      compute: 'http://127.0.0.1:8774/v2.1',
      image: 'http://127.0.0.1:9292',
      region: 'RegionOne',
    }),
    startedTimeoutMs: 5000,
    cpuSets: o.cpuSets,
    agentTransport: o.agent ?? 'in-process',
  });
  await bootstrap(core.repos, { adminUser: 'admin', adminProject: 'admin', adminPassword: 'adminpw' });
  const demo = await core.repos.identity.createProject({ name: 'demo' });
  const u = await core.repos.identity.createUser({
    name: 'alice',
    password: 'alicepw',
    defaultProjectId: demo.id,
  });
  await core.repos.identity.assignRole(u.id, demo.id, (await core.repos.identity.ensureRole('member')).id);
  const other = await core.repos.identity.createProject({ name: 'other' });
  const b = await core.repos.identity.createUser({
    name: 'bob',
    password: 'bobpw',
    defaultProjectId: other.id,
  });
  await core.repos.identity.assignRole(b.id, other.id, (await core.repos.identity.ensureRole('member')).id);

  const call: Harness['call'] = (api, method, url, opts = {}) => injectApi(core.apps[api], method, url, opts);
  const login = async (user: string, password: string, project: string) => {
    const r = await call('identity', 'POST', '/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { name: 'Default' }, password } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      },
    });
    if (r.status !== 201) throw new Error(`login ${user}: ${r.status} ${r.text}`);
    return String(r.headers['x-subject-token']);
  };
  const h: Harness = {
    core,
    dir,
    driver,
    disks,
    admin: await login('admin', 'adminpw', 'admin'),
    member: await login('alice', 'alicepw', 'demo'),
    memberProjectId: demo.id,
    other: await login('bob', 'bobpw', 'other'),
    call,
    async waitFor(token, id, pred, ms = 10_000) {
      const end = Date.now() + ms;
      let last: Record<string, unknown> = {};
      while (Date.now() < end) {
        const r = await call('compute', 'GET', `/v2.1/servers/${id}`, { token });
        last = (r.body as { server: Record<string, unknown> }).server;
        if (last && pred(last)) return last;
        await new Promise((res) => setTimeout(res, 20));
      }
      throw new Error(`server ${id} did not reach the expected state; last: ${JSON.stringify(last)}`);
    },
    async close() {
      await core.close();
      await driver.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** A 1 MiB raw disk image with an MBR signature (what the inspector accepts as raw). */
export function rawImage(size = 1024 * 1024): Buffer {
  const b = Buffer.alloc(size);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** Creates and uploads an image; returns its id. */
export async function uploadImage(
  h: Harness,
  token: string,
  name = 'img',
  data = rawImage(),
  extra: Record<string, unknown> = {},
) {
  const c = await h.call('image', 'POST', '/v2/images', {
    token,
    body: { name, disk_format: 'raw', container_format: 'bare', ...extra },
  });
  if (c.status !== 201) throw new Error(`image create: ${c.status} ${c.text}`);
  const id = (c.body as { id: string }).id;
  const u = await h.call('image', 'PUT', `/v2/images/${id}/file`, {
    token,
    payload: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (u.status !== 204) throw new Error(`image upload: ${u.status} ${u.text}`);
  return id;
}
