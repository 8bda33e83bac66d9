// The flavor's ephemeral and swap disks end to end below the API: blank bases formatted by the
// real mkfs.ext4 / mkswap in a real image cache, qcow2 overlays on them through the qcow2
// backend, and a boot-sector guest under TCG that libvirt starts with them as vdb and vdc.
// Not exercised here: the guest reading them (the boot-sector guest has no OS; the guest-side
// check would need a Linux test guest with virtio-blk and blkid in its initramfs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/util/run.js';
import { BackendDisks } from '../../src/compute/disks.js';
import { Qcow2Backend } from '../../src/images/backends/qcow2.js';
import { ImageCache } from '../../src/images/cache.js';
import { qemuImgInfo } from '../../src/images/qemu-img.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { waitFor } from './driver-conformance.js';
import { realDriverEnv, type RealEnv } from './libvirt-harness.js';

describe('ephemeral and swap disks on a real guest (qcow2 on cached blank bases)', () => {
  let env: RealEnv & { driver: LibvirtDriver };
  let driver: LibvirtDriver;
  before(async () => {
    env = await realDriverEnv('local');
    driver = env.driver;
  });
  after(async () => env?.cleanup());

  test('blank bases are formatted once, the disks overlay them, and the guest starts with vda, vdb and vdc', async () => {
    const cache = new ImageCache({
      instancesPath: env.workDir,
      source: { open: () => Promise.reject(new Error('no image is fetched in this test')) } as never,
    });
    const disks = new BackendDisks(new Qcow2Backend({ instancesPath: env.workDir }), cache);
    const spec = await env.bootSectorSpec();
    const flavor = { ephemeralGb: 1, swapMb: 64 };
    await disks.createLocal(spec.uuid, flavor);
    const local = await disks.localSources(spec.uuid, flavor);
    assert.deepEqual(
      local.map((d) => d.role),
      ['ephemeral', 'swap'],
    );
    const types: string[] = [];
    for (const d of local) {
      assert.equal(d.source.kind, 'file');
      const info = await qemuImgInfo((d.source as { path: string }).path, 'qcow2');
      assert.match(
        String(info['backing-filename']),
        d.role === 'swap' ? /_base\/swap_64$/ : /_base\/ephemeral_1_ext4$/,
      );
      const base = String(info['backing-filename']);
      const blk = await run(['blkid', '-o', 'value', '-s', 'TYPE', base]);
      types.push(blk.stdout.trim());
    }
    assert.deepEqual(types, ['ext4', 'swap']);
    // A second instance of the same flavor reuses the bases (same files, not reformatted).
    const other = await env.bootSectorSpec();
    await disks.createLocal(other.uuid, flavor);
    const again = await disks.localSources(other.uuid, flavor);
    for (let i = 0; i < 2; i++) {
      const a = await qemuImgInfo((local[i].source as { path: string }).path, 'qcow2');
      const b = await qemuImgInfo((again[i].source as { path: string }).path, 'qcow2');
      assert.equal(a['backing-filename'], b['backing-filename']);
    }

    await driver.spawn({ ...spec, localDisks: local });
    await waitFor('GUEST-BOOTED', 60_000, async () =>
      (await driver.consoleOutput(spec.uuid)).includes('GUEST-BOOTED') ? true : undefined,
    );
    const live = await env.client.domains.getXmlDesc(await env.client.domains.lookupByUuid(spec.uuid));
    for (const dev of ['vda', 'vdb', 'vdc'])
      assert.match(live, new RegExp(`<target dev=['"]${dev}['"] bus=['"]virtio['"]`));
    assert.match(live, /disk\.local/);
    assert.match(live, /disk\.swap/);
    await driver.destroy(spec.uuid);
    await disks.delete(spec.uuid);
    await disks.delete(other.uuid);
    assert.deepEqual(await disks.localSources(spec.uuid, { ephemeralGb: 0, swapMb: 0 }), []);
  });
});
