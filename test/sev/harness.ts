// An in-process Kestrel whose (fake) host offers AMD SEV: the fake driver builds guests
// through the real configurators with the recorded Milan domain capabilities, and reports
// MEM_ENCRYPTION_CONTEXT slots and HW_CPU_X86_AMD_SEV. APIs are called by inject().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/index.js';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { FileImageStore } from '../../src/images/store/file.js';
import type { RootDisks } from '../../src/compute/disks.js';
import type { HostStatus } from '../../src/virt/driver.js';
import { createCore, type Core } from '../../src/service/core.js';
import { bootstrap } from '../../src/service/bootstrap.js';
import { sevHost } from './fixtures.js';

class NameOnlyDisks implements RootDisks {
  async create(uuid: string) {
    return { kind: 'file' as const, path: `/nonexistent/kt-sev/${uuid}/disk`, format: 'qcow2' as const };
  }
  async delete() {}
  async exportTo() {}
}

/** The fake hypervisor on an SEV host with `slots` memory-encryption slots. */
export class SevFakeDriver extends FakeDriver {
  constructor(private readonly slots: number) {
    // The recorded host (Debian's OVMF descriptors list amd-sev) with the Milan SEV domcaps.
    super({
      host: sevHost(),
      bootMessage: 'SEV-GUEST',
    });
  }
  override async hostStatus(): Promise<HostStatus> {
    const s = await super.hostStatus();
    return { ...s, memEncryptionSlots: this.slots, traits: [...s.traits, 'HW_CPU_X86_AMD_SEV'].sort() };
  }
}

export interface SevApi {
  core: Core;
  admin: string;
  call(
    api: 'compute' | 'image',
    method: string,
    url: string,
    body?: unknown,
    payload?: Buffer,
  ): Promise<{ status: number; body: Record<string, unknown>; text: string }>;
  image(name: string, properties: Record<string, string>): Promise<string>;
  flavor(name: string, extraSpecs: Record<string, string>): Promise<string>;
  boot(
    name: string,
    imageRef: string,
    flavorRef: string,
  ): Promise<{ status: number; body: Record<string, unknown>; text: string }>;
  waitFor(
    id: string,
    pred: (s: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startSevApi(slots = 2): Promise<SevApi> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sev-api-'));
  const db = await openDatabase({ statePath: dir });
  const driver = new SevFakeDriver(slots);
  await driver.init();
  const core = await createCore({
    db,
    driver,
    imageStore: new FileImageStore({ directory: join(dir, 'images'), fsync: false }),
    disks: new NameOnlyDisks(),
    hostName: 'kt-sev-node1',
    instancesPath: join(dir, 'instances'),
    endpoints: () => ({
      identity: 'http://127.0.0.1:5000/v3',
      compute: 'http://127.0.0.1:8774/v2.1',
      image: 'http://127.0.0.1:9292',
      region: 'RegionOne',
    }),
    startedTimeoutMs: 5000,
  });
  await bootstrap(core.repos, { adminUser: 'admin', adminProject: 'admin', adminPassword: 'adminpw' });
  const login = await core.apps.identity.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'adminpw' } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    },
  });
  const admin = String(login.headers['x-subject-token']);
  const call: SevApi['call'] = async (api, method, url, body, payload) => {
    const headers: Record<string, string> = { 'x-auth-token': admin };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (payload) headers['content-type'] = 'application/octet-stream';
    const r = await core.apps[api].inject({
      method: method as 'GET',
      url,
      headers,
      payload: payload ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    let parsed: Record<string, unknown> = {};
    try {
      parsed = r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    return { status: r.statusCode, body: parsed, text: r.body };
  };
  const mbr = Buffer.alloc(1024 * 1024);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const api: SevApi = {
    core,
    admin,
    call,
    async image(name, properties) {
      const c = await call('image', 'POST', '/v2/images', {
        name,
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
        ...properties,
      });
      if (c.status !== 201) throw new Error(`image create: ${c.status} ${c.text}`);
      const id = String(c.body.id);
      const u = await call('image', 'PUT', `/v2/images/${id}/file`, undefined, mbr);
      if (u.status !== 204) throw new Error(`image upload: ${u.status} ${u.text}`);
      return id;
    },
    async flavor(name, extraSpecs) {
      const f = await call('compute', 'POST', '/v2.1/flavors', {
        flavor: { name, ram: 256, vcpus: 1, disk: 1 },
      });
      if (f.status !== 200) throw new Error(`flavor create: ${f.status} ${f.text}`);
      const id = String((f.body.flavor as { id: string }).id);
      if (Object.keys(extraSpecs).length) {
        const e = await call('compute', 'POST', `/v2.1/flavors/${id}/os-extra_specs`, {
          extra_specs: extraSpecs,
        });
        if (e.status !== 200) throw new Error(`extra specs: ${e.status} ${e.text}`);
      }
      return id;
    },
    boot(name, imageRef, flavorRef) {
      return call('compute', 'POST', '/v2.1/servers', { server: { name, imageRef, flavorRef } });
    },
    async waitFor(id, pred, ms = 10_000) {
      const end = Date.now() + ms;
      let last: Record<string, unknown> = {};
      while (Date.now() < end) {
        last = (await call('compute', 'GET', `/v2.1/servers/${id}`)).body.server as Record<string, unknown>;
        if (last && pred(last)) return last;
        await new Promise((r) => setTimeout(r, 20));
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
  return api;
}
