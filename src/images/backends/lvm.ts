// images_type=lvm: the instance's root disk is the logical volume
// `<images_volume_group>/<uuid>_disk`, sized max(image, flavor), with the cached base written
// into its block device by `qemu-img convert -O raw`. Deleting clears the volume first
// (`[libvirt] volume_clear` zero | shred | none over `volume_clear_size` MiB, 0 = all of it),
// so the next tenant's LV cannot read this one's data. Resize and migration are not supported
// (as in Nova).
//
// The block device path is resolved by an injectable resolver: `/dev/<vg>/<lv>` in production;
// tests on a kernel without device-mapper (this machine) map the LV's extents to a loop device.
import { randomBytes } from 'node:crypto';
import { access, rename, rm } from 'node:fs/promises';
import { silentLogger, type Logger } from '../../util/log.js';
import { runChecked } from '../../util/run.js';
import { withRevert } from '../../util/revert.js';
import type { DiskSource } from '../../disks/source.js';
import { FlavorDiskSmallerThanImageError, ImageError } from '../errors.js';
import { qemuFormatName } from '../qemu-img.js';
import { assertLvmName, LvmCli } from '../lvm/cli.js';
import type { CreateDiskRequest, DiskBackend, DiskName } from './backend.js';
import { assertValidInstanceUuid, DiskExistsError } from './local.js';

/** Where an LV's block device is. */
export interface LvDeviceResolver {
  path(vg: string, lv: string): Promise<string>;
  /** Called after an LV is removed (a test shim detaches its loop device here). */
  release?(vg: string, lv: string): Promise<void>;
}

/** Production: the device node lvm2 (or udev) creates on activation. */
export const devNodeResolver: LvDeviceResolver = {
  async path(vg, lv) {
    const p = `/dev/${vg}/${lv}`;
    try {
      await access(p);
    } catch {
      throw new ImageError(
        'storage-unavailable',
        `logical volume ${vg}/${lv} has no device node ${p}: it is not active. Check that the kernel has ` +
          `device-mapper (dmsetup version) and that lvm2 activated it (lvchange -ay ${vg}/${lv})`,
      );
    }
    return p;
  },
};

export type VolumeClear = 'zero' | 'shred' | 'none';

export interface LvmBackendOptions {
  /** `[libvirt] images_volume_group` (required). */
  volumeGroup?: string;
  /** `[libvirt] volume_clear` (default zero). */
  volumeClear?: VolumeClear;
  /** `[libvirt] volume_clear_size` in MiB (default 0: the whole volume). */
  volumeClearSizeMib?: number;
  /** lvm.conf fragment for every lvm2 command (tests: activation off). */
  lvmConfig?: string;
  devices?: LvDeviceResolver;
  logger?: Logger;
}

const DISK_SUFFIX = '_disk';
const MiB = 1024 * 1024;

export class LvmDiskBackend implements DiskBackend {
  readonly kind = 'lvm' as const;
  readonly capabilities = { usesLocalBase: true, copiesSnapshots: false, ownCapacity: true };
  readonly volumeGroup: string;
  readonly lvm: LvmCli;
  private readonly devices: LvDeviceResolver;
  private readonly clear: VolumeClear;
  private readonly clearSizeMib: number;
  private readonly log: Logger;

  constructor(opts: LvmBackendOptions) {
    if (!opts.volumeGroup) {
      throw new ImageError(
        'storage-misconfigured',
        'You should specify images_volume_group flag to use LVM images: set [libvirt] images_volume_group ' +
          'to the volume group that holds instance disks (vgs lists them)',
      );
    }
    assertLvmName('volume group', opts.volumeGroup);
    const clear = opts.volumeClear ?? 'zero';
    if (!['zero', 'shred', 'none'].includes(clear)) {
      throw new ImageError(
        'storage-misconfigured',
        `[libvirt] volume_clear=${String(clear)} is not one of zero, shred, none`,
      );
    }
    if ((opts.volumeClearSizeMib ?? 0) < 0)
      throw new ImageError('storage-misconfigured', '[libvirt] volume_clear_size must be 0 or more (MiB)');
    this.volumeGroup = opts.volumeGroup;
    this.lvm = new LvmCli({ config: opts.lvmConfig });
    this.devices = opts.devices ?? devNodeResolver;
    this.clear = clear;
    this.clearSizeMib = opts.volumeClearSizeMib ?? 0;
    this.log = opts.logger ?? silentLogger;
  }

  lvName(instanceUuid: string, name: DiskName = 'disk'): string {
    assertValidInstanceUuid(instanceUuid);
    return `${instanceUuid}_${name}`;
  }

