import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RbdDirectDownload, rbdDownloadOptionsFromNova } from './download.js';

test('[glance] rbd options fall back to the [libvirt] ones when empty, as Nova does', () => {
  assert.deepEqual(
    rbdDownloadOptionsFromNova(
      { enable_rbd_download: true, rbd_user: '', rbd_pool: '', rbd_ceph_conf: '', rbd_connect_timeout: 0 },
      {
        rbd_user: 'nova',
        images_rbd_pool: 'vms',
        images_rbd_ceph_conf: '/etc/ceph/ceph.conf',
        rbd_connect_timeout: 9,
      },
    ),
    { enabled: true, user: 'nova', pool: 'vms', cephConf: '/etc/ceph/ceph.conf', connectTimeoutSec: 9 },
  );
  assert.deepEqual(
    rbdDownloadOptionsFromNova(
      { enable_rbd_download: true, rbd_user: 'glance', rbd_pool: 'images', rbd_connect_timeout: 3 },
      {},
    ),
    { enabled: true, user: 'glance', pool: 'images', cephConf: undefined, connectTimeoutSec: 3 },
  );
  assert.equal(rbdDownloadOptionsFromNova({}).enabled, false);
  assert.equal(rbdDownloadOptionsFromNova({}).connectTimeoutSec, 5);
});

test('only rbd:// locations are tried, and none when disabled', async () => {
  const off = new RbdDirectDownload({ enabled: false });
  assert.equal(await off.downloadToPath('x', ['rbd://a/b/c/d'], '/nonexistent/x'), undefined);
  const on = new RbdDirectDownload({ enabled: true });
  // No rbd:// location: nothing is run, nothing is written.
  assert.equal(await on.downloadToPath('x', ['http://a/b', 'file:///c'], '/nonexistent/x'), undefined);
  assert.equal(await on.openFirst('x', []), undefined);
});
