// [libvirt] images_type end to end without Ceph: `kestrel serve`'s service (startService) with the
// production libvirt driver boots the boot-sector guest (TCG) through the Compute API with
// images_type=flat and with images_type=lvm, reads its serial console and deletes it through the
// same backend. The RBD variants live in test/storage/ceph.test.ts (the one owner of Ceph), with
// their cases in ./rbd.cases.ts.
//
// LVM: this machine has no device-mapper, so lvm2 runs in metadata-only mode on a loop-device PV
// and each LV's block device is a loop device over its extents (test/storage/lvm-lab.ts),
// injected through startService's storageHooks. Not exercised here: real /dev/<vg>/<lv> nodes
// (devNodeResolver), LV activation, thin volumes.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LvmCli } from '../../src/images/lvm/cli.js';
import { run, runChecked } from '../../src/util/run.js';
import { lvmLabUnavailable, makeLvmLab, type LvmLab } from '../storage/lvm-lab.js';
import { startKestrel, type Kestrel } from './harness.js';

const TAG = `kt-stor-e2e-${randomBytes(3).toString('hex')}`;

describe('images_type=flat through the Compute API (real libvirt, TCG)', () => {
  let k: Kestrel;
  before(async () => {
    k = await startKestrel({
      tag: `${TAG}-flat`,
      conf: ['[libvirt]', 'virt_type = qemu', 'images_type = flat'],
      ephemeralGb: 1,
      swapMb: 16,
    });
  });
  after(async () => k?.stop());

  test('a guest boots from a flat copy of the image; delete removes the disk', async () => {
    assert.equal(k.svc.storage.backend.kind, 'flat');
    const img = (await k.imageApi('GET', `/v2/images/${k.imageId}`)).body;
    assert.equal(img.status, 'active');
    assert.equal('direct_url' in img || 'locations' in img, false, 'show_image_direct_url is off by default');
    const id = await k.boot('flat');
    await k.waitFor(id, 'ACTIVE');
    const disk = join(k.config.DEFAULT.instances_path, id, 'disk');
    // Flat: a raw file of the flavor's size (1 GiB), not a qcow2 overlay.
    const head = readFileSync(disk).subarray(0, 4).toString('latin1');
    assert.notEqual(head, 'QFI\xfb', 'the disk is not qcow2');
    assert.equal(await k.svc.storage.backend.exists(id), true);
    // The flavor's ephemeral (ext4) and swap disks: flat copies of the cached blank bases, vdb and vdc.
    const blkid = async (p: string) => (await run(['blkid', '-o', 'value', '-s', 'TYPE', p])).stdout.trim();
    assert.equal(await blkid(`${disk}.local`), 'ext4');
    assert.equal(await blkid(`${disk}.swap`), 'swap');
    const xml = await k.client.domains.getXmlDesc(await k.client.domains.lookupByUuid(id));
    const attached = (file: string, dev: string) =>
      new RegExp(
        `<source file='${file}'[^>]*/>\\s*(<backingStore/>\\s*)?<target dev='${dev}' bus='virtio'/>`,
      );
    assert.match(xml, attached(`${disk}.local`, 'vdb'));
    assert.match(xml, attached(`${disk}.swap`, 'vdc'));
    await k.consoleHas(id, 'GUEST-BOOTED');
    // Rebuild with preserve_ephemeral keeps what the ephemeral disk holds; without, it is new.
    const marker = Buffer.from('kestrel-preserved-ephemeral');
    const at = 64 * 1024 * 1024;
    const fd = openSync(`${disk}.local`, 'r+');
    writeSync(fd, marker, 0, marker.length, at);
    closeSync(fd);
    const readMarker = () => {
      const b = Buffer.alloc(marker.length);
      const r = openSync(`${disk}.local`, 'r');
      readSync(r, b, 0, b.length, at);
      closeSync(r);
      return b.toString();
    };
    for (const preserve of [true, false]) {
      const r = await k.compute('POST', `/v2.1/servers/${id}/action`, {
        rebuild: { imageRef: k.imageId, preserve_ephemeral: preserve },
      });
      assert.equal(r.status, 202, r.text);
      await k.waitFor(id, 'ACTIVE', 60_000);
      assert.equal(readMarker() === marker.toString(), preserve, `preserve_ephemeral=${preserve}`);
    }
    await k.deleteServer(id);
    assert.equal(existsSync(disk), false, 'the flat disk is gone');
    assert.equal(
      existsSync(`${disk}.local`) || existsSync(`${disk}.swap`),
      false,
      'ephemeral and swap are gone',
    );
  });

  test('an image larger than the flavor disk ends in ERROR with a clear fault (no disk left)', async () => {
    // A qcow2 image of 2 GiB virtual size (a few hundred bytes) for the 1 GiB flavor. The API
    // refuses that when it knows the virtual size; an image without one (as an external Glance
    // may have) gets as far as the compute host, whose disk backend refuses it.
    const file = join(k.dir, 'big.qcow2');
    await runChecked(['qemu-img', 'create', '-q', '-f', 'qcow2', file, '2G']);
    const created = await k.imageApi('POST', '/v2/images', {
      json: { name: `${TAG}-big`, disk_format: 'qcow2', container_format: 'bare' },
    });
    assert.equal(created.status, 201);
    const imageId = created.body.id as string;
    const put = await k.imageApi('PUT', `/v2/images/${imageId}/file`, { data: readFileSync(file) });
    assert.equal(put.status, 204);
    await k.svc.core.repos.images.update(imageId, { virtualSize: null });
    const id = await k.boot('too-small', imageId);
    const s = await k.waitFor(id, 'ERROR');
    const fault = s.fault as { message: string };
    assert.match(fault.message, /Flavor's disk is too small for requested image/);
    assert.match(fault.message, /Flavor disk is 1073741824 bytes, image is 2147483648 bytes/);
    assert.equal(existsSync(join(k.config.DEFAULT.instances_path, id, 'disk')), false, 'no disk left');
    await k.deleteServer(id);
    assert.equal((await k.imageApi('DELETE', `/v2/images/${imageId}`)).status, 204);
  });
});

const lvmSkip = await lvmLabUnavailable();

describe(
  'images_type=lvm through the Compute API (loop-device stand-in for LVs)',
  { skip: lvmSkip ?? false },
  () => {
    let k: Kestrel;
    let lab: LvmLab;
    before(async () => {
      lab = await makeLvmLab(`${TAG}-lvm`, 2 * 1024 ** 3); // sparse; DISK_GB needs a whole GiB
      k = await startKestrel({
        tag: `${TAG}-lvm`,
        conf: [
          '[libvirt]',
          'virt_type = qemu',
          'images_type = lvm',
          `images_volume_group = ${lab.vg}`,
          'volume_clear = zero',
        ],
        diskGb: 0, // the image's own size: the lab's volume group is small
        hooks: { lvDevices: lab.devices, lvmConfig: lab.config },
      });
    });
    after(async () => {
      await k?.stop();
      await lab?.teardown();
    });

    test('a guest boots from a logical volume (its loop device); delete clears and removes the LV', async () => {
      assert.equal(k.svc.storage.backend.kind, 'lvm');
      const lvm = new LvmCli({ config: lab.config });
      // DISK_GB is the volume group's size (as Nova reports for lvm), not instances_path's filesystem.
      assert.equal(await k.localGb(), Math.floor((await lvm.vg(lab.vg)).sizeBytes / 1024 ** 3));
      const id = await k.boot('lvm');
      await k.waitFor(id, 'ACTIVE');
      const lvs = (await lvm.lvs(lab.vg)).map((l) => l.name);
      assert.deepEqual(lvs, [`${id}_disk`], 'one LV named <uuid>_disk');
      const dev = lab.mapped().get(`${lab.vg}/${id}_disk`);
      assert.ok(dev, 'the LV has a device');
      const xml = await k.client.domains.getXmlDesc(await k.client.domains.lookupByUuid(id));
      assert.match(
        xml,
        new RegExp(`<disk type='block' device='disk'>[\\s\\S]*?<source dev='${dev}'`),
        'a block disk on the LV',
      );
      await k.consoleHas(id, 'GUEST-BOOTED');
      await k.deleteServer(id);
      assert.deepEqual(await lvm.lvs(lab.vg), [], 'the LV is removed');
      assert.equal(lab.mapped().size, 0, 'its device is released');
    });
  },
);
