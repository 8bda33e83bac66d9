// Start-up reconciliation: after `kestrel serve` stopped at any moment (kill -9 included),
// the database, libvirt and the disk are brought back into agreement before the APIs listen.
//
// What happens to each thing found (the policy):
//
// - An instance left mid-build (vm_state building) is FINISHED when its guest exists and runs
//   (the last build step, spawn, had completed: it becomes ACTIVE), else ROLLED BACK: its
//   domain (if any) is destroyed, its disk removed, its allocations released, and it goes to
//   ERROR with a fault "…interrupted by a restart of kestrel serve". Builds are not retried:
//   the user asked for one boot, and a retry after an unknown failure could repeat it.
//   Unscheduled builds (no host yet) go to ERROR the same way.
// - An instance left mid-delete (task_state deleting) is deleted to the end: guest, disk,
//   allocations, then DELETED.
// - An instance left mid-action (powering-off, rebooting, image_snapshot …) gets its task
//   cleared and its vm_state read from its guest's real power state; the action is not
//   retried. A snapshot image left queued/saving is marked killed.
// - An ERROR instance that never ran (launched_at unset) but still has a guest — a failed
//   build whose undo could not reach libvirtd — loses that guest and its disk.
// - An instance whose guest is gone (undefined behind Kestrel's back) goes to ERROR with a
//   fault saying so.
// - Every action left open is closed (Error, unless the build was finished above), and its
//   open events end in Error with "interrupted by a restart" as their traceback.
// - A Kestrel-tagged domain whose instance the database records as DELETED is reaped
//   (destroyed, undefined, disk removed: Nova's running_deleted_instance_action=reap).
// - A Kestrel-tagged domain with NO database row at all, whose files are under this host's
//   instances_path, is KEPT and REPORTED (a warning with its metadata, and in the report):
//   Kestrel always writes the row before it defines a domain, so such a guest comes from a
//   database restored from backup or a second service sharing instances_path — cases where
//   destroying a guest could destroy data an operator still wants. Domains whose files are
//   elsewhere belong to another Kestrel on the same libvirtd and are left alone.
// - An instance's config drive (<instances_path>/<uuid>/disk.config) goes wherever its disk
//   goes above; a live instance with a guest whose drive is missing (the file was lost) gets it
//   rebuilt from the database, so the guest can start again.
// - `<instances_path>/<uuid>/` directories that no live instance and no domain owns are removed.
// - Disks the configured disk backend lists (DiskBackend.list: LVM volumes and RBD images live
//   outside instances_path) whose instance is unknown to the database or deleted, and that no
//   domain uses, are deleted and logged. The volume group / pool must belong to this Kestrel
//   database (as Nova's images_volume_group / images_rbd_pool): a second deployment sharing it
//   would have its disks seen as orphans.
// - Image-cache `.part` / `.converted` files are removed when no process holds their lock.
// - Allocations on this host whose consumer is not a live instance are released.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance, Repositories } from '../db/index.js';
import { PowerState, type HypervisorDriver } from '../virt/driver.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RootDisks } from './disks.js';
import type { GuestFiles } from './guest-files.js';
import { describeError } from './faults.js';
import { closeAction, instanceRows, openActions, unfinishedSnapshots } from './reconcile-store.js';
import { isKestrelError } from '../errors/index.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What reconciliation needs from the image cache (src/images/cache.ts's ImageCache fits). */
export interface ReconcileImageCache {
  readonly baseDir: string;
  withImageLock<T>(fileName: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T>;
}

export interface ReconcileOptions {
  repos: Repositories;
  driver: HypervisorDriver;
  disks: RootDisks;
  host: string;
  instancesPath: string;
  imageCache?: ReconcileImageCache;
  /** Config drives: removed with the disks, restored when a live guest lost its own. */
  guestFiles?: Pick<GuestFiles, 'remove' | 'restoreConfigDrive'>;
  logger?: Logger;
  /** Instances handled at once (driver calls overlap; default 8). */
  concurrency?: number;
}

export interface ReconcileReport {
  /** Instances of this host (and unscheduled builds) looked at. */
  instances: number;
  /** Builds found complete (guest running) and made ACTIVE. */
  buildsFinished: string[];
  /** Builds found incomplete, cleaned up and put in ERROR. */
  buildsRolledBack: string[];
  /** Deletes found half done and finished. */
  deletesFinished: string[];
  /** Other interrupted tasks cleared (instance: task). */
  tasksCleared: Record<string, string>;
  /** Instances whose guest has vanished (now ERROR). */
  guestsMissing: string[];
  /** Instances whose power state changed with what the hypervisor reports. */
  powerStatesChanged: number;
  actionsClosed: number;
  /** Domains of instances the database records as deleted: destroyed and undefined. */
  domainsReaped: string[];
  /** Kestrel domains with no database row under this instances_path: kept, reported. */
  unknownDomains: string[];
  diskDirsRemoved: string[];
  /** Backend disks (LVM volumes, RBD images, …) of unknown or deleted instances: deleted. */
  backendDisksRemoved: string[];
  cacheFilesRemoved: string[];
  allocationsReleased: string[];
  snapshotsKilled: string[];
  /** `<instances_path>/snapshots/<image>.qcow2` copies left by an interrupted snapshot. */
  snapshotFilesRemoved: string[];
  /** Guests and disks of ERROR instances that never ran (a failed build's undo failed). */
  buildLeftoversRemoved: string[];
  /** Live guests whose config drive file was missing: rebuilt from the database. */
  configDrivesRestored: string[];
  /** Steps that failed (logged; reconciliation carries on with the rest). */
  failures: string[];
  ms: number;
}

export const RESTART_REASON = 'interrupted: kestrel serve stopped (restart, crash or kill) during this step';

function emptyReport(): ReconcileReport {
  return {
    instances: 0,
    buildsFinished: [],
    buildsRolledBack: [],
    deletesFinished: [],
    tasksCleared: {},
    guestsMissing: [],
    powerStatesChanged: 0,
    actionsClosed: 0,
    domainsReaped: [],
    unknownDomains: [],
    diskDirsRemoved: [],
    backendDisksRemoved: [],
    cacheFilesRemoved: [],
    allocationsReleased: [],
    snapshotsKilled: [],
    snapshotFilesRemoved: [],
    buildLeftoversRemoved: [],
    configDrivesRestored: [],
    failures: [],
    ms: 0,
  };
}

/** vm_state for a guest's power state, for an instance with no task running. */
export function vmStateForPower(current: string, power: number): string {
  if (current === 'error') return current;
  switch (power) {
    case PowerState.RUNNING:
      return 'active';
    case PowerState.PAUSED:
      return 'paused';
    case PowerState.SUSPENDED:
      return 'suspended';
    case PowerState.SHUTDOWN:
    case PowerState.CRASHED:
      return 'stopped';
    default:
      return current;
  }
}

async function pool<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
}

