// The files a guest boots with besides its root disk: the config drive
// (<instances_path>/<uuid>/disk.config, a local file on every disk backend, as Nova's default)
// and, for AMI-style images, the kernel and ramdisk their kernel_id / ramdisk_id properties
// name (fetched through the image cache like any base image). Made before each spawn — so a
// rebuild or unshelve gets a fresh drive with the current user data — and removed with the
// instance's disks.
import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRecord, Instance, Repositories } from '../db/index.js';
import {
  CONFIG_DRIVE_STAGING_PREFIX,
  writeConfigDrive,
  type ConfigDriveFormat,
} from '../metadata/config-drive.js';
import { guestMetadataFor } from '../metadata/from-instance.js';
import { buildMetadataTree } from '../metadata/tree.js';
import type { InstanceSpec } from '../virt/driver.js';
import type { BaseImages } from './disks.js';

export interface ConfigDrivePolicy {
  /** [DEFAULT] force_config_drive. */
  force: boolean;
  /** [DEFAULT] config_drive_format. */
  format: ConfigDriveFormat;
  /** [DEFAULT] mkisofs_cmd. */
  mkisofs: string;
  /** [api] dhcp_domain. */
  dhcpDomain: string;
}

/** Without configuration: drives only when asked for, ISO 9660 by genisoimage. */
export const DEFAULT_CONFIG_DRIVE_POLICY: ConfigDrivePolicy = {
  force: false,
  format: 'iso9660',
  mkisofs: 'genisoimage',
  dhcpDomain: 'novalocal',
};

export type GuestBootFiles = Pick<InstanceSpec, 'configDrive' | 'kernelPath' | 'initrdPath'>;

export class GuestFiles {
  constructor(
    private readonly repos: Repositories,
    private readonly instancesPath: string,
    private readonly policy: ConfigDrivePolicy = DEFAULT_CONFIG_DRIVE_POLICY,
    /** The image cache, for kernel and ramdisk images; without it such images are refused. */
    private readonly bases?: BaseImages,
  ) {}

  configDrivePath(uuid: string): string {
    return join(this.instancesPath, uuid, 'disk.config');
  }

  /** Nova's configdrive.required_by: asked for, forced by the operator, or required by the image. */
  required(inst: Instance, image: ImageRecord): boolean {
    return inst.configDrive || this.policy.force || image.properties.img_config_drive === 'mandatory';
  }

  /** Builds the config drive (when required) and fetches kernel and ramdisk (when the image names them). */
  async prepare(inst: Instance, image: ImageRecord): Promise<GuestBootFiles> {
    const files: GuestBootFiles = {};
    const { kernel_id: kernelId, ramdisk_id: ramdiskId } = image.properties;
    if (kernelId) files.kernelPath = await this.bootImage(kernelId, 'kernel_id', image.id);
    if (ramdiskId) {
      if (!kernelId) {
        throw new Error(
          `image ${image.id} has ramdisk_id but no kernel_id. Fix: set kernel_id too (openstack image set --property kernel_id=IMAGE), or unset ramdisk_id.`,
        );
      }
      files.initrdPath = await this.bootImage(ramdiskId, 'ramdisk_id', image.id);
    }
    if (this.required(inst, image)) {
      const path = this.configDrivePath(inst.uuid);
      await this.writeConfigDrive(inst, image, path);
      if (!inst.configDrive) await this.repos.instances.update(inst.uuid, { configDrive: true });
      files.configDrive = { path, format: this.policy.format };
    }
    return files;
  }

  /**
   * Start-up reconciliation: a guest defined with a config drive whose file is gone (instance
   * directory lost) would not start again; the drive is rebuilt from the database.
   */
  async restoreConfigDrive(inst: Instance): Promise<boolean> {
    if (!inst.configDrive || existsSync(this.configDrivePath(inst.uuid))) return false;
    const image = await this.repos.images.get(inst.imageId);
    if (!image) return false;
    await this.writeConfigDrive(inst, image, this.configDrivePath(inst.uuid));
    return true;
  }

  /**
   * Removes the config drive, any half-built one a killed service left (its staging
   * directory), and the instance directory once it is empty.
   */
  async remove(uuid: string): Promise<void> {
    const dir = join(this.instancesPath, uuid);
    await rm(this.configDrivePath(uuid), { force: true });
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(CONFIG_DRIVE_STAGING_PREFIX))
        await rm(join(dir, name), { recursive: true, force: true });
    }
    await rmdir(dir).catch(() => undefined);
  }

  private async writeConfigDrive(inst: Instance, image: ImageRecord, path: string): Promise<void> {
    const md = await guestMetadataFor(this.repos, inst, image, { dhcpDomain: this.policy.dhcpDomain });
    await writeConfigDrive(buildMetadataTree(md), path, this.policy.format, { mkisofs: this.policy.mkisofs });
  }

  private async bootImage(imageId: string, property: string, of: string): Promise<string> {
    const img = await this.repos.images.get(imageId);
    if (!img || img.status !== 'active') {
      throw new Error(
        `image ${of} has ${property}=${imageId}, which is not an active image. Fix: upload that image (disk_format ${property === 'kernel_id' ? 'aki' : 'ari'}) or correct the property.`,
      );
    }
    if (!this.bases) {
      throw new Error(
        `kernel and ramdisk images (${property} of image ${of}) need the image cache on this host`,
      );
    }
    return (await this.bases.ensure(imageId, { declaredFormat: img.diskFormat ?? 'raw' })).path;
  }
}
