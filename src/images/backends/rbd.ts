// images_type=rbd: the instance's root disk is the RBD image
// `<images_rbd_pool>/<uuid>_disk`. When the image is raw and stored in this same cluster (its
// rbd:// location's fsid matches), the disk is a copy-on-write clone of the image's snapshot:
// no download at all. Otherwise the cached base is imported (`rbd import`). The disk is grown to
// the flavor's size, and libvirt gets a network disk with the monitors and the cephx secret.
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { silentLogger, type Logger } from '../../util/log.js';
import { runChecked } from '../../util/run.js';
import { withRevert } from '../../util/revert.js';
import type { DiskSource } from '../../disks/source.js';
import { FlavorDiskSmallerThanImageError, ImageError } from '../errors.js';
import { inspectBuffer } from '../inspect/index.js';
import { CephCli, describe, isBusy, isNotFound, type CephConnection } from '../rbd/cli.js';
import { isRbdUrl, parseRbdUrl, type RbdLocation } from '../rbd/location.js';
import type { CreateDiskRequest, DiskBackend, DiskName } from './backend.js';
import { assertValidInstanceUuid, DiskExistsError } from './local.js';

export { cephClientKey } from '../rbd/cli.js';

export interface RbdBackendOptions extends CephConnection {
  /** `[libvirt] images_rbd_pool` (default `rbd`). */
  pool?: string;
  /** `[libvirt] rbd_secret_uuid`: the libvirt secret holding the client's key. */
  secretUuid?: string;
  /** `[DEFAULT] force_raw_images`: must stay true with rbd (the backend refuses to start). */
  forceRawImages?: boolean;
  /** `[workarounds] never_download_image_if_on_rbd`. */
  neverDownloadImageIfOnRbd?: boolean;
  logger?: Logger;
}

/** Nova's ImageUnacceptable for the rbd path. */
export class ImageUnacceptableError extends ImageError {
  constructor(imageId: string, why: string) {
    super('image-unacceptable', `image ${imageId} is unacceptable: ${why}`);
  }
}

const DISK_SUFFIX = '_disk';

export class RbdDiskBackend implements DiskBackend {
  readonly kind = 'rbd' as const;
  readonly capabilities = { usesLocalBase: false, copiesSnapshots: true, ownCapacity: true };
  readonly pool: string;
  readonly cli: CephCli;
  private readonly log: Logger;

  constructor(private readonly opts: RbdBackendOptions = {}) {
    if (opts.pool === '') {
      throw new ImageError(
        'storage-misconfigured',
        'You should specify images_rbd_pool flag to use rbd images: set [libvirt] images_rbd_pool',
      );
    }
    if (opts.forceRawImages === false) {
      throw new ImageError(
        'storage-misconfigured',
        'images_type=rbd needs raw images, but force_raw_images is False: set [DEFAULT] force_raw_images = True ' +
          '(Ceph clones and imports only raw data)',
      );
    }
    this.pool = opts.pool ?? 'rbd';
    this.cli = new CephCli(opts);
    this.log = opts.logger ?? silentLogger;
  }

  diskName(instanceUuid: string, name: DiskName = 'disk'): string {
    assertValidInstanceUuid(instanceUuid);
    return `${instanceUuid}_${name}`;
  }

  private spec(instanceUuid: string, name: DiskName = 'disk'): string {
    return `${this.pool}/${this.diskName(instanceUuid, name)}`;
  }

