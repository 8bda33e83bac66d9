// A throw-away LVM volume group for tests on a kernel without device-mapper (storage-lab.md §1):
// a sparse file on a loop device is the PV, lvm2 runs for real in metadata-only mode
// (activation off), and each LV's block device is stood in for by a loop device over the LV's
// extents in the PV file (offset = pe_start + first_PE × extent_size). Only linear one-segment
// LVs can be mapped this way, which is what the backend creates in a fresh VG.
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runChecked } from '../../src/util/run.js';
import { LvmCli } from '../../src/images/lvm/cli.js';
import type { LvDeviceResolver } from '../../src/images/backends/lvm.js';

export interface LvmLab {
  vg: string;
  config: string;
  pvFile: string;
  pvDevice: string;
  devices: LvDeviceResolver;
  /** Loop devices currently standing in for LVs. */
  mapped(): Map<string, string>;
  teardown(): Promise<void>;
}

/** Why this machine cannot run the lab, or undefined when it can. */
export async function lvmLabUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'LVM tests need root (losetup, pvcreate)';
  for (const tool of ['lvcreate', 'losetup']) {
    const r = await run(['sh', '-c', `command -v ${tool}`]);
    if (r.code !== 0) return `${tool} is not installed (apt-get install lvm2 util-linux)`;
  }
  const r = await run(['losetup', '-f']);
  if (r.code !== 0) return `no free loop device: ${r.stderr.trim()}`;
  return undefined;
}

export async function makeLvmLab(prefix: string, sizeBytes = 256 * 1024 * 1024): Promise<LvmLab> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-lvm-`));
  const pvFile = join(dir, 'pv.img');
  await truncate(pvFile, 0).catch(() => undefined);
  await runChecked(['truncate', '-s', String(sizeBytes), pvFile]);
  const pvDevice = (await runChecked(['losetup', '--find', '--show', pvFile])).stdout.trim();
  const vg = `${prefix.replace(/[^A-Za-z0-9_]/g, '_')}_vg_${randomBytes(3).toString('hex')}`;
  // Only this PV is scanned (other tests' loop devices are left alone), nothing is written under
  // /etc/lvm, and no device-mapper or udev interaction is attempted.
  const config =
    `global { activation=0 } activation { udev_sync=0 udev_rules=0 monitoring=0 } ` +
    `devices { obtain_device_list_from_udev=0 use_devicesfile=0 filter=["a|^${pvDevice}$|","r|.*|"] } ` +
    `backup { backup=0 archive=0 }`;
  const lvm = new LvmCli({ config });
  const mapped = new Map<string, string>();
  const cleanup: (() => Promise<unknown>)[] = [];
  const teardown = async (): Promise<void> => {
    for (const dev of mapped.values()) await run(['losetup', '-d', dev]);
    mapped.clear();
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    await run(['losetup', '-d', pvDevice]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await lvm.run('pvcreate', ['-y', pvDevice]);
    cleanup.push(() => lvm.run('pvremove', ['-y', '-ff', pvDevice]));
    await lvm.run('vgcreate', ['-y', vg, pvDevice]);
    cleanup.push(() => lvm.run('vgremove', ['-y', '-f', vg]));
  } catch (e) {
    await teardown();
    throw e;
  }
  const devices: LvDeviceResolver = {
    async path(vgName, lv) {
      const key = `${vgName}/${lv}`;
      const existing = mapped.get(key);
      if (existing) return existing;
      const info = (await lvm.lvs(vgName)).find((x) => x.name === lv);
      if (!info) throw new Error(`test shim: no LV ${key}`);
      const m = /^(\S+):(\d+)-(\d+)$/.exec(info.peRanges);
      if (!m || m[1] !== pvDevice)
        throw new Error(`test shim: LV ${key} is not one linear segment on ${pvDevice} (${info.peRanges})`);
      const { extentBytes } = await lvm.vg(vgName);
      const offset = (await lvm.peStart(pvDevice)) + Number(m[2]) * extentBytes;
      const dev = (
        await runChecked([
          'losetup',
          '--find',
          '--show',
          '--offset',
          String(offset),
          '--sizelimit',
          String(info.sizeBytes),
          pvFile,
        ])
      ).stdout.trim();
      mapped.set(key, dev);
      return dev;
    },
    async release(vgName, lv) {
      const key = `${vgName}/${lv}`;
      const dev = mapped.get(key);
      if (dev) {
        await runChecked(['losetup', '-d', dev]);
        mapped.delete(key);
      }
    },
  };
  return { vg, config, pvFile, pvDevice, devices, mapped: () => mapped, teardown };
}
