// The compute manager: builds instances and runs their actions on this host, one action per
// instance at a time (KeyedMutex), each step recorded as a timed event of the instance
// action, with a revert stack so a failed build leaves no disk or domain behind. Power
// state follows the driver's lifecycle events.
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRecord, Instance, Repositories } from '../db/index.js';
import type { ImageStore } from '../images/store/store.js';
import type { Duplex } from 'node:stream';
import type {
  DisplayEndpoint,
  HostStatus,
  HypervisorDriver,
  InstanceSpec,
  LifecycleEvent,
  NicAttachment,
} from '../virt/driver.js';
import { PowerState } from '../virt/driver.js';
import { KeyedMutex } from '../util/lock.js';
import { withRevert } from '../util/revert.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { PowerAction } from './contract/types.js';
import type { RootDisks } from './disks.js';
import type { DiskName } from '../images/backends/backend.js';
import { GuestFiles } from './guest-files.js';
import { describeError, faultFrom } from './faults.js';
import type { ManagerSeams } from './actions-seams.js';
import { PowerWatch } from './reconcile-power.js';
import { BuildCancelled, cancelIfDeleted } from './recovery-cancel.js';
import { reconcileAtStartup, type ReconcileImageCache, type ReconcileReport } from './reconcile.js';
import { isKestrelError, KestrelError } from '../errors/index.js';

export interface ComputeManagerOptions {
  repos: Repositories;
  driver: HypervisorDriver;
  disks: RootDisks;
  imageStore: ImageStore;
  host: string;
  instancesPath: string;
  logger?: Logger;
  /** How long to wait for the guest's "started" event after spawn (default 60 s). */
  startedTimeoutMs?: number;
  /** Clean shutdown time before a forced one, for stop (Nova's shutdown_timeout, default 60). */
  shutdownTimeoutSeconds?: number;
  /** [vnc] server_proxyclient_address: where the console proxy reaches this host's TCP VNC displays. */
  vncProxyclientAddress?: string;
  /** Config drive, kernel and ramdisk (default: drives only when asked, no kernel images). */
  guestFiles?: GuestFiles;
  /** The taps an instance's ports need (its NICs, in order); none when unset. */
  nicsFor?: (uuid: string) => Promise<NicAttachment[]>;
}

interface ActionPlan {
  event: string;
  task: string;
  run: (d: HypervisorDriver, uuid: string) => Promise<void>;
  vmState: string;
  powerState: PowerState;
}

const GiB = 1024 * 1024 * 1024;

/**
 * What each power action does on the host: the instance-action event it records, the task_state
 * it runs under, the driver call, and the vm_state / power state it leaves (Nova's compute manager).
 */
const POWER_PLANS: Record<
  PowerAction,
  Omit<ActionPlan, 'run'> & { run: (d: HypervisorDriver, uuid: string, stopSeconds: number) => Promise<void> }
> = {
  start: plan('compute_start_instance', 'powering-on', 'active', PowerState.RUNNING, (d, u) => d.powerOn(u)),
  stop: plan('compute_stop_instance', 'powering-off', 'stopped', PowerState.SHUTDOWN, (d, u, s) =>
    d.powerOff(u, s),
  ),
  'reboot-soft': plan('compute_reboot_instance', 'rebooting', 'active', PowerState.RUNNING, (d, u) =>
    d.reboot(u, 'soft'),
  ),
  'reboot-hard': plan('compute_reboot_instance', 'rebooting_hard', 'active', PowerState.RUNNING, (d, u) =>
    d.reboot(u, 'hard'),
  ),
  pause: plan('compute_pause_instance', 'pausing', 'paused', PowerState.PAUSED, (d, u) => d.pause(u)),
  unpause: plan('compute_unpause_instance', 'unpausing', 'active', PowerState.RUNNING, (d, u) =>
    d.unpause(u),
  ),
  suspend: plan('compute_suspend_instance', 'suspending', 'suspended', PowerState.SUSPENDED, (d, u) =>
    d.suspend(u),
  ),
  resume: plan('compute_resume_instance', 'resuming', 'active', PowerState.RUNNING, (d, u) => d.resume(u)),
};

function plan(
  event: string,
  task: string,
  vmState: string,
  powerState: PowerState,
  run: (d: HypervisorDriver, uuid: string, stopSeconds: number) => Promise<void>,
) {
  return { event, task, vmState, powerState, run };
}