  async create(req: CreateDiskRequest): Promise<DiskSource> {
    const name = req.name ?? 'disk';
    const spec = this.spec(req.instanceUuid, name);
    if (await this.existsNamed(req.instanceUuid, name)) {
      throw new DiskExistsError(`rbd:${spec}`);
    }
    const started = performance.now();
    await withRevert(async (revert) => {
      const source = await this.cloneable(req);
      let size: number;
      if (source) {
        size = source.size;
        this.checkFits(size, req.sizeBytes);
        await this.cli.rbd(['clone', `${source.loc.pool}/${source.loc.image}@${source.loc.snapshot}`, spec]);
        revert.add(`remove ${spec}`, () => this.removeByName(this.diskName(req.instanceUuid, name)));
        this.log.info({ instance: req.instanceUuid, parent: source.url }, 'instance disk cloned in RBD');
      } else {
        if (this.opts.neverDownloadImageIfOnRbd && (req.imageLocations ?? []).some(isRbdUrl)) {
          throw new ImageUnacceptableError(
            req.imageId,
            'it is stored in RBD but cannot be cloned into this cluster (another fsid, not raw, or unreadable), ' +
              'and [workarounds] never_download_image_if_on_rbd forbids downloading it',
          );
        }
        const base = await req.base();
        if (base.format !== 'raw') {
          throw new ImageUnacceptableError(
            req.imageId,
            `its cached base is ${base.format}, and rbd imports only raw data; set [DEFAULT] force_raw_images = True`,
          );
        }
        size = base.virtualSize;
        this.checkFits(size, req.sizeBytes);
        revert.add(`remove ${spec}`, () => this.removeByName(this.diskName(req.instanceUuid, name)));
        await this.cli.rbd(['import', '--no-progress', '--image-format', '2', base.path, spec], {
          workMs: 60 * 60_000,
        });
        this.log.info({ instance: req.instanceUuid, base: base.path }, 'instance disk imported into RBD');
      }
      if (req.sizeBytes > size)
        await this.cli.rbd(['resize', '--no-progress', '--size', `${req.sizeBytes}B`, spec]);
    });
    this.log.debug(
      { instance: req.instanceUuid, ms: Math.round(performance.now() - started) },
      'rbd disk created',
    );
    return this.diskSource(req.instanceUuid, name);
  }

  source(instanceUuid: string, name: DiskName): Promise<DiskSource> {
    return this.diskSource(instanceUuid, name);
  }

  /** What libvirt needs for the network disk. */
  async diskSource(instanceUuid: string, name: DiskName = 'disk'): Promise<DiskSource> {
    return {
      kind: 'rbd',
      pool: this.pool,
      image: this.diskName(instanceUuid, name),
      monitors: await this.cli.monitors(),
      user: this.opts.user || 'admin',
      ...(this.opts.secretUuid ? { secretUuid: this.opts.secretUuid } : {}),
    };
  }

  private checkFits(imageSize: number, flavorSize: number): void {
    if (flavorSize > 0 && flavorSize < imageSize)
      throw new FlavorDiskSmallerThanImageError(imageSize, flavorSize);
  }

  /**
   * The first location that can be cloned here (Nova's is_cloneable): an rbd:// URL of this
   * cluster (fsid), a readable snapshot, and raw data (its header holds no other format's magic).
   */
  private async cloneable(
    req: CreateDiskRequest,
  ): Promise<{ loc: RbdLocation; url: string; size: number } | undefined> {
    const rbdLocations = (req.imageLocations ?? []).filter(isRbdUrl);
    if (rbdLocations.length === 0) return undefined;
    const fsid = await this.cli.fsid().catch(() => undefined);
    for (const url of rbdLocations) {
      let loc: RbdLocation;
      try {
        loc = parseRbdUrl(url);
      } catch (e) {
        this.log.debug({ url, err: describe(e) }, 'not cloneable: malformed location');
        continue;
      }
      if (loc.fsid !== fsid) {
        this.log.debug({ url }, 'not cloneable: another Ceph cluster');
        continue;
      }
      const snap = `${loc.pool}/${loc.image}@${loc.snapshot}`;
      try {
        const info = await this.cli.rbdJson<{ size: number }>(['info', snap]);
        const format = await this.headerFormat(snap);
        if (format !== 'raw' && format !== 'iso') {
          this.log.info({ url, format }, 'not cloneable: the image is not raw');
          continue;
        }
        return { loc, url, size: info.size };
      } catch (e) {
        this.log.debug({ url, err: describe(e) }, 'not cloneable: snapshot not readable');
      }
    }
    return undefined;
  }

