// Shared set-up for the real libvirt tests: the test images (scripts/build-test-images),
// a per-run domain prefix (kt-virt-<random>-), a world-traversable work dir, qcow2 overlays
// of the boot sector, and a cleanup that removes every domain, NVRAM file and file made.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { qemuImgCreateOverlay } from '../../src/images/qemu-img.js';
import { LibvirtClient, UndefineFlags, DomainState } from '../../src/libvirt/index.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestImages {
  bootSector: string;
  kernel: string;
  initrdPoweroff: string;
  initrdQga: string;
  /** busybox shell on ttyS0 (console tests). */
  initrdShell: string;
  /** A raw disk that boots the kernel with initrdShell (an image the API can boot). */
  linuxDisk: string;
  /** virtio-net + udhcpc guest: prints NET-LEASE, serves HTTP on 8080. */
  initrdNet: string;
}

let images: TestImages | undefined;

/** Runs scripts/build-test-images (fast when cached) and returns the image paths. */
export function testImages(): TestImages {
  if (images) return images;
  const out = execFileSync(join(ROOT, 'scripts/build-test-images'), {
    encoding: 'utf8',
    // The cloud-init guest takes minutes to build: only the tests that boot it ask for it.
    env: { ...process.env, SKIP_CLOUD_IMAGE: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kv = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
  images = {
    bootSector: kv.BOOT_SECTOR,
    kernel: kv.KERNEL,
    initrdPoweroff: kv.INITRD_POWEROFF,
    initrdQga: kv.INITRD_QGA,
    initrdShell: kv.INITRD_SHELL,
    linuxDisk: kv.LINUX_DISK,
    initrdNet: kv.INITRD_NET,
  };
  return images;
}

/** A 1 MiB qcow2 overlay of the boot sector at <dir>/<uuid>.qcow2 (each guest writes its own). */
export async function bootSectorOverlay(dir: string, uuid: string): Promise<string> {
  const disk = join(dir, `${uuid}.qcow2`);
  await qemuImgCreateOverlay(disk, testImages().bootSector, 'raw', 1024 * 1024);
  return disk;
}

/**
 * Removes every domain whose name starts with prefix (stopping it first), with its managed-save
 * image, snapshots' metadata and NVRAM, then the NVRAM and QEMU log files libvirt named after it.
 */
export async function removePrefixedDomains(client: LibvirtClient, prefix: string): Promise<void> {
  for (const dom of await client.domains.listAll(0)) {
    if (!dom.name.startsWith(prefix)) continue;
    try {
      if ((await client.domains.getState(dom)).state !== DomainState.SHUTOFF)
        await client.domains.destroy(dom);
    } catch {
      // already gone
    }
    await client.domains
      .undefine(dom, UndefineFlags.MANAGED_SAVE | UndefineFlags.NVRAM | UndefineFlags.SNAPSHOTS_METADATA)
      .catch(() => undefined);
  }
  for (const dir of ['/var/lib/libvirt/qemu/nvram', '/var/log/libvirt/qemu']) {
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      if (f.startsWith(prefix)) await rm(join(dir, f), { force: true });
    }
  }
}

export interface RealEnv {
  prefix: string;
  workDir: string;
  client: LibvirtClient;
  /** A boot-sector guest on its own qcow2 overlay. */
  bootSectorSpec(imageProperties?: Record<string, string>): Promise<InstanceSpec>;
  /** A Linux guest by direct kernel boot. */
  linuxSpec(
    initrd: string,
    imageProperties?: Record<string, string>,
    memoryMb?: number,
  ): Promise<InstanceSpec>;
  cleanup(): Promise<void>;
}

export async function realEnv(area = 'virt'): Promise<RealEnv> {
  const img = testImages();
  const prefix = `kt-${area}-${randomBytes(3).toString('hex')}-`;
  const workDir = await mkdtemp(join('/tmp', prefix));
  await chmod(workDir, 0o755); // libvirt-qemu must traverse it
  const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
  const base = (
    uuid: string,
    props: Record<string, string>,
    memoryMb: number,
  ): Omit<InstanceSpec, 'rootDisk'> => ({
    uuid,
    displayName: `${prefix}${uuid.slice(0, 8)}`,
    projectId: 'kt-virt-project',
    flavor: { id: 'kt', name: 'kt.tiny', vcpus: 1, memoryMb, rootGb: 1, extraSpecs: {} },
    image: { id: randomUUID(), name: 'kt-test', diskFormat: 'raw', properties: props },
    consoleLogPath: join(workDir, `${uuid}.log`),
    network: { kind: 'none' },
  });
  return {
    prefix,
    workDir,
    client,
    async bootSectorSpec(props = {}) {
      const uuid = randomUUID();
      const disk = await bootSectorOverlay(workDir, uuid);
      return { ...base(uuid, props, 32), rootDisk: { kind: 'file', path: disk, format: 'qcow2' } };
    },
    async linuxSpec(initrd, props = {}, memoryMb = 128) {
      const uuid = randomUUID();
      // The initramfs is the whole OS; the root disk (an overlay, unused) is only there because
      // every instance has one.
      const disk = await bootSectorOverlay(workDir, uuid);
      return {
        ...base(uuid, { os_command_line: 'console=ttyS0 quiet panic=-1', ...props }, memoryMb),
        rootDisk: { kind: 'file', path: disk, format: 'qcow2' },
        kernelPath: img.kernel,
        initrdPath: initrd,
      };
    },
    async cleanup() {
      await removePrefixedDomains(client, prefix);
      await rm(workDir, { recursive: true, force: true });
      await client.close();
    },
  };
}

/**
 * A real environment and a libvirt driver on it (TCG, cpu_mode none), for tests that spawn
 * guests through the driver; cleanup closes the driver, then removes everything the run made.
 */
export async function realDriverEnv(area = 'virt'): Promise<RealEnv & { driver: LibvirtDriver }> {
  const env = await realEnv(area);
  const driver = new LibvirtDriver({
    client: env.client,
    virtType: 'qemu',
    namePrefix: env.prefix,
    cpuMode: 'none',
  });
  await driver.init();
  return {
    ...env,
    driver,
    async cleanup() {
      await driver.close();
      await env.cleanup();
    },
  };
}