export class ComputeManager {
  readonly host: string;
  private readonly repos: Repositories;
  private readonly driver: HypervisorDriver;
  private readonly log: Logger;
  private readonly locks = new KeyedMutex();
  private readonly busy = new Set<string>();
  private readonly startedWaiters = new Map<string, () => void>();
  private readonly onLifecycle = (e: LifecycleEvent) => void this.handleLifecycle(e);
  /** Work in flight (builds, actions), so shutdown can wait for it. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Resync on libvirtd reconnects, faults for crashed guests (src/compute/reconcile-power.ts). */
  readonly powerWatch: PowerWatch;
  /** Instances with a delete waiting for their lock: a build in progress gives way to it. */
  private readonly deleteRequested = new Set<string>();
  private readonly guestFiles: GuestFiles;

  constructor(private readonly opts: ComputeManagerOptions) {
    this.host = opts.host;
    this.repos = opts.repos;
    this.driver = opts.driver;
    this.log = (opts.logger ?? silentLogger).child({ component: 'compute' });
    this.guestFiles = opts.guestFiles ?? new GuestFiles(opts.repos, opts.instancesPath);
    this.powerWatch = new PowerWatch({
      repos: this.repos,
      driver: this.driver,
      host: this.host,
      logger: opts.logger,
    });
  }

  start(): void {
    this.driver.events.on('lifecycle', this.onLifecycle);
    this.powerWatch.start();
  }

  async stop(): Promise<void> {
    this.driver.events.off('lifecycle', this.onLifecycle);
    await this.powerWatch.stop();
    await Promise.allSettled([...this.inflight]);
  }

  hostStatus(): Promise<HostStatus> {
    return this.driver.hostStatus();
  }

  consoleOutput(uuid: string, maxBytes?: number): Promise<string> {
    return this.driver.consoleOutput(uuid, maxBytes);
  }

  async vncEndpoint(uuid: string): Promise<DisplayEndpoint> {
    const e = await this.driver.vncEndpoint(uuid);
    // A TCP display is reached at the address this host gives the proxy, not the one QEMU binds.
    return e.kind === 'tcp' && this.opts.vncProxyclientAddress
      ? { ...e, host: this.opts.vncProxyclientAddress }
      : e;
  }

  openSerialConsole(uuid: string): Promise<Duplex> {
    return this.driver.openSerialConsole(uuid);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  private serialized<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    return this.track(
      this.locks.run(uuid, async () => {
        this.busy.add(uuid);
        try {
          return await fn();
        } finally {
          this.busy.delete(uuid);
        }
      }),
    );
  }

  /**
   * Runs an operation of src/compute/actions-*.ts (rebuild, shelve, backup, …) under this
   * instance's lock with the manager's seams; those live in their own files to keep this small.
   */
  runOperation<T>(uuid: string, fn: (s: ManagerSeams) => Promise<T>): Promise<T> {
    return this.serialized(uuid, () =>
      fn({
        repos: this.repos,
        driver: this.driver,
        disks: this.opts.disks,
        imageStore: this.opts.imageStore,
        host: this.host,
        instancesPath: this.opts.instancesPath,
        guestFiles: this.guestFiles,
        log: this.log,
        shutdownTimeoutSeconds: this.opts.shutdownTimeoutSeconds ?? 60,
        phase: (a, e, f) => this.phase(a, e, f),
        waitStarted: (u) => this.waitStarted(u),
        specFor: (i, img, d) => this.specFor(i, img, d),
        createLocalDisks: (i, a, k) => this.createLocalDisks(i, a, k),
      }),
    );
  }

  /** Runs one step as a timed event of the action (start, finish, result, traceback). */
  private async phase<T>(actionId: string, event: string, fn: () => Promise<T>): Promise<T> {
    const id = await this.repos.instances.startEvent(actionId, event);
    try {
      const result = await fn();
      await this.repos.instances.finishEvent(id, 'Success');
      return result;
    } catch (e) {
      await this.repos.instances.finishEvent(id, 'Error', describeError(e));
      throw e;
    }
  }

