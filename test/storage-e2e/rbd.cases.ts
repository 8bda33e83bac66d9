// Ceph end to end through Kestrel's APIs (called from test/storage/ceph.test.ts, the one owner of
// scripts/ceph-up / ceph-down): the all-in-one service with the production libvirt driver and
//  - [image_store] backend = rbd + [libvirt] images_type = rbd: the demo image is stored in pool
//    images (direct_url / locations shown), the instance disk is a clone of it in pool vms, the
//    driver defines the ceph secret itself, the TCG guest prints on its serial console, a
//    snapshot is exported from RBD into the RBD store, shelve offloads the RBD disk and unshelve
//    imports the (qcow2) shelved image, and delete removes the RBD disk;
//  - images_type = flat + [glance] enable_rbd_download: the image cache gets the image by
//    `rbd export` (the store's own download is made to fail, so only that path can boot it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CephCli } from '../../src/images/rbd/cli.js';
import { RbdFirstImageSource } from '../../src/images/rbd/download.js';
import type { CephEnv } from '../storage/ceph-env.js';
import { startKestrel, type Kestrel } from './harness.js';

export function rbdServiceCases(env: () => CephEnv, prefix: string): void {
  const cli = (): CephCli => new CephCli({ cephConf: env().conf, user: env().user });

  test('images_type=rbd: image in the RBD store, disk cloned in vms, guest boots, snapshot, shelve/unshelve, delete removes the disk', async (t) => {
    const tag = `${prefix}-e2e-rbd`;
    const secretUuid = randomUUID();
    const images: string[] = [];
    const held: { k?: Kestrel } = {};
    const servers: string[] = [];
    t.after(async () => {
      const k = held.k;
      if (!k) return;
      // The secret first: stop() closes the libvirt client.
      const secret = await k.client.secrets.lookupByUuid(secretUuid).catch(() => undefined);
      if (secret) await k.client.secrets.undefine(secret).catch(() => undefined);
      await k.stop();
      for (const id of servers) await k.svc.storage.backend.delete(id).catch(() => undefined);
      for (const id of images) await k.svc.storage.imageStore.delete(id).catch(() => undefined);
    });
    const k = (held.k = await startKestrel({
      tag,
      conf: [
        '[libvirt]',
        'virt_type = qemu',
        'images_type = rbd',
        'images_rbd_pool = vms',
        `images_rbd_ceph_conf = ${env().conf}`,
        `rbd_user = ${env().user}`,
        `rbd_secret_uuid = ${secretUuid}`,
        '[image_store]',
        'backend = rbd',
        'rbd_pool = images',
        'show_image_direct_url = true',
        'show_multiple_locations = true',
      ],
    }));
    images.push(k.imageId);
    assert.equal(k.svc.storage.imageStore.kind, 'rbd');
    assert.equal(k.svc.storage.backend.kind, 'rbd');
    // DISK_GB is the Ceph cluster's size (as Nova reports for rbd).
    const cluster = await k.svc.storage.backend.capacity();
    assert.equal(await k.localGb(), Math.floor(cluster.totalBytes / 1024 ** 3));

    // The demo image lives in pool images, and the Image API says where.
    const img = (await k.imageApi('GET', `/v2/images/${k.imageId}`)).body;
    const url = `rbd://${env().fsid}/images/${k.imageId}/snap`;
    assert.equal(img.direct_url, url);
    assert.deepEqual(img.locations, [{ url, metadata: {} }]);
    const listed = await cli().rbdJson<string[]>(['ls', 'images']);
    assert.ok(listed.includes(k.imageId), 'the image is an RBD image in pool images');

    // The boot sector ignores ACPI: no clean-shutdown wait before shelve (os_shutdown_timeout).
    const patched = await k.imageApi('PATCH', `/v2/images/${k.imageId}`, {
      patch: [{ op: 'add', path: '/os_shutdown_timeout', value: '0' }],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const id = await k.boot('rbd');
    servers.push(id);
    await k.waitFor(id, 'ACTIVE');
    // A copy-on-write clone of the image's snapshot: nothing was downloaded.
    const info = await cli().rbdJson<{
      size: number;
      parent?: { pool: string; image: string; snapshot: string };
    }>(['info', `vms/${id}_disk`]);
    assert.deepEqual(
      info.parent && { pool: info.parent.pool, image: info.parent.image, snapshot: info.parent.snapshot },
      { pool: 'images', image: k.imageId, snapshot: 'snap' },
    );
    assert.equal(info.size, 1024 ** 3, 'grown to the flavor disk');
    const xml = await k.client.domains.getXmlDesc(await k.client.domains.lookupByUuid(id));
    assert.match(xml, /<disk type='network' device='disk'>/);
    assert.match(xml, new RegExp(`<source protocol='rbd' name='vms/${id}_disk'`));
    assert.match(xml, new RegExp(`<secret type='ceph' uuid='${secretUuid}'/>`));
    await k.client.secrets.lookupByUuid(secretUuid); // the driver defined it
    await k.consoleHas(id, 'GUEST-BOOTED');
    // The image cannot go while a disk is its clone (Glance's InUseByStore: 409), and stays whole.
    const inUse = await k.imageApi('DELETE', `/v2/images/${k.imageId}`);
    assert.equal(inUse.status, 409, JSON.stringify(inUse.body));
    assert.equal((await k.imageApi('GET', `/v2/images/${k.imageId}`)).body.status, 'active');

    // Snapshot: the running guest's disk is exported from RBD by the backend, stored in RBD.
    const snap = await k.compute('POST', `/v2.1/servers/${id}/action`, {
      createImage: { name: `${tag}-snap` },
    });
    assert.equal(snap.status, 202, snap.text);
    const snapId = String(snap.headers.location).split('/').pop()!;
    images.push(snapId);
    let snapImg: Record<string, unknown> = {};
    for (let i = 0; i < 150 && snapImg.status !== 'active' && snapImg.status !== 'killed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      snapImg = (await k.imageApi('GET', `/v2/images/${snapId}`)).body;
    }
    assert.equal(snapImg.status, 'active', JSON.stringify(snapImg));
    assert.equal(snapImg.direct_url, `rbd://${env().fsid}/images/${snapId}/snap`);
    assert.equal(snapImg.virtual_size, 1024 ** 3);
    await k.waitFor(id, 'ACTIVE');

    // Shelve: snapshot exported from RBD, then the RBD disk goes; unshelve boots from the
    // shelved image, which is qcow2 (not cloneable): the cached base is imported into RBD.
    const disks = async () => cli().rbdJson<string[]>(['ls', 'vms']);
    assert.equal((await k.compute('POST', `/v2.1/servers/${id}/action`, { shelve: null })).status, 202);
    await k.waitFor(id, 'SHELVED_OFFLOADED');
    assert.ok(!(await disks()).includes(`${id}_disk`), 'shelve offload removed the RBD disk');
    const shelved = (await k.svc.core.repos.images.list()).find(
      (i) => i.properties.instance_uuid === id && i.id !== snapId,
    );
    assert.ok(
      shelved?.location?.startsWith(`rbd://${env().fsid}/images/`),
      'the shelved image is in the RBD store',
    );
    if (!shelved) return;
    images.push(shelved.id);
    // Whatever the console shows from here on is the unshelved guest's.
    rmSync(join(k.config.DEFAULT.instances_path, id, 'console.log'), { force: true });
    assert.equal((await k.compute('POST', `/v2.1/servers/${id}/action`, { unshelve: null })).status, 202);
    await k.waitFor(id, 'ACTIVE');
    const unshelved = await cli().rbdJson<{ parent?: unknown }>(['info', `vms/${id}_disk`]);
    assert.equal(unshelved.parent, undefined, 'imported, not cloned (the shelved image is qcow2)');
    await k.consoleHas(id, 'GUEST-BOOTED');

    await k.deleteServer(id);
    assert.ok(
      !(await cli().rbdJson<string[]>(['ls', 'vms'])).includes(`${id}_disk`),
      'the RBD disk is removed',
    );
    assert.equal((await k.imageApi('DELETE', `/v2/images/${snapId}`)).status, 204);
  });

  test('enable_rbd_download: the flat backend’s image cache fetches by rbd export', async (t) => {
    const tag = `${prefix}-e2e-dl`;
    const held: { k?: Kestrel } = {};
    t.after(async () => {
      await held.k?.stop();
      if (held.k) await held.k.svc.storage.imageStore.delete(held.k.imageId).catch(() => undefined);
    });
    const k = (held.k = await startKestrel({
      tag,
      conf: [
        '[libvirt]',
        'virt_type = qemu',
        'images_type = flat',
        '[glance]',
        'enable_rbd_download = true',
        `rbd_ceph_conf = ${env().conf}`,
        `rbd_user = ${env().user}`,
        'rbd_pool = images',
        '[image_store]',
        'backend = rbd',
        'rbd_pool = images',
        `rbd_ceph_conf = ${env().conf}`,
        `rbd_user = ${env().user}`,
      ],
    }));
    assert.ok(k.svc.storage.cacheSource instanceof RbdFirstImageSource);
    // The store's own download fails: only the rbd export of the image's location can feed the cache.
    const store = k.svc.storage.imageStore;
    store.get = () => Promise.reject(new Error('the test forbids the store download'));
    const id = await k.boot('dl');
    await k.waitFor(id, 'ACTIVE');
    await k.consoleHas(id, 'GUEST-BOOTED');
    await k.deleteServer(id);
  });
}