  async create(req: CreateDiskRequest): Promise<DiskSource> {
    const lv = this.lvName(req.instanceUuid, req.name);
    if ((await this.lvm.lvs(this.volumeGroup)).some((x) => x.name === lv)) {
      throw new DiskExistsError(`${this.volumeGroup}/${lv}`);
    }
    const base = await req.base();
    if (req.sizeBytes > 0 && req.sizeBytes < base.virtualSize) {
      throw new FlavorDiskSmallerThanImageError(base.virtualSize, req.sizeBytes);
    }
    const size = Math.max(base.virtualSize, req.sizeBytes);
    const vg = await this.lvm.vg(this.volumeGroup).catch((e: unknown) => {
      throw new ImageError(
        'storage-misconfigured',
        `volume group ${this.volumeGroup} (images_volume_group) is not usable: ${e instanceof Error ? e.message : String(e)}; ` +
          `create it (vgcreate ${this.volumeGroup} <pv>) or fix [libvirt] images_volume_group`,
      );
    });
    if (size > vg.freeBytes) {
      throw new ImageError(
        'storage-full',
        `volume group ${this.volumeGroup} has ${vg.freeBytes} bytes free, the disk of instance ${req.instanceUuid} needs ${size}; ` +
          'free space in the volume group or add a physical volume (vgextend)',
      );
    }
    const started = performance.now();
    const path = await withRevert(async (revert) => {
      await this.lvm.lvcreate(this.volumeGroup, lv, size);
      revert.add(`lvremove ${this.volumeGroup}/${lv}`, () => this.removeLv(lv, false));
      const dev = await this.devices.path(this.volumeGroup, lv);
      // O_DIRECT (-t none) as Nova does; -n: the target exists (a block device), do not create it.
      await runChecked(
        [
          'qemu-img',
          'convert',
          '-t',
          'none',
          '-f',
          qemuFormatName(base.format),
          '-O',
          'raw',
          '-n',
          base.path,
          dev,
        ],
        { timeoutMs: 60 * 60_000 },
      );
      return dev;
    });
    this.log.info(
      {
        instance: req.instanceUuid,
        lv: `${this.volumeGroup}/${lv}`,
        size,
        ms: Math.round(performance.now() - started),
      },
      'instance disk written to LVM',
    );
    return { kind: 'block', path };
  }

  async delete(instanceUuid: string, keep: readonly DiskName[] = []): Promise<void> {
    this.lvName(instanceUuid); // validates
    const prefix = `${instanceUuid}_`;
    const kept = new Set(keep.map((n) => this.lvName(instanceUuid, n)));
    for (const lv of await this.lvm.lvs(this.volumeGroup)) {
      if (lv.name.startsWith(prefix) && !kept.has(lv.name)) await this.removeLv(lv.name, true, lv.sizeBytes);
    }
  }

  /** Clears (when asked) and removes one LV, then releases its device. */
  private async removeLv(lv: string, clear: boolean, sizeBytes?: number): Promise<void> {
    if (clear && this.clear !== 'none') {
      const dev = await this.devices.path(this.volumeGroup, lv);
      const size = sizeBytes ?? 0;
      const bytes = this.clearSizeMib > 0 ? Math.min(this.clearSizeMib * MiB, size) : size;
      await this.clearDevice(dev, bytes);
    }
    await this.lvm.lvremove(this.volumeGroup, lv);
    await this.devices.release?.(this.volumeGroup, lv);
  }

  /** volume_clear: zeros with dd (direct I/O), or three shred passes, over the first `bytes`. */
  private async clearDevice(dev: string, bytes: number): Promise<void> {
    if (bytes <= 0) return;
    const started = performance.now();
    if (this.clear === 'zero') {
      const whole = Math.floor(bytes / MiB);
      if (whole > 0) {
        await runChecked(
          [
            'dd',
            'if=/dev/zero',
            `of=${dev}`,
            'bs=1M',
            `count=${whole}`,
            'oflag=direct',
            'conv=fdatasync,notrunc',
            'status=none',
          ],
          {
            timeoutMs: 60 * 60_000,
          },
        );
      }
      const tail = bytes - whole * MiB;
      if (tail > 0) {
        await runChecked(
          [
            'dd',
            'if=/dev/zero',
            `of=${dev}`,
            'bs=512',
            `seek=${(whole * MiB) / 512}`,
            `count=${Math.ceil(tail / 512)}`,
            'conv=fdatasync,notrunc',
            'status=none',
          ],
          {
            timeoutMs: 60 * 60_000,
          },
        );
      }
    } else {
      await runChecked(['shred', '-n', '3', '-s', `${bytes}`, dev], { timeoutMs: 4 * 60 * 60_000 });
    }
    this.log.info(
      { dev, bytes, method: this.clear, ms: Math.round(performance.now() - started) },
      'volume cleared',
    );
  }

  async source(instanceUuid: string, name: DiskName): Promise<DiskSource> {
    return {
      kind: 'block',
      path: await this.devices.path(this.volumeGroup, this.lvName(instanceUuid, name)),
    };
  }

  async exists(instanceUuid: string): Promise<boolean> {
    const lv = this.lvName(instanceUuid);
    return (await this.lvm.lvs(this.volumeGroup)).some((x) => x.name === lv);
  }

  async list(): Promise<string[]> {
    return (await this.lvm.lvs(this.volumeGroup))
      .filter((x) => x.name.endsWith(DISK_SUFFIX))
      .map((x) => x.name.slice(0, -DISK_SUFFIX.length));
  }

  async exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    const lv = this.lvName(instanceUuid);
    if (!(await this.exists(instanceUuid))) {
      throw new ImageError(
        'disk-not-found',
        `instance ${instanceUuid} has no disk ${this.volumeGroup}/${lv} to export`,
      );
    }
    const dev = await this.devices.path(this.volumeGroup, lv);
    const tmp = `${targetPath}.${randomBytes(4).toString('hex')}.part`;
    try {
      await runChecked(['qemu-img', 'convert', '-f', 'raw', '-O', format, dev, tmp], {
        timeoutMs: 60 * 60_000,
      });
      await rename(tmp, targetPath);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async capacity(): Promise<{ totalBytes: number; freeBytes: number }> {
    const vg = await this.lvm.vg(this.volumeGroup);
    return { totalBytes: vg.sizeBytes, freeBytes: vg.freeBytes };
  }
}
