// The all-in-one service (startService) with the production libvirt driver and one storage
// configuration, driven through the Compute and Image APIs with inject(): boot the demo
// boot-sector image (TCG), read its serial console, delete. Domains are named
// `<tag>-<uuid>`; the state directory is a temp dir under /tmp; stop() removes every guest,
// the service and the directory (storage outside it — LVs, RBD images — is the caller's).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LibvirtClient } from '../../src/libvirt/index.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { parseConfigText, type KestrelConfig } from '../../src/config/index.js';
import { startService, type RunningService } from '../../src/service/service.js';
import { cephSecretFromConfig, type StorageTestHooks } from '../../src/service/storage.js';
import type { Logger } from '../../src/util/log.js';
import { testImages } from '../virt/libvirt-harness.js';
import { injectApi } from '../api/harness.js';

export type Server = Record<string, unknown>;
/** A parsed API response body; the tests' assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any;

export interface Kestrel {
  svc: RunningService;
  config: KestrelConfig;
  driver: LibvirtDriver;
  client: LibvirtClient;
  dir: string;
  token: string;
  imageId: string;
  flavorRef: string;
  compute(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; text: string; body: Body; headers: Record<string, unknown> }>;
  imageApi(
    method: string,
    url: string,
    body?: { json?: unknown; data?: Buffer; patch?: unknown[] },
  ): Promise<{ status: number; body: Body }>;
  boot(name: string, imageRef?: string): Promise<string>;
  /** This host's local_gb in os-hypervisors (placement's DISK_GB total). */
  localGb(): Promise<number>;
  waitFor(id: string, status: string, ms?: number): Promise<Server>;
  consoleHas(id: string, text: string, ms?: number): Promise<string>;
  deleteServer(id: string): Promise<void>;
  stop(): Promise<void>;
}

export interface KestrelOptions {
  tag: string;
  /** Extra nova.conf lines (e.g. a [libvirt] images_type block). */
  conf: string[];
  /** The test flavor's root disk in GiB (0 = the image's own size). */
  diskGb?: number;
  /** The test flavor's ephemeral disk (GiB) and swap disk (MiB); none by default. */
  ephemeralGb?: number;
  swapMb?: number;
  hooks?: StorageTestHooks;
  logger?: Logger;
}

