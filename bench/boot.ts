// Boot cost of the whole path against the libvirt calls alone, on the real driver (TCG):
//   api: POST /v2.1/servers → ACTIVE (validate, instance row, schedule + claim, image cache,
//        qcow2 overlay, configurators → XML, define + start, started event)
//   raw: defineXML + create of the same domain XML (a prepared overlay, Kestrel's RPC client)
// Both single (median of 3, after a warm-up boot that fills the image cache) and 20 at once.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openDatabase } from '../src/db/index.js';
import { LibvirtDriver } from '../src/virt/libvirt/driver.js';
import { LibvirtClient, XmlFlags } from '../src/libvirt/index.js';
import { FileImageStore } from '../src/images/store/file.js';
import { ImageCache } from '../src/images/cache.js';
import { Qcow2OverlayDisks } from '../src/compute/disks.js';
import { createCore } from '../src/service/core.js';
import { bootstrap } from '../src/service/bootstrap.js';
import type { RequestContext } from '../src/control/context.js';
import { runChecked } from '../src/util/run.js';

const BOOT_IMG = join(process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images', 'boot.img');
if (!existsSync(BOOT_IMG) || !existsSync('/run/libvirt/libvirt-sock')) {
  console.error(
    `boot bench needs libvirtd and ${BOOT_IMG} (scripts/start-libvirt, scripts/build-test-images)`,
  );
  process.exit(2);
}
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20);
const tag = `kt-service-bench-${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(`/tmp/${tag}-`);
chmodSync(dir, 0o711);
const instancesPath = join(dir, 'instances');
mkdirSync(instancesPath, { recursive: true, mode: 0o711 });

const db = await openDatabase({ statePath: dir });
const driver = new LibvirtDriver({ virtType: 'qemu', instancesPath });
await driver.init();
const store = new FileImageStore({ directory: join(dir, 'images'), fsync: false });
const cache = new ImageCache({ instancesPath, source: { open: (id) => store.get(id) } });
const core = await createCore({
  db,
  driver,
  imageStore: store,
  disks: new Qcow2OverlayDisks(instancesPath, cache),
  hostName: tag,
  instancesPath,
  endpoints: () => ({ identity: '', compute: '', image: '', region: 'RegionOne' }),
  startedTimeoutMs: 120_000,
});
const boot = await bootstrap(core.repos, {
  adminUser: 'admin',
  adminProject: 'admin',
  adminPassword: 'benchpw',
});
const ctx: RequestContext = {
  userId: boot.adminUserId,
  userName: 'admin',
  projectId: boot.adminProjectId,
  projectName: 'admin',
  roles: ['admin'],
  isAdmin: true,
  requestId: 'req-bench',
};
const { createReadStream } = await import('node:fs');
const image = await core.images.create(ctx, { name: 'boot', disk_format: 'raw', container_format: 'bare' });
await core.images.upload(ctx, image.id, createReadStream(BOOT_IMG));
const { token } = await core.repos.identity.issueToken({
  userId: boot.adminUserId,
  projectId: boot.adminProjectId,
  methods: ['password'],
  ttlSeconds: 3600,
});
const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
const apiServers: string[] = [];
const rawDomains: string[] = [];

async function apiBoot(): Promise<number> {
  const t = performance.now();
  const r = await core.apps.compute.inject({
    method: 'POST',
    url: '/v2.1/servers',
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    payload: JSON.stringify({ server: { name: `${tag}-vm`, imageRef: image.id, flavorRef: '0' } }),
  });
  if (r.statusCode !== 202) throw new Error(`POST /servers: ${r.statusCode} ${r.body}`);
  const id = (JSON.parse(r.body) as { server: { id: string } }).server.id;
  apiServers.push(id);
  for (;;) {
    const inst = await core.repos.instances.get(id);
    if (inst?.vmState === 'active') return performance.now() - t;
    if (inst?.vmState === 'error') {
      const f = (await core.repos.instances.latestFaults([id])).get(id);
      throw new Error(`boot failed: ${f?.message}`);
    }
    await new Promise((res) => setTimeout(res, 5));
  }
}

let template = '';
let templateUuid = '';
async function rawBoot(): Promise<number> {
  const uuid = randomUUID();
  const diskDir = join(instancesPath, uuid);
  mkdirSync(diskDir, { recursive: true });
  await runChecked([
    'qemu-img',
    'create',
    '-q',
    '-f',
    'qcow2',
    '-F',
    'raw',
    '-b',
    cache.basePath(image.id),
    join(diskDir, 'disk'),
    '1G',
  ]);
  const xml = template.split(templateUuid).join(uuid);
  const t = performance.now();
  const dom = await client.domains.defineXml(xml);
  rawDomains.push(uuid);
  await client.domains.create(dom);
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  await apiBoot(); // warm-up: fills the image cache
  templateUuid = apiServers[0];
  template = await client.domains.getXmlDesc(
    await client.domains.lookupByUuid(templateUuid),
    XmlFlags.INACTIVE,
  );
  const api1: number[] = [];
  const raw1: number[] = [];
  for (let i = 0; i < 3; i++) {
    api1.push(await apiBoot());
    raw1.push(await rawBoot());
  }
  console.log(
    `single boot: api ${median(api1).toFixed(0)} ms, raw define+start ${median(raw1).toFixed(0)} ms (medians of 3)`,
  );
  let t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, () => apiBoot()));
  const apiN = performance.now() - t;
  t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, () => rawBoot()));
  const rawN = performance.now() - t;
  console.log(
    `${CONCURRENT} at once: api ${apiN.toFixed(0)} ms until all ACTIVE, raw ${rawN.toFixed(0)} ms until all started`,
  );
  const out = {
    bench: 'boot',
    api_ms: Math.round(median(api1)),
    raw_ms: Math.round(median(raw1)),
    ratio: +(median(api1) / median(raw1)).toFixed(2),
    concurrent: CONCURRENT,
    concurrent_api_ms: Math.round(apiN),
    concurrent_raw_ms: Math.round(rawN),
    concurrent20_ratio: +(apiN / rawN).toFixed(2),
  };
  console.log(`BENCH ${JSON.stringify(out)}`);
} finally {
  for (const id of apiServers) {
    await core.apps.compute.inject({
      method: 'DELETE',
      url: `/v2.1/servers/${id}`,
      headers: { 'x-auth-token': token },
    });
  }
  await core.servers.settle();
  for (const uuid of rawDomains) {
    try {
      const dom = await client.domains.lookupByUuid(uuid);
      await client.domains.destroy(dom).catch(() => undefined);
      await client.domains.undefine(dom).catch(() => undefined);
    } catch {
      // already gone
    }
  }
  await client.close();
  await core.close();
  await driver.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