  /** Builds and starts the instance; true when it ends ACTIVE. */
  build(uuid: string, actionId: string): Promise<boolean> {
    return this.serialized(uuid, async () => {
      const inst = await this.repos.instances.get(uuid);
      if (!inst) return false; // deleted before the build started
      try {
        const image = await this.repos.images.get(inst.imageId);
        if (!image || image.status !== 'active') {
          throw new KestrelError(
            'image-not-found',
            `image ${inst.imageId} is no longer available (deleted or not active)`,
            { fix: 'rebuild the server from an active image, or delete it' },
          );
        }
        await this.phase(actionId, 'compute_build_and_run_instance', () =>
          withRevert(
            async (r) => {
              await cancelIfDeleted(this.repos, uuid, this.deleteRequested);
              await this.repos.instances.update(uuid, {
                taskState: 'block_device_mapping',
                host: this.host,
                node: this.host,
              });
              // Registered first: a create cut short can leave a partial disk behind.
              r.add('remove the root disk', () => this.opts.disks.delete(uuid));
              const disk = await this.phase(actionId, 'compute_prepare_root_disk', () =>
                this.opts.disks.create(
                  uuid,
                  { id: image.id, diskFormat: image.diskFormat ?? 'raw', virtualSize: image.virtualSize },
                  inst.flavor.rootGb * GiB,
                ),
              );
              await this.createLocalDisks(inst, actionId);
              await cancelIfDeleted(this.repos, uuid, this.deleteRequested);
              await this.repos.instances.update(uuid, { taskState: 'spawning' });
              const started = this.waitStarted(uuid);
              try {
                r.add('remove the config drive', () => this.guestFiles.remove(uuid));
                // Before spawn: a spawn whose reply was lost (libvirtd restart) may have started it.
                r.add('destroy the guest', () => this.driver.destroy(uuid));
                await this.phase(actionId, 'compute_spawn', () =>
                  this.specFor(inst, image, disk).then((spec) => this.driver.spawn(spec)),
                );
                await this.phase(actionId, 'compute_wait_for_started_event', () => started.promise);
                await cancelIfDeleted(this.repos, uuid, this.deleteRequested);
              } finally {
                started.cancel();
              }
            },
            (f) =>
              this.log.error(
                { instance: uuid, step: f.label, err: f.error },
                'undo of a failed build step failed',
              ),
          ),
        );
        const now = new Date().toISOString();
        await this.repos.instances.update(uuid, {
          vmState: 'active',
          taskState: null,
          powerState: PowerState.RUNNING,
          launchedAt: now,
        });
        await this.repos.instances.finishAction(actionId, null);
        this.log.info({ instance: uuid }, 'instance built and running');
        return true;
      } catch (e) {
        if (e instanceof BuildCancelled) {
          // The delete that asked for this finishes the instance (DELETED, allocations freed).
          this.log.info({ instance: uuid }, 'build stopped: the instance is being deleted');
          await this.repos.instances.finishAction(actionId, 'Error');
          return false;
        }
        this.log.error({ instance: uuid, err: e }, 'build failed');
        await this.repos.instances.addFault(
          uuid,
          faultFrom(e, 'Build of instance failed', await this.repos.instances.requestIdOfAction(actionId)),
        );
        await this.repos.instances.update(uuid, {
          vmState: 'error',
          taskState: null,
          powerState: PowerState.NOSTATE,
        });
        await this.repos.placement.deleteAllocations(uuid);
        await this.repos.instances.finishAction(actionId, 'Error');
        return false;
      }
    });
  }

  /**
   * The flavor's ephemeral and swap disks, but those in `kept` (removed with the root disk by
   * disks.delete); a timed event only when the flavor has any.
   */
  private async createLocalDisks(
    inst: Instance,
    actionId: string,
    kept: readonly DiskName[] = [],
  ): Promise<void> {
    const create = this.opts.disks.createLocal?.bind(this.opts.disks);
    if (!create || (!inst.flavor.ephemeralGb && !inst.flavor.swapMb)) return;
    await this.phase(actionId, 'compute_prepare_local_disks', () => create(inst.uuid, inst.flavor, kept));
  }

