import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../config/index.js';
import { RbdFirstImageSource } from '../images/rbd/download.js';
import { cephSecretFromConfig, createStorage } from './storage.js';

const conf = (text: string) => {
  const r = parseConfigText(`[DEFAULT]\nstate_path = /tmp/kt-storage-int-unit\n${text}`);
  assert.deepEqual(r.errors, []);
  return r.config;
};
const none = async () => [] as string[];

test('images_type picks the disk backend; the image store follows [image_store] backend', () => {
  const cases: [string, string, string][] = [
    ['', 'qcow2', 'file'],
    ['[DEFAULT]\nuse_cow_images = false\n', 'flat', 'file'],
    ['[libvirt]\nimages_type = raw\n', 'flat', 'file'],
    ['[libvirt]\nimages_type = lvm\nimages_volume_group = vg0\n', 'lvm', 'file'],
    ['[libvirt]\nimages_type = rbd\nimages_rbd_pool = vms\n[image_store]\nbackend = rbd\n', 'rbd', 'rbd'],
  ];
  for (const [text, kind, store] of cases) {
    const s = createStorage({ config: conf(text), locationsOf: none });
    assert.equal(s.backend.kind, kind, text);
    assert.equal(s.imagesType, kind, text);
    assert.equal(s.imageStore.kind, store, text);
  }
});

test('images_type=lvm without a volume group is refused with the option to set', () => {
  assert.throws(
    () => createStorage({ config: conf('[libvirt]\nimages_type = lvm\n'), locationsOf: none }),
    /images_volume_group/,
  );
});

test('enable_rbd_download makes the cache fetch through rbd export first, except with images_type=rbd', () => {
  const on = createStorage({ config: conf('[glance]\nenable_rbd_download = true\n'), locationsOf: none });
  assert.ok(on.cacheSource instanceof RbdFirstImageSource);
  const off = createStorage({ config: conf(''), locationsOf: none });
  assert.ok(!(off.cacheSource instanceof RbdFirstImageSource));
  const rbd = createStorage({
    config: conf('[glance]\nenable_rbd_download = true\n[libvirt]\nimages_type = rbd\n'),
    locationsOf: none,
  });
  assert.ok(!(rbd.cacheSource instanceof RbdFirstImageSource));
});

test('the ceph secret is wanted only with images_type=rbd and rbd_secret_uuid', () => {
  const uuid = '457eb676-33da-42ec-9a8c-9293d545c337';
  assert.equal(cephSecretFromConfig(conf(`[libvirt]\nrbd_secret_uuid = ${uuid}\n`)), undefined);
  assert.equal(cephSecretFromConfig(conf('[libvirt]\nimages_type = rbd\n')), undefined);
  const s = cephSecretFromConfig(
    conf(`[libvirt]\nimages_type = rbd\nrbd_user = nova\nrbd_secret_uuid = ${uuid}\n`),
  );
  assert.equal(s?.uuid, uuid);
  assert.equal(s?.user, 'nova');
});
