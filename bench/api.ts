// API figures: GET /servers/detail with 1,000 servers (p50), authenticated simple GETs per
// second under autocannon, RSS idle and with 1,000 servers. Baseline in the same run: the
// unauthenticated version document (GET /) on the same server, i.e. the HTTP stack alone,
// and the same 1,000 rows read and serialized without Kestrel.
// RSS is measured twice: in this process (tsx's compiler, autocannon and the fetch client
// share the heap; run with --expose-gc for steadier figures), and — the figure the target is
// about — the service alone in a child process (bench/api-rss-child.mjs) running the build in
// dist/ as bin/kestrel does, with the V8 flags bin/kestrel ships (KESTREL_DIST=… to point
// elsewhere), or the sources through tsx when nothing is built.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import SQLite from 'better-sqlite3';
import { openDatabase } from '../src/db/index.js';
import { FakeDriver } from '../src/virt/fake/driver.js';
import { FileImageStore } from '../src/images/store/file.js';
import { createCore } from '../src/service/core.js';
import { fastifyOptions } from '../src/api/common.js';
import { bootstrap } from '../src/service/bootstrap.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-service-bench-api-'));
const db = await openDatabase({ statePath: dir });
const driver = new FakeDriver();
await driver.init();
const core = await createCore({
  db,
  driver,
  imageStore: new FileImageStore({ directory: join(dir, 'images'), fsync: false }),
  disks: {
    create: async (uuid) => ({ kind: 'file', path: `/nonexistent/${uuid}`, format: 'qcow2' }),
    delete: async () => undefined,
    exportTo: async () => undefined,
  },
  hostName: 'bench-node',
  instancesPath: join(dir, 'instances'),
  endpoints: () => ({ identity: '', compute: '', image: '', region: 'RegionOne' }),
});
const boot = await bootstrap(core.repos, {
  adminUser: 'admin',
  adminProject: 'admin',
  adminPassword: 'benchpw',
});
await core.apps.compute.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(core.apps.compute.server.address() as AddressInfo).port}`;
const { token } = await core.repos.identity.issueToken({
  userId: boot.adminUserId,
  projectId: boot.adminProjectId,
  methods: ['password'],
  ttlSeconds: 3600,
});
const headers = { 'x-auth-token': token };

const rssMb = () => {
  global.gc?.();
  return +(process.memoryUsage().rss / 1024 / 1024).toFixed(1);
};
async function get(path: string): Promise<number> {
  const t = performance.now();
  const r = await fetch(`${base}${path}`, { headers });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  return performance.now() - t;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
async function cannon(path: string, withToken: boolean): Promise<number> {
  const r = await autocannon({
    url: `${base}${path}`,
    connections: 10,
    duration: 5,
    headers: withToken ? headers : {},
  });
  if (r.non2xx) throw new Error(`${path}: ${r.non2xx} non-2xx replies`);
  return r.requests.average;
}

for (let i = 0; i < 50; i++) await get('/v2.1/flavors/1');
const rssIdle = rssMb();

const flavor = (await core.repos.flavors.get('1'))!;
const snapshot = { ...flavor, extraSpecs: {} };
const t0 = performance.now();
await core.repos.transaction(async (tx) => {
  for (let i = 0; i < 1000; i++) {
    const uuid = randomUUID();
    await tx.instances.create({
      uuid,
      displayName: `bench-${i}`,
      projectId: boot.adminProjectId,
      userId: boot.adminUserId,
      flavor: snapshot,
      imageId: randomUUID(),
      availabilityZone: 'nova',
      keyName: null,
      metadata: { n: String(i) },
      reservationId: 'r-bench',
      accessIpv4: '',
      accessIpv6: '',
      diskConfig: 'AUTO',
    });
    await tx.instances.update(uuid, {
      vmState: 'active',
      taskState: null,
      powerState: 1,
      host: 'bench-node',
      node: 'bench-node',
    });
  }
});
console.log(`inserted 1,000 servers in ${(performance.now() - t0).toFixed(0)} ms`);

for (let i = 0; i < 5; i++) await get('/v2.1/servers/detail');
const detail: number[] = [];
for (let i = 0; i < 40; i++) detail.push(await get('/v2.1/servers/detail'));
const rss1000 = rssMb();
// The floor on this machine right now: the same rows straight from SQLite, serialized.
const raw = new SQLite(join(dir, 'kestrel.sqlite'), { readonly: true });
const stmt = raw.prepare(
  'SELECT * FROM instances WHERE deleted = 0 AND project_id = ? ORDER BY created_at DESC',
);
const floor: number[] = [];
for (let i = 0; i < 40; i++) {
  const t = performance.now();
  JSON.stringify({ servers: stmt.all(boot.adminProjectId) });
  floor.push(performance.now() - t);
}
raw.close();
// The HTTP part of the same request: the very reply bytes, already built, sent by a fastify
// app with the API's options and fetched by the same client. What the service adds on top of
// the raw rows cannot go below this.
const detailReply = await (await fetch(`${base}/v2.1/servers/detail`, { headers })).text();
const http = Fastify(fastifyOptions(undefined, 1024 * 1024));
http.get('/reply', (_req, reply) => reply.type('application/json').send(detailReply));
await http.listen({ host: '127.0.0.1', port: 0 });
const httpBase = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
const httpOnly: number[] = [];
for (let i = 0; i < 45; i++) {
  const t = performance.now();
  const r = await fetch(`${httpBase}/reply`);
  await r.arrayBuffer();
  if (i >= 5) httpOnly.push(performance.now() - t);
}
await http.close();
const ratio = pct(detail, 50) / pct(floor, 50);
console.log(
  `GET /servers/detail (1,000 servers): p50 ${pct(detail, 50).toFixed(1)} ms, p99 ${pct(detail, 99).toFixed(1)} ms (target p50 ≤ 20 ms); floor (raw SELECT + JSON.stringify of the rows) p50 ${pct(floor, 50).toFixed(1)} ms (${ratio.toFixed(2)}× the floor); the same ${(detailReply.length / 1e6).toFixed(2)} MB reply prebuilt, over HTTP alone, p50 ${pct(httpOnly, 50).toFixed(1)} ms`,
);

const baselineRps = await cannon('/', false);
const getRps = await cannon('/v2.1/flavors/1', true);
console.log(
  `autocannon 10 connections × 5 s: GET /v2.1/flavors/1 (token) ${getRps.toFixed(0)} req/s (target ≥ 2,000); baseline GET / (no auth, no DB) ${baselineRps.toFixed(0)} req/s`,
);
console.log(
  `RSS in this process (bench client and tsx included): idle ${rssIdle} MB, with 1,000 servers ${rss1000} MB`,
);

await core.close();
await driver.close();
await db.close();
rmSync(dir, { recursive: true, force: true });

// --- the service alone, as deployed ----------------------------------------------------
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = process.env.KESTREL_DIST ?? join(root, 'dist');
const built = existsSync(join(dist, 'service', 'core.js'));
// The V8 flags bin/kestrel starts node with (its `#!/usr/bin/env -S node …` line).
const shebang = readFileSync(join(root, 'bin', 'kestrel'), 'utf8').split('\n', 1)[0];
const shippedFlags = /^#!\S*env -S node(.*)$/.exec(shebang)?.[1].trim().split(/\s+/).filter(Boolean) ?? [];
const child = fork(join(root, 'bench', 'api-rss-child.mjs'), [built ? dist : join(root, 'src')], {
  execArgv: [...shippedFlags, '--expose-gc', ...(built ? [] : ['--import', 'tsx'])],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const replies: unknown[] = [];
let wake: (() => void) | undefined;
child.on('message', (m) => {
  replies.push(m);
  wake?.();
});
const reply = async <T>(msg?: string): Promise<T> => {
  if (msg) child.send(msg);
  while (replies.length === 0) {
    await new Promise<void>((resolve, reject) => {
      wake = resolve;
      child.once('exit', (code) => reject(new Error(`bench: the RSS child exited (${code})`)));
    });
  }
  return replies.shift() as T;
};
type Mem = { rss: number; heapUsed: number; external: number };
const { port, token: childToken } = await reply<{ port: number; token: string }>();
const childGet = async (path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-auth-token': childToken } });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`child ${path}: ${r.status}`);
};
for (let i = 0; i < 50; i++) await childGet('/v2.1/flavors/1');
const alone = await reply<Mem>('rss');
await reply('insert');
for (let i = 0; i < 20; i++) await childGet('/v2.1/servers/detail');
const alone1000 = await reply<Mem>('rss');
child.send('stop');
await new Promise((resolve) => child.once('exit', resolve));
console.log(
  `the service alone (${built ? `built, ${dist}` : 'sources through tsx: npm run build for the deployed figure'}; bin/kestrel's V8 flags: ${shippedFlags.join(' ') || 'none'}): RSS idle ${alone.rss} MB (heap ${alone.heapUsed} MB), with 1,000 servers ${alone1000.rss} MB (heap ${alone1000.heapUsed} MB; +${(alone1000.rss - alone.rss).toFixed(1)} MB); target ≤ 120 MB idle, ≤ +20 MB`,
);
console.log(
  `BENCH ${JSON.stringify({
    bench: 'api',
    servers_detail_p50_ms: +pct(detail, 50).toFixed(2),
    servers_detail_p99_ms: +pct(detail, 99).toFixed(2),
    baseline_raw_rows_p50_ms: +pct(floor, 50).toFixed(2),
    servers_detail_vs_raw_rows: +ratio.toFixed(2),
    baseline_prebuilt_reply_http_p50_ms: +pct(httpOnly, 50).toFixed(2),
    get_rps: Math.round(getRps),
    baseline_version_doc_rps: Math.round(baselineRps),
    rss_idle_mb: rssIdle,
    rss_1000_mb: rss1000,
    service_alone_built: built,
    service_alone_rss_idle_mb: alone.rss,
    service_alone_rss_1000_mb: alone1000.rss,
    service_alone_heap_idle_mb: alone.heapUsed,
    service_alone_v8_flags: shippedFlags.join(' '),
  })}`,
);
