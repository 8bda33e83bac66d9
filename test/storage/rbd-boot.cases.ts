// A real TCG guest boots from an RBD disk (called from ceph.test.ts): the boot-sector image is
// stored in RBD (images pool), the instance disk is a clone in pool vms (images_type=rbd), the
// client key goes into a libvirt secret (usage ceph) through Kestrel's RPC client, and the guest
// is started by the production libvirt driver, which renders DiskSource kind 'rbd' as a network
// disk with cephx auth. The guest prints to its serial console; the test waits for that line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LibvirtClient, UndefineFlags, type SecretRef } from '../../src/libvirt/index.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import { RbdImageStore } from '../../src/images/rbd/store.js';
import { cephClientKey, RbdDiskBackend } from '../../src/images/backends/rbd.js';
import { bootSector } from '../libvirt/boot-sector.js';
import type { CephEnv } from './ceph-env.js';

export function rbdBootCases(env: () => CephEnv, prefix: string): void {
  test('a TCG guest boots from an RBD clone through the libvirt driver (network disk, cephx secret)', async (t) => {
    const domPrefix = `${prefix}-boot-`;
    const imageId = `${prefix}-bootsector`;
    const uuid = randomUUID();
    const secretUuid = randomUUID();
    const workDir = await mkdtemp(join('/tmp', domPrefix));
    await chmod(workDir, 0o755);
    const store = new RbdImageStore({ cephConf: env().conf, user: env().user, pool: 'images' });
    const backend = new RbdDiskBackend({ cephConf: env().conf, user: env().user, pool: 'vms', secretUuid });
    const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
    const driver = new LibvirtDriver({ client, virtType: 'qemu', namePrefix: domPrefix, cpuMode: 'none' });
    const held: { secret?: SecretRef } = {};
    t.after(async () => {
      await driver.destroy(uuid).catch(() => undefined);
      for (const dom of await client.domains.listAll(0).catch(() => [])) {
        if (dom.name.startsWith(domPrefix)) {
          await client.domains.destroy(dom).catch(() => undefined);
          await client.domains.undefine(dom, UndefineFlags.NVRAM).catch(() => undefined);
        }
      }
      if (held.secret) await client.secrets.undefine(held.secret).catch(() => undefined);
      await driver.close().catch(() => undefined);
      await client.close().catch(() => undefined);
      await backend.delete(uuid).catch(() => undefined);
      await store.delete(imageId).catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    });
    await driver.init();

    const image = Buffer.alloc(1024 * 1024);
    bootSector('RBD-GUEST-BOOTED').copy(image);
    const facts = await store.put(imageId, Readable.from([image]), { declaredFormat: 'raw' });
    const rootDisk = await backend.create({
      instanceUuid: uuid,
      imageId,
      sizeBytes: 2 * 1024 * 1024,
      imageLocations: [facts.location],
      base: () => Promise.reject(new Error('the clone path must not download the image')),
    });
    assert.equal(rootDisk.kind, 'rbd');

    // The libvirt secret holds the client's key (decoded bytes); the key is never logged.
    const secret = await client.secrets.defineXml(
      `<secret ephemeral='no' private='yes'><uuid>${secretUuid}</uuid>` +
        `<usage type='ceph'><name>client.${env().user} ${domPrefix}${randomBytes(2).toString('hex')}</name></usage></secret>`,
    );
    held.secret = secret;
    const key = await cephClientKey({ cephConf: env().conf, user: env().user });
    await client.secrets.setValue(secret, Buffer.from(key, 'base64'));

    const spec: InstanceSpec = {
      uuid,
      displayName: `${domPrefix}guest`,
      projectId: 'kt-storage',
      flavor: { id: 'kt', name: 'kt.tiny', vcpus: 1, memoryMb: 32, rootGb: 1, extraSpecs: {} },
      image: { id: imageId, name: 'boot-sector', diskFormat: 'raw', properties: {} },
      rootDisk,
      consoleLogPath: join(workDir, 'console.log'),
      network: { kind: 'none' },
    };
    await driver.spawn(spec);
    const deadline = Date.now() + 30_000;
    let out = '';
    while (Date.now() < deadline) {
      out = await driver.consoleOutput(uuid).catch(() => '');
      if (out.includes('RBD-GUEST-BOOTED')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(out, /RBD-GUEST-BOOTED/, 'the guest read its boot sector from RBD');
    // While the guest runs, the disk has a watcher and cannot be removed.
    await assert.rejects(backend.delete(uuid), /open|watchers|busy/i);
    await driver.destroy(uuid);
  });
}