  /** The driver's spec; builds the config drive and fetches kernel / ramdisk first (guest-files.ts). */
  private async specFor(
    inst: Instance,
    image: ImageRecord,
    rootDisk: InstanceSpec['rootDisk'],
  ): Promise<InstanceSpec> {
    // The NUMA placement the scheduler claimed with the allocations (pinned CPUs, host cells).
    const numa = (await this.repos.numa.placementOf(inst.uuid)) as InstanceSpec['numaPlacement'];
    const localDisks = (await this.opts.disks.localSources?.(inst.uuid, inst.flavor)) ?? [];
    const files = await this.guestFiles.prepare(inst, image);
    return {
      ...files,
      uuid: inst.uuid,
      displayName: inst.displayName,
      projectId: inst.projectId,
      flavor: {
        id: inst.flavor.id,
        name: inst.flavor.name,
        vcpus: inst.flavor.vcpus,
        memoryMb: inst.flavor.memoryMb,
        rootGb: inst.flavor.rootGb,
        extraSpecs: inst.flavor.extraSpecs,
      },
      image: {
        id: image.id,
        name: image.name ?? '',
        diskFormat: image.diskFormat ?? 'raw',
        properties: image.properties,
      },
      rootDisk,
      consoleLogPath: join(this.opts.instancesPath, inst.uuid, 'console.log'),
      network: { kind: 'none' },
      ...(numa ? { numaPlacement: numa } : {}),
      ...(localDisks.length ? { localDisks } : {}),
      nics: (await this.opts.nicsFor?.(inst.uuid)) ?? [],
    };
  }

  /** Resolves on the guest's "started" event, or when the guest is found running after a grace time. */
  private waitStarted(uuid: string): { promise: Promise<void>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const timeoutMs = this.opts.startedTimeoutMs ?? 60_000;
    const promise = new Promise<void>((resolve, reject) => {
      const done = () => {
        this.startedWaiters.delete(uuid);
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      };
      this.startedWaiters.set(uuid, done);
      // A driver may have emitted "started" before we listened, or may not emit it at all:
      // after a second, the guest's state answers too.
      poll = setInterval(() => {
        this.driver.info(uuid).then(
          (i) => i.state === PowerState.RUNNING && done(),
          () => undefined,
        );
      }, 1000);
      timer = setTimeout(() => {
        this.startedWaiters.delete(uuid);
        clearInterval(poll);
        reject(
          new Error(
            `the guest did not report "started" within ${timeoutMs / 1000} s after spawn. Fix: look at the QEMU log of instance ${uuid}.`,
          ),
        );
      }, timeoutMs);
    });
    promise.catch(() => undefined);
    return {
      promise,
      cancel: () => {
        this.startedWaiters.delete(uuid);
        clearTimeout(timer);
        clearInterval(poll);
      },
    };
  }

  private async handleLifecycle(e: LifecycleEvent): Promise<void> {
    if (e.kind === 'started') this.startedWaiters.get(e.uuid)?.();
    try {
      const inst = await this.repos.instances.get(e.uuid);
      if (!inst) return;
      // Events arrive after the call that caused them; like Nova, trust the guest's state
      // now (not the event's), and leave instances with a task running to that task.
      let state: number = e.state;
      try {
        state = (await this.driver.info(e.uuid)).state;
      } catch {
        // gone meanwhile: the event's state stands
      }
      if (this.busy.has(e.uuid) || inst.taskState !== null) {
        if (state !== inst.powerState) await this.repos.instances.update(e.uuid, { powerState: state });
        return;
      }
      const patch: { powerState: number; vmState?: string } = { powerState: state };
      // Nova's power-state sync: a guest that stopped by itself leaves an ACTIVE server SHUTOFF.
      if (inst.vmState === 'active' && (state === PowerState.SHUTDOWN || state === PowerState.CRASHED)) {
        patch.vmState = 'stopped';
      }
      if (state !== inst.powerState || patch.vmState) await this.repos.instances.update(e.uuid, patch);
    } catch (err) {
      this.log.warn({ instance: e.uuid, err }, 'could not record a lifecycle event');
    }
  }

  /** Start-up reconciliation: src/compute/reconcile.ts (the policy is written there). */
  reconcile(imageCache?: ReconcileImageCache): Promise<ReconcileReport> {
    return reconcileAtStartup({
      repos: this.repos,
      driver: this.driver,
      disks: this.opts.disks,
      host: this.host,
      instancesPath: this.opts.instancesPath,
      imageCache,
      guestFiles: this.guestFiles,
      logger: this.opts.logger,
    });
  }