export async function startKestrel(o: KestrelOptions): Promise<Kestrel> {
  const images = testImages();
  const dir = mkdtempSync(join('/tmp', `${o.tag}-`));
  chmodSync(dir, 0o755); // libvirt-qemu must reach the disks
  const password = `${o.tag}-pw`;
  const parsed = parseConfigText(
    [
      '[network]',
      'enabled = false', // this test's guests need no NICs
      '[DEFAULT]',
      `state_path = ${join(dir, 'state')}`,
      `instances_path = ${join(dir, 'instances')}`,
      `host = ${o.tag}-host`,
      'reserved_host_memory_mb = 0',
      '[api]',
      `admin_password = ${password}`,
      'listen_host = 127.0.0.1',
      ...o.conf,
      '',
    ].join('\n'),
  );
  assert.deepEqual(parsed.errors, [], 'the test configuration is valid');
  const config = parsed.config;
  const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
  const driver = new LibvirtDriver({
    client,
    virtType: 'qemu',
    cpuMode: 'none',
    namePrefix: `${o.tag}-`,
    instancesPath: config.DEFAULT.instances_path,
    // As `kestrel serve` wires it (src/cli/commands/serve.ts).
    rbdSecret: cephSecretFromConfig(config),
  });
  const servers = new Set<string>();
  let svc: RunningService | undefined;
  const stopAll = async () => {
    for (const uuid of (await driver.list().catch(() => [])) ?? [])
      await driver.destroy(uuid).catch(() => undefined);
    await svc?.stop().catch(() => undefined);
    await driver.close().catch(() => undefined);
    await client.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await driver.init();
    svc = await startService({
      config,
      driver,
      ports: { identity: 0, compute: 0, image: 0 },
      testImagesDir: dirname(images.bootSector),
      startedTimeoutMs: 60_000,
      storageHooks: o.hooks,
      logger: o.logger,
    });
    assert.ok(svc.demoImage, 'the boot-sector image was imported');
  } catch (e) {
    await stopAll();
    throw e;
  }
  const s = svc;
  const login = await s.core.apps.identity.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  });
  assert.equal(login.statusCode, 201, login.body);
  const token = String(login.headers['x-subject-token']);
  const compute: Kestrel['compute'] = async (method, url, body) => {
    const r = await injectApi(s.core.apps.compute, method, url, { token, body });
    return {
      status: r.status,
      text: r.text,
      body: r.text ? JSON.parse(r.text) : undefined,
      headers: r.headers,
    };
  };
  const imageApi: Kestrel['imageApi'] = async (method, url, body = {}) => {
    const r = await s.core.apps.image.inject({
      method: method as 'GET',
      url,
      headers: {
        'x-auth-token': token,
        ...(body.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body.data ? { 'content-type': 'application/octet-stream' } : {}),
        ...(body.patch ? { 'content-type': 'application/openstack-images-v2.1-json-patch' } : {}),
      },
      payload:
        body.json !== undefined
          ? JSON.stringify(body.json)
          : body.patch
            ? JSON.stringify(body.patch)
            : body.data,
    });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  const flavorRef = `${o.tag}-flavor`;
  const f = await compute('POST', '/v2.1/flavors', {
    flavor: {
      name: flavorRef,
      ram: 32,
      vcpus: 1,
      disk: o.diskGb ?? 1,
      id: flavorRef,
      ...(o.ephemeralGb ? { 'OS-FLV-EXT-DATA:ephemeral': o.ephemeralGb } : {}),
      ...(o.swapMb ? { swap: o.swapMb } : {}),
    },
  });
  assert.equal(f.status, 200, f.text);

  const waitFor: Kestrel['waitFor'] = async (id, status, ms = 90_000) => {
    const end = Date.now() + ms;
    let last: Server = {};
    while (Date.now() < end) {
      const r = await compute('GET', `/v2.1/servers/${id}`);
      if (status === 'DELETED' && r.status === 404) return {};
      last = r.body.server as Server;
      if (last.status === status && last['OS-EXT-STS:task_state'] === null) return last;
      if (last.status === 'ERROR' && status !== 'ERROR' && status !== 'DELETED')
        throw new Error(`server ${id} went to ERROR: ${JSON.stringify(last.fault)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(
      `server ${id} did not reach ${status}; last ${String(last.status)} ${JSON.stringify(last.fault ?? '')}`,
    );
  };
  return {
    svc: s,
    config,
    driver,
    client,
    dir,
    token,
    imageId: s.demoImage!,
    flavorRef,
    compute,
    imageApi,
    waitFor,
    async localGb() {
      const r = await compute('GET', '/v2.1/os-hypervisors/detail');
      const hv = (r.body.hypervisors as { hypervisor_hostname: string; local_gb: number }[]).find(
        (h) => h.hypervisor_hostname === `${o.tag}-host`,
      );
      assert.ok(hv, r.text);
      return hv.local_gb;
    },
    async boot(name, imageRef = s.demoImage) {
      const r = await compute('POST', '/v2.1/servers', {
        server: { name: `${o.tag}-${name}`, imageRef, flavorRef },
      });
      assert.equal(r.status, 202, r.text);
      const id = r.body.server.id as string;
      servers.add(id);
      return id;
    },
    async consoleHas(id, text, ms = 30_000) {
      const end = Date.now() + ms;
      let out = '';
      while (Date.now() < end) {
        const r = await compute('POST', `/v2.1/servers/${id}/action`, {
          'os-getConsoleOutput': { length: -1 },
        });
        out = r.status === 200 ? String(r.body.output) : '';
        if (out.includes(text)) return out;
        await new Promise((res) => setTimeout(res, 300));
      }
      throw new Error(`console of ${id} never showed ${text}; it showed ${JSON.stringify(out.slice(-200))}`);
    },
    async deleteServer(id) {
      const r = await compute('DELETE', `/v2.1/servers/${id}`);
      assert.equal(r.status, 204, r.text);
      await waitFor(id, 'DELETED');
      servers.delete(id);
    },
    async stop() {
      for (const id of servers) await compute('DELETE', `/v2.1/servers/${id}`).catch(() => undefined);
      await s.core.servers.settle().catch(() => undefined);
      await stopAll();
    },
  };
}
