import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLvmName } from './cli.js';
import { LvmDiskBackend } from '../backends/lvm.js';
import { RbdDiskBackend } from '../backends/rbd.js';

test('VG and LV names that could escape /dev/<vg>/<lv> are refused', () => {
  for (const ok of ['vg0', 'nova-vg', 'kt_storage_vg_1a2b', '0b8f_disk']) assertLvmName('volume group', ok);
  for (const bad of ['', '..', 'a/b', '-x', 'a b', 'x'.repeat(200)]) {
    assert.throws(() => assertLvmName('volume group', bad), /not valid for lvm2/, bad);
  }
  assert.throws(() => new LvmDiskBackend({ volumeGroup: '../etc' }), /not valid/);
});

test('LV and RBD disk names are <uuid>_disk, and a uuid cannot be a path', () => {
  const lvm = new LvmDiskBackend({ volumeGroup: 'vg' });
  assert.equal(
    lvm.lvName('6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b'),
    '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b_disk',
  );
  assert.throws(() => lvm.lvName('../x'));
  const rbd = new RbdDiskBackend({ pool: 'vms' });
  assert.equal(rbd.diskName('abc'), 'abc_disk');
  assert.throws(() => rbd.diskName('a/b'));
});

test("QEMU's rbd: filename escapes ':' and '@' in the conf path and user", () => {
  const rbd = new RbdDiskBackend({ pool: 'vms', user: 'nova', cephConf: '/etc/ceph:x/ceph@1.conf' });
  assert.equal(rbd.qemuFilename('vms/u_disk'), 'rbd:vms/u_disk:id=nova:conf=/etc/ceph\\:x/ceph\\@1.conf');
});
