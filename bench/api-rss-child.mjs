// The service alone in its own process, for bench/api.ts's RSS figures: no benchmark client,
// no autocannon in the heap. Runs the build in dist/ as bin/kestrel does (plain node), or the
// sources through tsx when there is no build. Talks to the parent over IPC:
//   → { port, token }            after listening
//   ← 'insert' → 'inserted'      1,000 ACTIVE servers in the admin project
//   ← 'rss'    → { rss, heapUsed, external }  (MB, after a full GC when run with --expose-gc)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const lib = process.argv[2]; // …/dist or …/src
const load = (m) => import(pathToFileURL(join(lib, m)).href);
const { openDatabase } = await load('db/index.js');
const { FakeDriver } = await load('virt/fake/driver.js');
const { FileImageStore } = await load('images/store/file.js');
const { createCore } = await load('service/core.js');
const { bootstrap } = await load('service/bootstrap.js');

const dir = mkdtempSync(join(tmpdir(), 'kt-service-bench-rss-'));
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
await Promise.all([core.apps.identity.ready(), core.apps.image.ready()]);
await core.apps.compute.listen({ host: '127.0.0.1', port: 0 });
const { token } = await core.repos.identity.issueToken({
  userId: boot.adminUserId,
  projectId: boot.adminProjectId,
  methods: ['password'],
  ttlSeconds: 3600,
});

const mb = (n) => +(n / 1024 / 1024).toFixed(1);
process.on('message', async (msg) => {
  if (msg === 'rss') {
    global.gc?.();
    const m = process.memoryUsage();
    process.send({ rss: mb(m.rss), heapUsed: mb(m.heapUsed), external: mb(m.external) });
  } else if (msg === 'insert') {
    const flavor = await core.repos.flavors.get('1');
    const snapshot = { ...flavor, extraSpecs: {} };
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
        });
      }
    });
    process.send('inserted');
  } else if (msg === 'stop') {
    await core.close();
    await driver.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
    process.disconnect();
  }
});
process.send({ port: core.apps.compute.server.address().port, token });