function isNotFound(e: unknown): boolean {
  return isKestrelError(e, 'instance-not-found');
}

export class Reconciler {
  private readonly log: Logger;
  private readonly report = emptyReport();
  /** Guests destroyed during this run (the initial sweep is not repeated). */
  private readonly destroyed = new Set<string>();

  constructor(private readonly o: ReconcileOptions) {
    this.log = (o.logger ?? silentLogger).child({ component: 'reconcile' });
  }

  private failed(what: string, e: unknown): void {
    const text = `${what}: ${describeError(e)}`;
    this.report.failures.push(text);
    this.log.error({ err: e }, what);
  }

  /** Destroys the guest if there is one (a missing guest is fine). */
  /** The instance's disk and its config drive. */
  private async removeDisks(uuid: string): Promise<void> {
    await this.o.disks.delete(uuid);
    await this.o.guestFiles?.remove(uuid);
  }

  private async destroyGuest(uuid: string): Promise<void> {
    try {
      await this.o.driver.destroy(uuid);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.destroyed.add(uuid);
  }

  async run(): Promise<ReconcileReport> {
    const started = performance.now();
    const { repos, host } = this.o;
    const mine = await repos.instances.list({ host });
    const unscheduled = (await repos.instances.list({ vmStates: ['building'] })).filter(
      (i) => i.host === null,
    );
    const instances = [...mine, ...unscheduled];
    this.report.instances = instances.length;

    // One sweep of the hypervisor: listing guests costs a metadata read per domain.
    const { domains, power } = await this.guests(mine);

    const actions = await openActions(
      repos.db,
      instances.map((i) => i.uuid),
    );
    const actionsOf = new Map<string, string[]>();
    for (const a of actions) actionsOf.set(a.instanceUuid, [...(actionsOf.get(a.instanceUuid) ?? []), a.id]);

    await pool(instances, this.o.concurrency ?? 8, async (inst) => {
      try {
        const ok = await this.instance(inst, domains.has(inst.uuid), power.get(inst.uuid));
        for (const id of actionsOf.get(inst.uuid) ?? []) {
          await closeAction(repos.db, id, ok ? null : 'Error', RESTART_REASON);
          this.report.actionsClosed++;
        }
      } catch (e) {
        this.failed(`reconciling instance ${inst.uuid}`, e);
      }
    });

    const live = new Set((await repos.instances.list({ host })).map((i) => i.uuid));
    const remaining = () => new Set([...domains].filter((u) => !this.destroyed.has(u)));
    await this.domains(remaining(), live).catch((e) => this.failed('checking the domains', e));
    await this.diskDirs(remaining(), live).catch((e) => this.failed('checking instance directories', e));
    await this.backendDisks(remaining(), live).catch((e) => this.failed('checking the disk backend', e));
    await this.cacheParts().catch((e) => this.failed('checking the image cache', e));
    await this.snapshotFiles().catch((e) => this.failed('checking snapshot files', e));
    await this.allocations().catch((e) => this.failed('checking allocations', e));
    this.report.ms = Math.round(performance.now() - started);
    this.summarize();
    return this.report;
  }

  /** This host's guests and their power states: one sweep when the driver has it, else one call each. */
  private async guests(mine: Instance[]): Promise<{ domains: Set<string>; power: Map<string, number> }> {
    if (this.o.driver.syncPowerStates) {
      const power = new Map<string, number>(await this.o.driver.syncPowerStates());
      return { domains: new Set(power.keys()), power };
    }
    const domains = new Set(await this.o.driver.list());
    const m = new Map<string, number>();
    await pool(
      mine.filter((i) => domains.has(i.uuid)),
      this.o.concurrency ?? 8,
      async (i) => {
        try {
          m.set(i.uuid, (await this.o.driver.info(i.uuid)).state);
        } catch {
          // gone meanwhile: no state
        }
      },
    );
    return { domains, power: m };
  }

  /** Returns whether the interrupted operation ended as a success (for closing its action). */
  private async instance(inst: Instance, hasGuest: boolean, power: number | undefined): Promise<boolean> {
    const { repos } = this.o;
    const uuid = inst.uuid;
    if (inst.taskState === 'deleting') {
      await this.destroyGuest(uuid);
      await this.removeDisks(uuid);
      await repos.placement.deleteAllocations(uuid);
      await repos.instances.markDeleted(uuid);
      this.report.deletesFinished.push(uuid);
      this.log.info({ instance: uuid }, 'finished a delete interrupted by the restart');
      return true;
    }
    if (inst.vmState === 'building') {
      if (inst.host !== null && hasGuest && power === PowerState.RUNNING) {
        await repos.instances.update(uuid, {
          vmState: 'active',
          taskState: null,
          powerState: PowerState.RUNNING,
          launchedAt: new Date().toISOString(),
        });
        this.report.buildsFinished.push(uuid);
        this.log.info({ instance: uuid }, 'a build interrupted by the restart had finished: ACTIVE');
        return true;
      }
      if (inst.host !== null) {
        await this.destroyGuest(uuid);
        await this.removeDisks(uuid);
      }
      await repos.placement.deleteAllocations(uuid);
      await repos.instances.addFault(uuid, {
        code: 500,
        message: 'The build was interrupted by a restart of kestrel serve.',
        details:
          `kestrel serve stopped while this instance was being built (task ${inst.taskState ?? 'none'}); ` +
          'what it had made (guest, disk, allocations) was removed at the next start. Builds are not ' +
          'retried. Fix: delete this server and boot it again.',
      });
      await repos.instances.update(uuid, {
        vmState: 'error',
        taskState: null,
        powerState: PowerState.NOSTATE,
      });
      this.report.buildsRolledBack.push(uuid);
      this.log.warn({ instance: uuid, task: inst.taskState }, 'a build interrupted by the restart: ERROR');
      return false;
    }

    const task = inst.taskState;
    if (task !== null) {
      this.report.tasksCleared[uuid] = task;
      if (task.startsWith('image_')) {
        for (const id of await unfinishedSnapshots(repos.db, uuid)) {
          await repos.images.update(id, { status: 'killed', failure: `the snapshot was ${RESTART_REASON}` });
          this.report.snapshotsKilled.push(id);
        }
      }
    }
    if (hasGuest && inst.vmState === 'error' && inst.launchedAt === null && task === null) {
      // A build that failed but whose undo could not remove the guest (libvirtd was away):
      // the instance never ran, its allocations are gone, so its guest and disk go too.
      await this.destroyGuest(uuid);
      await this.removeDisks(uuid);
      await repos.instances.update(uuid, { powerState: PowerState.NOSTATE });
      this.report.buildLeftoversRemoved.push(uuid);
      this.log.warn({ instance: uuid }, 'removed the guest and disk a failed build left behind');
      return true;
    }
    if (!hasGuest) {
      if (inst.vmState !== 'error' || inst.powerState !== PowerState.NOSTATE || task !== null) {
        if (inst.vmState !== 'error') {
          await repos.instances.addFault(uuid, {
            code: 500,
            message: `The guest of instance ${uuid} is missing from the hypervisor.`,
            details:
              'Its libvirt domain was undefined outside Kestrel (virsh undefine?) while the service was down. ' +
              'Fix: delete this server (its disk is removed with it) and boot a new one.',
          });
          this.report.guestsMissing.push(uuid);
        }
        await repos.instances.update(uuid, {
          vmState: 'error',
          taskState: null,
          powerState: PowerState.NOSTATE,
        });
      }
      return task === null;
    }
    let state: number = power ?? PowerState.NOSTATE;
    // A snapshot pauses a running guest while it copies the disk: one cut short leaves it paused.
    if (task?.startsWith('image_') && inst.vmState === 'active' && state === PowerState.PAUSED) {
      await this.o.driver.unpause(uuid);
      state = PowerState.RUNNING;
      this.log.info({ instance: uuid }, 'resumed a guest left paused by an interrupted snapshot');
    }
    try {
      if (await this.o.guestFiles?.restoreConfigDrive(inst)) {
        this.report.configDrivesRestored.push(uuid);
        this.log.warn({ instance: uuid }, 'rebuilt the missing config drive of a live guest');
      }
    } catch (e) {
      this.failed(`rebuilding the config drive of ${uuid}`, e);
    }
    const vmState = vmStateForPower(inst.vmState, state);
    if (task !== null || vmState !== inst.vmState || state !== inst.powerState) {
      if (state !== inst.powerState) this.report.powerStatesChanged++;
      await repos.instances.update(uuid, { vmState, taskState: null, powerState: state });
    }
    return task === null;
  }

  /** Kestrel-tagged domains without a live instance on this host. */
  private async domains(domains: Set<string>, live: Set<string>): Promise<void> {
    const stray = [...domains].filter((u) => !live.has(u));
    if (stray.length === 0) return;
    const rows = await instanceRows(this.o.repos.db, stray);
    for (const uuid of stray) {
      const deleted = rows.get(uuid);
      if (deleted === true) {
        try {
          await this.destroyGuest(uuid);
          await this.removeDisks(uuid);
          this.report.domainsReaped.push(uuid);
          this.log.warn(
            { instance: uuid },
            'reaped the guest of a deleted instance (destroyed and undefined)',
          );
        } catch (e) {
          this.failed(`reaping the guest of deleted instance ${uuid}`, e);
        }
      } else if (deleted === undefined && existsSync(join(this.o.instancesPath, uuid))) {
        this.report.unknownDomains.push(uuid);
        this.log.warn(
          { instance: uuid, instancesPath: this.o.instancesPath },
          'a Kestrel guest with no instance in the database: kept running and reported. ' +
            'Fix: if it is not wanted, `virsh destroy` and `virsh undefine --nvram` it and remove its directory; ' +
            'if the database was restored from a backup, restore a newer one',
        );
      }
      // Otherwise: the instance lives on another host's record, or its files are elsewhere
      // (another Kestrel on the same libvirtd): not ours to touch.
    }
  }

  /** `<instances_path>/<uuid>/` directories that no live instance and no domain owns. */
  private async diskDirs(domains: Set<string>, live: Set<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.o.instancesPath);
    } catch {
      return;
    }
    const candidates = names.filter((n) => UUID_RE.test(n) && !live.has(n) && !domains.has(n));
    if (candidates.length === 0) return;
    // A live instance of this database elsewhere (another host, or not scheduled yet) keeps it.
    const rows = await instanceRows(this.o.repos.db, candidates);
    for (const uuid of candidates) {
      if (rows.get(uuid) === false) continue;
      try {
        await this.o.disks.delete(uuid);
        await rm(join(this.o.instancesPath, uuid), { recursive: true, force: true });
        this.report.diskDirsRemoved.push(uuid);
        this.log.warn({ instance: uuid }, 'removed an instance directory that nothing owns');
      } catch (e) {
        this.failed(`removing orphaned directory ${uuid}`, e);
      }
    }
  }

  /** Disks the backend lists whose instance the database does not know or records as deleted. */
  private async backendDisks(domains: Set<string>, live: Set<string>): Promise<void> {
    if (!this.o.disks.list) return;
    const listed = await this.o.disks.list();
    const removedDirs = new Set(this.report.diskDirsRemoved);
    const candidates = listed.filter(
      (u) => UUID_RE.test(u) && !live.has(u) && !domains.has(u) && !removedDirs.has(u),
    );
    if (candidates.length === 0) return;
    const rows = await instanceRows(this.o.repos.db, candidates);
    for (const uuid of candidates) {
      // A live instance of this database elsewhere (another host, or not scheduled yet) keeps it.
      const deleted = rows.get(uuid);
      if (deleted === false) continue;
      try {
        await this.o.disks.delete(uuid);
        this.report.backendDisksRemoved.push(uuid);
        this.log.warn(
          { instance: uuid, instanceRow: deleted === true ? 'deleted' : 'none' },
          deleted === true
            ? 'deleted the disk of a deleted instance left in the disk backend'
            : 'deleted a disk in the disk backend whose instance the database does not know',
        );
      } catch (e) {
        this.failed(`deleting orphaned backend disk of ${uuid}`, e);
      }
    }
  }

  /**
   * Flattened copies a snapshot writes before uploading (compute manager): at start-up no
   * snapshot of this service runs, so a copy whose image is not still being saved is dead.
   */
  private async snapshotFiles(): Promise<void> {
    const dir = join(this.o.instancesPath, 'snapshots');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^([0-9a-f-]{36})\.(qcow2|raw)$/.exec(n);
      if (!m) continue;
      const image = await this.o.repos.images.get(m[1]);
      if (image && (image.status === 'queued' || image.status === 'saving')) continue;
      await rm(join(dir, n), { force: true });
      this.report.snapshotFilesRemoved.push(n);
    }
  }

  /** Partial downloads and conversions left in the image cache by a killed fetch. */
  private async cacheParts(): Promise<void> {
    const cache = this.o.imageCache;
    if (!cache) return;
    let names: string[];
    try {
      names = await readdir(cache.baseDir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^([0-9a-f]{40})\.(part|converted)$/.exec(n);
      if (!m) continue;
      try {
        // Non-blocking: a fetch running in another process holds the lock and keeps its file.
        await cache.withImageLock(m[1], () => rm(join(cache.baseDir, n), { force: true }), 0);
        this.report.cacheFilesRemoved.push(n);
      } catch (e) {
        this.log.info({ file: n, err: e }, 'image cache file in use by another process; left alone');
      }
    }
  }

  /** Allocations on this host's provider whose consumer is not a live instance. */
  private async allocations(): Promise<void> {
    const { repos, host } = this.o;
    const provider = await repos.placement.ensureProvider(host);
    const consumers = await repos.placement.consumersOn(provider.uuid);
    if (consumers.length === 0) return;
    const rows = await instanceRows(repos.db, consumers);
    for (const c of consumers) {
      if (rows.get(c) === false) continue;
      await repos.placement.deleteAllocations(c);
      this.report.allocationsReleased.push(c);
      this.log.warn({ consumer: c }, 'released allocations of a consumer that is not a live instance');
    }
  }

  private summarize(): void {
    const r = this.report;
    this.log.info(
      {
        instances: r.instances,
        buildsFinished: r.buildsFinished.length,
        buildsRolledBack: r.buildsRolledBack.length,
        deletesFinished: r.deletesFinished.length,
        tasksCleared: Object.keys(r.tasksCleared).length,
        guestsMissing: r.guestsMissing.length,
        domainsReaped: r.domainsReaped.length,
        unknownDomains: r.unknownDomains,
        diskDirsRemoved: r.diskDirsRemoved.length,
        backendDisksRemoved: r.backendDisksRemoved.length,
        cacheFilesRemoved: r.cacheFilesRemoved.length,
        allocationsReleased: r.allocationsReleased.length,
        failures: r.failures.length,
        ms: r.ms,
      },
      'start-up reconciliation done',
    );
  }
}

/** Runs start-up reconciliation once (see the policy at the top of this file). */
export function reconcileAtStartup(o: ReconcileOptions): Promise<ReconcileReport> {
  return new Reconciler(o).run();
}
