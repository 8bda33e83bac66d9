// Boot cost of the whole path against the libvirt calls alone, on the real driver (TCG):
//   api: POST /v2.1/servers → ACTIVE (validate, instance row, schedule + claim, image cache,
//        qcow2 overlay, configurators → XML, define + start, started event)
//   raw: the same disk prep (qcow2 overlay on the cached base), then defineXML + create of
//        the same domain XML with Kestrel's RPC client, until libvirt's "started" event —
//        the event the API path waits for too.
// Both single (median of 3, after a warm-up boot that fills the image cache) and 20 at once.
// First console byte: POST → the guest's first serial output readable through the API
// (os-getConsoleOutput), and raw create → first byte in console.log for Kestrel's XML against
// the same XML with libvirt's default USB controller (what Kestrel rendered before it disabled
// the controller nobody uses, as Nova does), interleaved.
// Agent transports: POST → ACTIVE with control reaching the agent in-process against the same
// through the JSON loopback (every call, reply and report serialised), interleaved pairs in the
// same service: the contract's cost.
// The api figure is taken when the build finishes (vm_state active), observed through the
// manager's "started" waiters resolving; the phases of the median boot are printed from the
// instance action's events.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openDatabase } from '../src/db/index.js';
import { LibvirtDriver } from '../src/virt/libvirt/driver.js';
import { LibvirtClient, XmlFlags } from '../src/libvirt/index.js';
import { FileImageStore } from '../src/images/store/file.js';
import { ImageCache } from '../src/images/cache.js';
import { Qcow2OverlayDisks } from '../src/compute/disks.js';
import { createCore } from '../src/service/core.js';
import { LoopbackAgent } from '../src/compute/contract/loopback.js';
import type { ComputeAgent } from '../src/compute/contract/agent.js';
import { bootstrap } from '../src/service/bootstrap.js';
import type { RequestContext } from '../src/control/context.js';
import type { LifecycleEvent } from '../src/virt/driver.js';

