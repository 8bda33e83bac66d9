// Every nova.conf example of the KVM guide (test/fixtures/config/guide-*.conf) and a typical
// operator's nova.conf load with no errors and give the values the guide intends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/index.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'config');
const load = (name: string): Promise<LoadedConfig> => loadConfig({ path: join(fixtures, name), env: {} });

describe("the guide's nova.conf examples are accepted", () => {
  test('every guide-*.conf and operator-*.conf has no errors', async () => {
    const names = (await readdir(fixtures)).filter((f) => /^(guide|operator)-.*\.conf$/.test(f));
    assert.ok(names.length >= 10);
    for (const name of names) assert.deepEqual((await load(name)).errors, [], name);
  });

  test('enable KVM', async () => {
    const { config } = await load('guide-enable-kvm.conf');
    assert.equal(config.DEFAULT.compute_driver, 'libvirt.LibvirtDriver');
    assert.equal(config.libvirt.virt_type, 'kvm');
  });

  test('custom CPU models in order, and extra flags', async () => {
    assert.deepEqual((await load('guide-custom-cpu-models.conf')).config.libvirt.cpu_models, [
      'Penryn',
      'IvyBridge',
      'Haswell',
      'Broadwell',
      'Skylake-Client',
    ]);
    const nested = (await load('guide-nested-custom.conf')).config.libvirt;
    assert.equal(nested.cpu_mode, 'custom');
    assert.deepEqual(nested.cpu_model_extra_flags, ['vmx', 'pcid']);
    assert.deepEqual((await load('guide-nested-host-model.conf')).config.libvirt.cpu_model_extra_flags, [
      'vmx',
    ]);
    assert.equal(
      (await load('guide-nested-host-passthrough.conf')).config.libvirt.cpu_mode,
      'host-passthrough',
    );
    assert.equal((await load('guide-cpu-mode-none.conf')).config.libvirt.cpu_mode, 'none');
  });

  test('SEV: key slots and q35, with no warning', async () => {
    const r = await load('guide-sev.conf');
    assert.equal(r.config.libvirt.num_memory_encrypted_guests, 15);
    assert.deepEqual(r.config.libvirt.hw_machine_type, { x86_64: 'q35' });
    assert.deepEqual(r.warnings, []);
  });

  test('backing storage: lvm with its volume group; raw read as flat with a warning', async () => {
    assert.equal((await load('guide-lvm.conf')).config.libvirt.images_volume_group, 'nova-vg');
    const raw = await load('guide-raw-deprecated.conf');
    assert.equal(raw.config.libvirt.images_type, 'flat');
    assert.equal(raw.warnings.length, 1);
  });

  test('direct download from Ceph', async () => {
    const r = await load('guide-rbd-direct-download.conf');
    assert.equal(r.config.glance.enable_rbd_download, true);
    assert.equal(r.config.glance.rbd_pool, 'images');
    assert.deepEqual(r.warnings, []);
  });

  test("an operator's nova.conf: other services' groups ignored, Nova-only options warned about", async () => {
    const r = await load('operator-nova.conf');
    assert.equal(r.config.DEFAULT.instances_path, '/var/lib/nova/instances');
    assert.equal(r.config.DEFAULT.cpu_allocation_ratio, 16);
    assert.equal(r.config.DEFAULT.resume_guests_state_on_host_boot, true);
    assert.deepEqual(r.config.libvirt.hw_machine_type, { x86_64: 'q35', aarch64: 'virt' });
    assert.equal(r.config.database.connection, 'sqlite:////var/lib/nova/kestrel.sqlite');
    const warned = r.warnings.map((w) => `${w.group}.${w.option}`);
    assert.ok(warned.includes('DEFAULT.transport_url'));
    assert.ok(warned.includes('database.connection'));
    assert.ok(!warned.some((w) => w.startsWith('keystone_authtoken') || w.startsWith('vnc')), warned.join());
  });
});