  /** Reads the first 64 KiB of a snapshot and names its format (raw when no magic matches). */
  private headerFormat(snap: string): Promise<string> {
    const HEAD = 64 * 1024;
    const child = this.cli.rbdSpawn(['export', '--no-progress', snap, '-']);
    const chunks: Buffer[] = [];
    let got = 0;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          child.kill('SIGKILL');
          reject(new Error(`reading the header of ${snap} timed out`));
        },
        this.cli.conn.connectTimeoutSec * 1000 + 15_000,
      );
      const finish = (): void => {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.kill('SIGKILL');
        inspectBuffer(Buffer.concat(chunks).subarray(0, HEAD)).then((r) => resolve(r.format), reject);
      };
      child.stdout.on('data', (b: Buffer) => {
        chunks.push(b);
        got += b.length;
        if (got >= HEAD) finish();
      });
      child.on('close', (code) => {
        if (got >= HEAD) return;
        if (code === 0) finish();
        else {
          clearTimeout(timer);
          reject(new Error(`rbd export of ${snap} failed (exit ${code})`));
        }
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  async delete(instanceUuid: string, keep: readonly DiskName[] = []): Promise<void> {
    const prefix = `${instanceUuid}_`;
    this.diskName(instanceUuid); // validates
    const kept = new Set(keep.map((n) => this.diskName(instanceUuid, n)));
    const names = (await this.lsPool()).filter((n) => n.startsWith(prefix) && !kept.has(n));
    for (const name of names) await this.removeByName(name);
  }

  private async removeByName(name: string): Promise<void> {
    const spec = `${this.pool}/${name}`;
    try {
      await this.cli.rbd(['snap', 'purge', '--no-progress', spec]);
      await this.cli.rbd(['rm', '--no-progress', spec], { workMs: 10 * 60_000 });
    } catch (e) {
      if (isNotFound(e)) return;
      if (isBusy(e)) {
        throw new ImageError(
          'disk-in-use',
          `cannot remove ${spec}: a guest still has it open (watchers); stop the instance first`,
        );
      }
      throw new ImageError('storage-unavailable', `cannot remove ${spec}: ${describe(e)}`);
    }
  }

  async exists(instanceUuid: string): Promise<boolean> {
    return this.existsNamed(instanceUuid, 'disk');
  }

  private async existsNamed(instanceUuid: string, name: DiskName): Promise<boolean> {
    try {
      await this.cli.rbd(['info', this.spec(instanceUuid, name)]);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw new ImageError(
        'storage-unavailable',
        `cannot look up ${this.spec(instanceUuid, name)}: ${describe(e)}`,
      );
    }
  }

  private async lsPool(): Promise<string[]> {
    try {
      return await this.cli.rbdJson<string[]>(['ls', this.pool]);
    } catch (e) {
      throw new ImageError(
        'storage-unavailable',
        `cannot list pool ${this.pool} (${describe(e)}); check that the pool exists and ${this.cli.describeConn()} may read it`,
      );
    }
  }

  async list(): Promise<string[]> {
    return (await this.lsPool())
      .filter((n) => n.endsWith(DISK_SUFFIX))
      .map((n) => n.slice(0, -DISK_SUFFIX.length));
  }

  async exportTo(instanceUuid: string, targetPath: string, format: 'qcow2' | 'raw'): Promise<void> {
    const spec = this.spec(instanceUuid);
    const tmp = `${targetPath}.${randomBytes(4).toString('hex')}.part`;
    try {
      if (format === 'raw') {
        await this.cli.rbd(['export', '--no-progress', spec, tmp], { workMs: 60 * 60_000 });
      } else {
        await runChecked(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', this.qemuFilename(spec), tmp], {
          timeoutMs: 60 * 60_000,
        });
      }
      await rename(tmp, targetPath);
    } catch (e) {
      await rm(tmp, { force: true });
      if (isNotFound(e))
        throw new ImageError('disk-not-found', `instance ${instanceUuid} has no disk ${spec} to export`);
      throw e;
    }
  }

  /** QEMU's `rbd:` pseudo-filename; ':' and '@' in values are escaped as QEMU expects. */
  qemuFilename(spec: string): string {
    const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/@/g, '\\@');
    let f = `rbd:${esc(spec)}`;
    if (this.opts.user) f += `:id=${esc(this.opts.user)}`;
    if (this.opts.cephConf) f += `:conf=${esc(this.opts.cephConf)}`;
    if (this.opts.keyring) f += `:keyring=${esc(this.opts.keyring)}`;
    return f;
  }

  async capacity(): Promise<{ totalBytes: number; freeBytes: number }> {
    // Nova reports the cluster's totals (rados get_cluster_stats), not the pool's quota.
    const df = await this.cli.cephJson<{ stats: { total_bytes: number; total_avail_bytes: number } }>(['df']);
    return { totalBytes: df.stats.total_bytes, freeBytes: df.stats.total_avail_bytes };
  }
}