  /** Destroys guest and disk, frees the allocations, marks the instance deleted; true on success. */
  delete(uuid: string, actionId: string): Promise<boolean> {
    this.deleteRequested.add(uuid);
    return this.serialized(uuid, async () => {
      this.deleteRequested.delete(uuid);
      const inst = await this.repos.instances.get(uuid);
      if (!inst) return false;
      try {
        await this.phase(actionId, 'compute_terminate_instance', async () => {
          try {
            await this.driver.destroy(uuid);
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
          await this.guestFiles.remove(uuid);
          await this.opts.disks.delete(uuid);
        });
        await this.repos.placement.deleteAllocations(uuid);
        await this.repos.instances.markDeleted(uuid);
        await this.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        this.log.error({ instance: uuid, err: e }, 'delete failed');
        await this.repos.instances.addFault(
          uuid,
          faultFrom(e, 'Delete of instance failed', await this.repos.instances.requestIdOfAction(actionId)),
        );
        await this.repos.instances.update(uuid, { vmState: 'error', taskState: null });
        await this.repos.instances.finishAction(actionId, 'Error');
        return false;
      }
    });
  }

  private plan(action: PowerAction, stopSeconds: number): ActionPlan {
    const p = POWER_PLANS[action];
    return { ...p, run: (d, u) => p.run(d, u, stopSeconds) };
  }

  /** Nova's clean-shutdown time: the image's os_shutdown_timeout, else the configured one. */
  private async shutdownSeconds(uuid: string): Promise<number> {
    const inst = await this.repos.instances.get(uuid);
    const image = inst ? await this.repos.images.get(inst.imageId) : undefined;
    const v = Number(image?.properties.os_shutdown_timeout);
    return Number.isInteger(v) && v >= 0 ? v : (this.opts.shutdownTimeoutSeconds ?? 60);
  }

  /** A power action; true when it succeeded. */
  act(uuid: string, action: PowerAction, actionId: string): Promise<boolean> {
    return this.serialized(uuid, async () => {
      const plan = this.plan(action, action === 'stop' ? await this.shutdownSeconds(uuid) : 0);
      try {
        await this.phase(actionId, plan.event, () => plan.run(this.driver, uuid));
        await this.repos.instances.update(uuid, {
          vmState: plan.vmState,
          taskState: null,
          powerState: plan.powerState,
        });
        await this.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        this.log.error({ instance: uuid, action, err: e }, 'instance action failed');
        let power: number | undefined;
        try {
          power = (await this.driver.info(uuid)).state;
        } catch {
          power = undefined;
        }
        await this.repos.instances.addFault(
          uuid,
          faultFrom(e, `Action ${action} failed`, await this.repos.instances.requestIdOfAction(actionId)),
        );
        await this.repos.instances.update(uuid, {
          taskState: null,
          ...(power === undefined ? {} : { powerState: power }),
        });
        await this.repos.instances.finishAction(actionId, 'Error');
        return false;
      }
    });
  }

  /** Snapshots the root disk into the queued image imageId; true when the image is active. */
  snapshot(uuid: string, imageId: string, actionId: string): Promise<boolean> {
    return this.serialized(uuid, async () => {
      const dir = join(this.opts.instancesPath, 'snapshots');
      const tmp = join(dir, `${imageId}.qcow2`);
      try {
        await this.phase(actionId, 'compute_snapshot_instance', async () => {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          await this.repos.instances.update(uuid, { taskState: 'image_pending_upload' });
          await this.driver.snapshot(uuid, tmp, 'qcow2', this.opts.disks.snapshotCopier?.(uuid));
          await this.repos.instances.update(uuid, { taskState: 'image_uploading' });
          if (!(await this.repos.images.transition(imageId, ['queued'], { status: 'saving' }))) {
            throw new KestrelError(
              'conflict',
              `image ${imageId} was deleted or changed while the snapshot was taken`,
            );
          }
          const facts = await this.opts.imageStore.put(imageId, createReadStream(tmp), {
            declaredFormat: 'qcow2',
          });
          await this.repos.images.activate(imageId, facts);
        });
        await this.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        this.log.error({ instance: uuid, image: imageId, err: e }, 'snapshot failed');
        await this.repos.images.update(imageId, { status: 'killed', failure: describeError(e) });
        await this.repos.instances.finishAction(actionId, 'Error');
        return false;
      } finally {
        rmSync(tmp, { force: true });
        await this.repos.instances.update(uuid, { taskState: null });
      }
    });
  }
}

function isNotFound(e: unknown): boolean {
  return isKestrelError(e, 'instance-not-found');
}