const BOOT_IMG = join(process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images', 'boot.img');
if (!existsSync(BOOT_IMG) || !existsSync('/run/libvirt/libvirt-sock')) {
  console.error(
    `boot bench needs libvirtd and ${BOOT_IMG} (scripts/start-libvirt, scripts/build-test-images)`,
  );
  process.exit(2);
}
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20);
const AGENT_PAIRS = Number(process.env.BENCH_AGENT_PAIRS ?? 7);
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
const disks = new Qcow2OverlayDisks(instancesPath, cache);
const core = await createCore({
  db,
  driver,
  imageStore: store,
  disks,
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
const imageSize = (await core.repos.images.get(image.id))?.virtualSize ?? null;
const rootBytes = ((await core.repos.flavors.get('0'))?.rootGb ?? 1) * 1024 ** 3;
const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
const apiServers: string[] = [];
const rawDomains: string[] = [];

/** POSTs `count` servers at once; resolves when every build has finished (no polling). */
async function apiBoot(count = 1): Promise<{ ms: number; ids: string[]; postedAt: number }> {
  const postedAt = Date.now();
  const t = performance.now();
  const ids = await Promise.all(
    Array.from({ length: count }, async () => {
      const r = await core.apps.compute.inject({
        method: 'POST',
        url: '/v2.1/servers',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        payload: JSON.stringify({ server: { name: `${tag}-vm`, imageRef: image.id, flavorRef: '0' } }),
      });
      if (r.statusCode !== 202) throw new Error(`POST /servers: ${r.statusCode} ${r.body}`);
      const id = (JSON.parse(r.body) as { server: { id: string } }).server.id;
      apiServers.push(id);
      return id;
    }),
  );
  // The builds run in the service's background set: settle() resolves as the last one ends.
  await core.servers.settle();
  const ms = performance.now() - t;
  for (const id of ids) {
    const inst = await core.repos.instances.get(id);
    if (inst?.vmState !== 'active') {
      const f = (await core.repos.instances.latestFaults([id])).get(id);
      throw new Error(`boot of ${id} ended ${inst?.vmState}: ${f?.message}`);
    }
  }
  return { ms, ids, postedAt };
}

/** DELETEs the servers and waits until they are gone. */
async function deleteServers(ids: string[]): Promise<void> {
  for (const id of ids) {
    await core.apps.compute.inject({
      method: 'DELETE',
      url: `/v2.1/servers/${id}`,
      headers: { 'x-auth-token': token },
    });
    apiServers.splice(apiServers.indexOf(id), 1);
  }
  await core.settle();
}

let template = '';
let templateUuid = '';
const rawStarted = new Map<string, () => void>();
driver.events.on('lifecycle', (e: LifecycleEvent) => {
  if (e.kind === 'started') rawStarted.get(e.uuid)?.();
});
async function rawBoot(edit: (xml: string) => string = (x) => x): Promise<number> {
  const uuid = randomUUID();
  const started = new Promise<void>((resolve) => rawStarted.set(uuid, resolve));
  const t = performance.now();
  // The same disk prep as the API path: the service's own overlay disks on the cached base.
  await disks.create(uuid, { id: image.id, diskFormat: 'raw', virtualSize: imageSize }, rootBytes);
  const xml = edit(template.split(templateUuid).join(uuid));
  const dom = await client.domains.defineXml(xml);
  rawDomains.push(uuid);
  await client.domains.create(dom);
  await started;
  rawStarted.delete(uuid);
  return performance.now() - t;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ms from create to the first byte in console.log, for the template edited by `edit`. */
async function rawFirstByte(edit: (xml: string) => string): Promise<number> {
  const uuid = randomUUID();
  await disks.create(uuid, { id: image.id, diskFormat: 'raw', virtualSize: imageSize }, rootBytes);
  const dom = await client.domains.defineXml(edit(template.split(templateUuid).join(uuid)));
  rawDomains.push(uuid);
  const log = join(instancesPath, uuid, 'console.log');
  const t = performance.now();
  await client.domains.create(dom);
  while (!(existsSync(log) && statSync(log).size > 0)) {
    if (performance.now() - t > 120_000) throw new Error(`no console output in ${log} after 120 s`);
    await sleep(2);
  }
  const ms = performance.now() - t;
  await client.domains.destroy(dom).catch(() => undefined);
  return ms;
}

/** ms from POST to the first console output through the API (os-getConsoleOutput). */
async function apiFirstByte(): Promise<{ activeMs: number; consoleMs: number }> {
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
  let activeMs = 0;
  for (;;) {
    if (performance.now() - t > 120_000) throw new Error(`server ${id}: no console output after 120 s`);
    if (!activeMs && (await core.repos.instances.get(id))?.vmState === 'active')
      activeMs = performance.now() - t;
    if (activeMs) {
      const c = await core.apps.compute.inject({
        method: 'POST',
        url: `/v2.1/servers/${id}/action`,
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        payload: JSON.stringify({ 'os-getConsoleOutput': {} }),
      });
      if (c.statusCode === 200 && (JSON.parse(c.body) as { output: string }).output.length > 0)
        return { activeMs, consoleMs: performance.now() - t };
    }
    await sleep(5);
  }
}

/** Kestrel's XML with libvirt's default USB controller instead of the disabled one. */
const withDefaultUsb = (xml: string): string =>
  xml.replace(/<controller type=["']usb["'][^>]*?(\/>|>[\s\S]*?<\/controller>)/, '');

/** ms from POST to the start and end of each phase of a server's create action. */
async function phasesOf(id: string, postedAt: number): Promise<string> {
  const [action] = await core.repos.instances.listActions(id);
  const full = await core.repos.instances.getAction(id, action.requestId);
  const at = (iso: string | null) => (iso ? (Date.parse(iso) - postedAt).toFixed(0) : '?');
  return (full?.events ?? [])
    .map((e) => `  ${e.event}: ${at(e.startTime)} → ${at(e.finishTime)} ms`)
    .join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  await apiBoot(); // warm-up: fills the image cache
  templateUuid = apiServers[0];
  template = await client.domains.getXmlDesc(
    await client.domains.lookupByUuid(templateUuid),
    XmlFlags.INACTIVE,
  );
  const api1: { ms: number; ids: string[]; postedAt: number }[] = [];
  const raw1: number[] = [];
  for (let i = 0; i < 3; i++) {
    api1.push(await apiBoot());
    raw1.push(await rawBoot());
  }
  const apiMedian = [...api1].sort((a, b) => a.ms - b.ms)[1];
  console.log(
    `single boot: api ${apiMedian.ms.toFixed(0)} ms, raw overlay+define+start→started ${median(raw1).toFixed(0)} ms (medians of 3)`,
  );
  console.log(
    `phases of the median api boot (ms after POST):\n${await phasesOf(apiMedian.ids[0], apiMedian.postedAt)}`,
  );
  const inProcess: number[] = [];
  const loopback: number[] = [];
  for (let i = 0; i < AGENT_PAIRS; i++) {
    // Alternating which goes first, so drift on this shared machine falls on both sides.
    const order = i % 2 === 0 ? (['in-process', 'loopback'] as const) : (['loopback', 'in-process'] as const);
    for (const kind of order) {
      core.useAgentTransport(kind);
      const b = await apiBoot();
      (kind === 'loopback' ? loopback : inProcess).push(b.ms);
      // Deleted again at once: the host's capacity stays what the later figures expect.
      await deleteServers(b.ids);
    }
  }
  core.useAgentTransport('in-process');
  const agentRatio = median(loopback) / median(inProcess);
  // The contract's own cost, without a guest: one cast through each transport to an agent
  // that accepts at once (what the loopback adds is encode, decode and the plain-data check).
  const stubAgent = {
    host: 'kt-bench-stub',
    build: async () => ({ accepted: true }),
  } as unknown as ComputeAgent;
  const stubLoop = new LoopbackAgent(stubAgent);
  const perCall = async (a: ComputeAgent) => {
    const n = 20_000;
    const t0 = performance.now();
    for (let k = 0; k < n; k++) await a.build({ instanceUuid: randomUUID(), actionId: 'bench' });
    return ((performance.now() - t0) * 1000) / n;
  };
  const directUs = await perCall(stubAgent);
  const loopUs = await perCall(stubLoop);
  console.log(
    `agent transport, POST → ACTIVE (medians of ${AGENT_PAIRS}): in-process ${median(inProcess).toFixed(0)} ms, JSON loopback ${median(loopback).toFixed(0)} ms, ratio ${agentRatio.toFixed(3)}; one cast alone: direct ${directUs.toFixed(1)} µs, loopback ${loopUs.toFixed(1)} µs`,
  );
  const firstNone: number[] = [];
  const firstUsb: number[] = [];
  const api1st: { activeMs: number; consoleMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    firstNone.push(await rawFirstByte((x) => x));
    firstUsb.push(await rawFirstByte(withDefaultUsb));
    api1st.push(await apiFirstByte());
  }
  const apiConsole = median(api1st.map((a) => a.consoleMs));
  const apiActive = median(api1st.map((a) => a.activeMs));
  console.log(
    `first console byte after create (raw, medians of 3): Kestrel's XML ${median(firstNone).toFixed(0)} ms, with libvirt's default USB controller ${median(firstUsb).toFixed(0)} ms`,
  );
  console.log(
    `through the API (medians of 3): POST → ACTIVE ${apiActive.toFixed(0)} ms, POST → first console output readable ${apiConsole.toFixed(0)} ms`,
  );
  const apiN = (await apiBoot(CONCURRENT)).ms;
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, () => rawBoot()));
  const rawN = performance.now() - t;
  console.log(
    `${CONCURRENT} at once: api ${apiN.toFixed(0)} ms until all ACTIVE, raw ${rawN.toFixed(0)} ms until all started`,
  );
  const out = {
    bench: 'boot',
    api_ms: Math.round(apiMedian.ms),
    raw_ms: Math.round(median(raw1)),
    ratio: +(apiMedian.ms / median(raw1)).toFixed(2),
    concurrent: CONCURRENT,
    concurrent_api_ms: Math.round(apiN),
    concurrent_raw_ms: Math.round(rawN),
    concurrent20_ratio: +(apiN / rawN).toFixed(2),
    first_console_byte_ms: Math.round(median(firstNone)),
    first_console_byte_default_usb_ms: Math.round(median(firstUsb)),
    api_active_ms: Math.round(apiActive),
    api_first_console_output_ms: Math.round(apiConsole),
    agent_in_process_ms: Math.round(median(inProcess)),
    agent_loopback_ms: Math.round(median(loopback)),
    agent_loopback_ratio: +agentRatio.toFixed(3),
    agent_cast_direct_us: +directUs.toFixed(1),
    agent_cast_loopback_us: +loopUs.toFixed(1),
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
  await core.settle();
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
