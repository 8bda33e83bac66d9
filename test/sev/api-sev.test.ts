// SEV through the Compute API (fastify inject) on an in-process Kestrel whose fake host has
// SEV (recorded Milan domain capabilities, 2 slots): every create-time refusal is a 400 with
// its message, suspend and live migration of an SEV server are 409, cold migration, shelve
// and snapshot are not refused for SEV, and os-hypervisors shows the slots used / total.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSevApi, type SevApi } from './harness.js';

const message = (b: Record<string, unknown>) =>
  String((Object.values(b)[0] as { message?: string } | undefined)?.message ?? '');

describe('SEV through the Compute API', () => {
  let api: SevApi;
  let sevFlavor: string;
  let plainFlavor: string;
  let goodImage: string;
  before(async () => {
    api = await startSevApi(2);
    sevFlavor = await api.flavor('kt.sev', { 'hw:mem_encryption': 'true' });
    plainFlavor = await api.flavor('kt.plain', {});
    goodImage = await api.image('sev-good', { hw_firmware_type: 'uefi', hw_machine_type: 'q35' });
  });
  after(async () => {
    await api.close();
  });

  const refusals: [string, Record<string, string>, string | undefined, RegExp][] = [
    [
      'flavor true, image false',
      { hw_mem_encryption: 'false', hw_firmware_type: 'uefi', hw_machine_type: 'q35' },
      'sev',
      /Flavor kt.sev has hw:mem_encryption extra spec explicitly set to true, conflicting with image .* explicitly set to false/,
    ],
    [
      'BIOS image',
      { hw_machine_type: 'q35' },
      'sev',
      /doesn't have 'hw_firmware_type' property set to 'uefi'/,
    ],
    [
      'pc machine type',
      { hw_firmware_type: 'uefi', hw_machine_type: 'pc' },
      'sev',
      /needs the q35 machine type, but image property hw_machine_type=pc/,
    ],
    [
      'default machine type (no image property, no config)',
      { hw_firmware_type: 'uefi' },
      'sev',
      /default machine type for x86_64 \(pc/,
    ],
    [
      'IDE boot disk',
      { hw_firmware_type: 'uefi', hw_machine_type: 'q35', hw_disk_bus: 'ide' },
      'sev',
      /hw_disk_bus=ide/,
    ],
    [
      'scsi without virtio-scsi',
      { hw_firmware_type: 'uefi', hw_machine_type: 'q35', hw_disk_bus: 'scsi' },
      'sev',
      /hw_scsi_model=virtio-scsi/,
    ],
    ['image asks, BIOS', { hw_mem_encryption: 'yes' }, undefined, /Memory encryption requested by image/],
  ];
  for (const [name, props, flavor, re] of refusals) {
    test(`create refused (400): ${name}`, async () => {
      const img = await api.image(`sev-${name.replace(/\W+/g, '-')}`, props);
      const r = await api.boot('kt-sev-refused', img, flavor === 'sev' ? sevFlavor : plainFlavor);
      assert.equal(r.status, 400, r.text);
      assert.match(message(r.body), re);
    });
  }

  test('create refused (400): PCI passthrough on an SEV flavor', async () => {
    const f = await api.flavor('kt.sev.pci', {
      'hw:mem_encryption': 'true',
      'pci_passthrough:alias': 'gpu:1',
    });
    const r = await api.boot('kt-sev-pci', goodImage, f);
    assert.equal(r.status, 400, r.text);
    assert.match(message(r.body), /pci_passthrough:alias=gpu:1/);
  });

  test('an SEV server boots; suspend and live migration are 409; others are not refused for SEV', async () => {
    const r = await api.boot('kt-sev-ok', goodImage, sevFlavor);
    assert.equal(r.status, 202, r.text);
    const id = String((r.body.server as { id: string }).id);
    await api.waitFor(id, (s) => s.status === 'ACTIVE');
    const suspend = await api.call('compute', 'POST', `/v2.1/servers/${id}/action`, { suspend: null });
    assert.equal(suspend.status, 409, suspend.text);
    assert.equal(
      message(suspend.body),
      `Operation 'suspend' is not supported for an SEV-enabled instance (${id}): its memory is encrypted with a key held by this host's AMD secure processor, so it cannot be saved or moved while running. Fix: stop the instance (os-stop) instead; it keeps its disk and boots again on start.`,
    );
    const live = await api.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
      'os-migrateLive': { host: null, block_migration: 'auto' },
    });
    assert.equal(live.status, 409, live.text);
    assert.match(
      message(live.body),
      /^Operation 'live-migration' is not supported for an SEV-enabled instance/,
    );
    for (const body of [{ migrate: null }, { shelve: null }, { createImage: { name: 'kt-sev-snap' } }]) {
      const a = await api.call('compute', 'POST', `/v2.1/servers/${id}/action`, body);
      assert.doesNotMatch(message(a.body), /SEV-enabled/, `${Object.keys(body)[0]}: ${a.text}`);
    }
    // os-hypervisors: slots used / total.
    const hv = await api.call('compute', 'GET', '/v2.1/os-hypervisors/detail');
    const h = (hv.body.hypervisors as Record<string, unknown>[])[0];
    // Kestrel's figures travel inside cpu_info (Nova's hypervisor schema allows no extra keys).
    assert.equal('mem_encryption_slots' in h, false);
    const kestrel = (JSON.parse(String(h.cpu_info)) as { kestrel: Record<string, number> }).kestrel;
    assert.equal(kestrel.mem_encryption_slots, 2);
    assert.equal(kestrel.mem_encryption_slots_used, 1);
  });

  test('the host slot limit holds at the API: a third SEV server on 2 slots has no valid host', async () => {
    const first = await api.boot('kt-sev-2', goodImage, sevFlavor);
    const id2 = String((first.body.server as { id: string }).id);
    await api.waitFor(id2, (s) => s.status === 'ACTIVE');
    const third = await api.boot('kt-sev-3', goodImage, sevFlavor);
    const id3 = String((third.body.server as { id: string }).id);
    const s = await api.waitFor(id3, (v) => v.status === 'ERROR');
    assert.match(JSON.stringify(s.fault ?? {}), /MEM_ENCRYPTION_CONTEXT: 1 requested, 0 free of 2/);
  });
});
