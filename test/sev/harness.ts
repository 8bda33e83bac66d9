// An in-process Kestrel whose (fake) host offers AMD SEV: the fake driver builds guests
// through the real configurators with the recorded Milan domain capabilities, and reports
// MEM_ENCRYPTION_CONTEXT slots and HW_CPU_X86_AMD_SEV. The API harness (test/api/harness.ts)
// runs it; APIs are called by inject().
import { FakeDriver } from '../../src/virt/fake/driver.js';
import type { HostStatus } from '../../src/virt/driver.js';
import type { Core } from '../../src/service/core.js';
import { rawImage, startHarness, uploadImage } from '../api/harness.js';
import { sevHost } from './fixtures.js';

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
  // The API harness with an SEV host; every call here is the admin's.
  const h = await startHarness({
    driver: new SevFakeDriver(slots),
    hostName: 'kt-sev-node1',
    tempPrefix: 'kt-sev-api-',
  });
  const call: SevApi['call'] = async (api, method, url, body, payload) => {
    const r = await h.call(api, method, url, {
      token: h.admin,
      body,
      payload,
      headers: payload ? { 'content-type': 'application/octet-stream' } : undefined,
    });
    const parsed = r.body && typeof r.body === 'object' ? (r.body as Record<string, unknown>) : {};
    return { status: r.status, body: parsed, text: r.text };
  };
  const api: SevApi = {
    core: h.core,
    admin: h.admin,
    call,
    image: (name, properties) =>
      uploadImage(h, h.admin, name, rawImage(), { visibility: 'public', ...properties }),
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
    waitFor: (id, pred, ms) => h.waitFor(h.admin, id, pred, ms),
    close: () => h.close(),
  };
  return api;
}
