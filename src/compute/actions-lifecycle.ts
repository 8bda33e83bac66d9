// Compute-side operations of the server actions beyond power: rebuild, shelve / offload /
// unshelve, backup with rotation, soft delete / restore, diagnostics and the guest-agent
// password. Each runs under the instance's lock (ComputeManager.runOperation), records its
// steps as timed events of the instance action, and undoes its own steps on failure with a
// revert stack; a failure leaves a fault, the task cleared and the action marked Error.
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRecord, Instance } from '../db/index.js';
import { PowerState, type InstanceInfo } from '../virt/driver.js';
import { withRevert, type Revert } from '../util/revert.js';
import type { ManagerSeams, OperationRunner } from './actions-seams.js';
import type { DiskName } from '../images/backends/backend.js';
import { describeError, faultFrom } from './faults.js';
import { isKestrelError, KestrelError } from '../errors/index.js';

const GiB = 1024 ** 3;

/** What a failed operation sets the instance back to (vm_state; power read from the guest). */
interface Failure {
  what: string;
  vmState?: string;
}

export class LifecycleOperations {
  constructor(private readonly runner: OperationRunner) {}

  get host(): string {
    return this.runner.host;
  }

  // --- shared steps ----------------------------------------------------------------------

  private async fail(s: ManagerSeams, uuid: string, actionId: string, f: Failure, e: unknown) {
    s.log.error({ instance: uuid, err: e }, `${f.what} failed`);
    let power: number | undefined;
    try {
      power = (await s.driver.info(uuid)).state;
    } catch {
      power = undefined;
    }
    await s.repos.instances.addFault(
      uuid,
      faultFrom(e, `${f.what} of instance failed`, await s.repos.instances.requestIdOfAction(actionId)),
    );
    await s.repos.instances.update(uuid, {
      taskState: null,
      ...(f.vmState ? { vmState: f.vmState } : {}),
      ...(power === undefined ? {} : { powerState: power }),
    });
    await s.repos.instances.finishAction(actionId, 'Error');
  }

  /** Nova's clean-shutdown time: the image's os_shutdown_timeout, else [DEFAULT] shutdown_timeout. */
  private async shutdownSeconds(s: ManagerSeams, uuid: string): Promise<number> {
    const inst = await s.repos.instances.get(uuid);
    const image = inst ? await s.repos.images.get(inst.imageId) : undefined;
    const v = Number(image?.properties.os_shutdown_timeout);
    return Number.isInteger(v) && v >= 0 ? v : s.shutdownTimeoutSeconds;
  }

  private undoFailed(s: ManagerSeams, uuid: string) {
    return (f: { label: string; error: unknown }) =>
      s.log.error({ instance: uuid, step: f.label, err: f.error }, 'undo of a failed step failed');
  }

  /** Snapshot of the root disk into the queued image imageId (ends active, or throws). */
  private async upload(s: ManagerSeams, uuid: string, imageId: string, uploadingTask: string) {
    const dir = join(s.instancesPath, 'snapshots');
    const tmp = join(dir, `${imageId}.qcow2`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      await s.driver.snapshot(uuid, tmp, 'qcow2', s.disks.snapshotCopier?.(uuid));
      await s.repos.instances.update(uuid, { taskState: uploadingTask });
      if (!(await s.repos.images.transition(imageId, ['queued'], { status: 'saving' }))) {
        throw new KestrelError(
          'conflict',
          `image ${imageId} was deleted or changed while the snapshot was taken`,
        );
      }
      const facts = await s.imageStore.put(imageId, createReadStream(tmp), { declaredFormat: 'qcow2' });
      await s.repos.images.activate(imageId, facts);
    } catch (e) {
      await s.repos.images.update(imageId, { status: 'killed', failure: describeError(e) }).catch(() => {});
      throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  private async deleteImage(s: ManagerSeams, imageId: string): Promise<void> {
    await s.imageStore.delete(imageId).catch(() => undefined);
    await s.repos.images.delete(imageId);
  }

  /** Powers the guest off if it runs; registers powering it on again as the undo. */
  private async powerOffFor(s: ManagerSeams, uuid: string, r: Revert): Promise<void> {
    const state = (await s.driver.info(uuid)).state;
    if (state === PowerState.SHUTDOWN || state === PowerState.CRASHED) return;
    await s.driver.powerOff(uuid, await this.shutdownSeconds(s, uuid));
    if (state === PowerState.RUNNING) r.add('power the guest on again', () => s.driver.powerOn(uuid));
    if (state === PowerState.PAUSED) {
      r.add('power the guest on again, paused', async () => {
        await s.driver.powerOn(uuid);
        await s.driver.pause(uuid);
      });
    }
  }

  /** Creates the root disk from image, spawns and waits for "started"; undos registered. */
  private async spawnFrom(
    s: ManagerSeams,
    inst: Instance,
    image: ImageRecord,
    actionId: string,
    r: Revert,
    kept: readonly DiskName[] = [],
  ) {
    const disk = await s.phase(actionId, 'compute_prepare_root_disk', () =>
      s.disks.create(
        inst.uuid,
        { id: image.id, diskFormat: image.diskFormat ?? 'raw', virtualSize: image.virtualSize },
        inst.flavor.rootGb * GiB,
      ),
    );
    r.add('remove the new root disk', () => s.disks.delete(inst.uuid));
    r.add('remove the config drive', () => s.guestFiles.remove(inst.uuid));
    await s.createLocalDisks(inst, actionId, kept);
    const started = s.waitStarted(inst.uuid);
    try {
      await s.phase(actionId, 'compute_spawn', () =>
        s.specFor(inst, image, disk).then((spec) => s.driver.spawn(spec)),
      );
      r.add('destroy the new guest', () => s.driver.destroy(inst.uuid));
      await s.phase(actionId, 'compute_wait_for_started_event', () => started.promise);
    } finally {
      started.cancel();
    }
  }

  // --- rebuild ---------------------------------------------------------------------------

  /**
   * Recreates the root disk from imageId and boots it in a guest with the same uuid and name.
   * A server that was SHUTOFF is powered off again afterwards (Nova keeps its power state).
   * The old disk is gone once the new one is being made, so a failure from there on leaves
   * the server in ERROR with the fault (as Nova does), with the new disk and guest removed.
   */
  rebuild(
    uuid: string,
    actionId: string,
    imageId: string,
    previousVmState: string,
    preserveEphemeral = false,
  ): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      const inst = await s.repos.instances.get(uuid);
      if (!inst) return false;
      try {
        const image = await s.repos.images.get(imageId);
        if (!image || image.status !== 'active')
          throw new KestrelError('image-not-found', `image ${imageId} is no longer active`);
        await s.phase(actionId, 'compute_rebuild_instance', () =>
          withRevert(
            async (r) => {
              try {
                await s.driver.destroy(uuid);
              } catch (e) {
                if (!isKestrelError(e, 'instance-not-found')) throw e;
              }
              await s.repos.instances.update(uuid, { taskState: 'rebuild_block_device_mapping' });
              // preserve_ephemeral: the ephemeral disk keeps its data (Nova's rebuild option).
              const keep: DiskName[] = preserveEphemeral ? ['disk.local'] : [];
              await s.disks.delete(uuid, { keep });
              await s.repos.instances.update(uuid, { taskState: 'rebuild_spawning' });
              await this.spawnFrom(s, inst, image, actionId, r, keep);
              // Nova stops a rebuilt STOPPED server without a clean shutdown (clean_shutdown=False).
              if (previousVmState === 'stopped') await s.driver.powerOff(uuid, 0);
            },
            this.undoFailed(s, uuid),
          ),
        );
        await s.repos.db
          .updateTable('instances')
          .set({ image_id: imageId })
          .where('uuid', '=', uuid)
          .execute();
        const stopped = previousVmState === 'stopped';
        await s.repos.instances.update(uuid, {
          vmState: stopped ? 'stopped' : 'active',
          taskState: null,
          powerState: stopped ? PowerState.SHUTDOWN : PowerState.RUNNING,
          launchedAt: new Date().toISOString(),
        });
        await s.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        await this.fail(s, uuid, actionId, { what: 'Rebuild', vmState: 'error' }, e);
        return false;
      }
    });
  }

  // --- shelve ----------------------------------------------------------------------------

  /**
   * Powers off, snapshots the disk into imageId (SHELVED), then offloads at once when asked.
   * Undo on failure: the guest is powered on again if it was running; the image is killed.
   */
  shelve(
    uuid: string,
    actionId: string,
    imageId: string,
    previousVmState: string,
    offloadNow: boolean,
  ): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      if (!(await s.repos.instances.get(uuid))) return false;
      try {
        await s.phase(actionId, 'compute_shelve_instance', () =>
          withRevert(
            async (r) => {
              await this.powerOffFor(s, uuid, r);
              await s.repos.instances.update(uuid, { taskState: 'shelving_image_pending_upload' });
              await this.upload(s, uuid, imageId, 'shelving_image_uploading');
            },
            this.undoFailed(s, uuid),
          ),
        );
        await s.repos.instances.update(uuid, {
          vmState: 'shelved',
          taskState: offloadNow ? 'shelving_offloading' : null,
          powerState: PowerState.SHUTDOWN,
        });
      } catch (e) {
        await this.fail(s, uuid, actionId, { what: 'Shelve', vmState: previousVmState }, e);
        return false;
      }
      if (!offloadNow) {
        await s.repos.instances.finishAction(actionId, null);
        return true;
      }
      return this.offloadLocked(s, uuid, actionId);
    });
  }

  /** SHELVED → SHELVED_OFFLOADED: guest undefined, disk removed, allocations freed, no host. */
  offload(uuid: string, actionId: string): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => this.offloadLocked(s, uuid, actionId));
  }

  private async offloadLocked(s: ManagerSeams, uuid: string, actionId: string): Promise<boolean> {
    if (!(await s.repos.instances.get(uuid))) return false;
    try {
      await s.phase(actionId, 'compute_shelve_offload_instance', async () => {
        try {
          await s.driver.destroy(uuid);
        } catch (e) {
          if (!isKestrelError(e, 'instance-not-found')) throw e;
        }
        await s.guestFiles.remove(uuid);
        await s.disks.delete(uuid);
      });
      await s.repos.placement.deleteAllocations(uuid);
      await s.repos.instances.update(uuid, {
        vmState: 'shelved_offloaded',
        taskState: null,
        powerState: PowerState.NOSTATE,
        host: null,
        node: null,
      });
      await s.repos.instances.finishAction(actionId, null);
      return true;
    } catch (e) {
      await this.fail(s, uuid, actionId, { what: 'Shelve offload', vmState: 'shelved' }, e);
      return false;
    }
  }

  /**
   * SHELVED (still here): powers the guest on. SHELVED_OFFLOADED (scheduled here by the
   * caller): a new root disk from the shelved image and a new guest with the same uuid.
   * Either way the shelved image is deleted once the server runs. On failure the new disk and
   * guest are removed and the server is back in its shelved state with a fault.
   */
  unshelve(uuid: string, actionId: string, shelvedImageId: string | undefined): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      const inst = await s.repos.instances.get(uuid);
      if (!inst) return false;
      const offloaded = inst.vmState === 'shelved_offloaded';
      try {
        await s.phase(actionId, 'compute_unshelve_instance', () =>
          withRevert(
            async (r) => {
              if (!offloaded) {
                await s.driver.powerOn(uuid);
                return;
              }
              const image = shelvedImageId ? await s.repos.images.get(shelvedImageId) : undefined;
              if (!image || image.status !== 'active') {
                throw new KestrelError(
                  'image-not-found',
                  `the shelved image ${shelvedImageId ?? '(none recorded)'} of instance ${uuid} is missing or not active.`,
                  { fix: 'rebuild the server from an image, or delete it' },
                );
              }
              await s.repos.instances.update(uuid, { taskState: 'spawning' });
              await this.spawnFrom(s, inst, image, actionId, r);
            },
            this.undoFailed(s, uuid),
          ),
        );
        if (shelvedImageId) await this.deleteImage(s, shelvedImageId).catch(() => undefined);
        await s.repos.instances.update(uuid, {
          vmState: 'active',
          taskState: null,
          powerState: PowerState.RUNNING,
          launchedAt: new Date().toISOString(),
        });
        await s.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        if (offloaded) {
          await s.repos.placement.deleteAllocations(uuid);
          await s.repos.instances.update(uuid, { host: null, node: null });
        }
        await this.fail(
          s,
          uuid,
          actionId,
          { what: 'Unshelve', vmState: offloaded ? 'shelved_offloaded' : 'shelved' },
          e,
        );
        return false;
      }
    });
  }

  // --- backup ----------------------------------------------------------------------------

  /**
   * Snapshots into imageId, then deletes this server's older backups of backupType beyond
   * rotation (newest kept; rotation 0 keeps none, the new one included, as Nova).
   */
  backup(
    uuid: string,
    actionId: string,
    imageId: string,
    backupType: string,
    rotation: number,
  ): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      if (!(await s.repos.instances.get(uuid))) return false;
      try {
        await s.phase(actionId, 'compute_backup_instance', async () => {
          await s.repos.instances.update(uuid, { taskState: 'image_pending_upload' });
          await this.upload(s, uuid, imageId, 'image_uploading');
          const backups = (await s.repos.images.list())
            .filter(
              (i) =>
                i.properties.image_type === 'backup' &&
                i.properties.instance_uuid === uuid &&
                i.properties.backup_type === backupType,
            )
            .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id === imageId ? -1 : 1));
          for (const old of backups.slice(rotation)) await this.deleteImage(s, old.id);
        });
        await s.repos.instances.update(uuid, { taskState: null });
        await s.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        await this.fail(s, uuid, actionId, { what: 'Backup' }, e);
        return false;
      }
    });
  }

  // --- soft delete / restore --------------------------------------------------------------

  /** Powers the guest off and keeps it, its disk and its allocations (SOFT_DELETED). */
  softDelete(uuid: string, actionId: string, previousVmState: string): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      if (!(await s.repos.instances.get(uuid))) return false;
      try {
        await s.phase(actionId, 'compute_soft_delete_instance', async () => {
          const state = (await s.driver.info(uuid)).state;
          if (state !== PowerState.SHUTDOWN && state !== PowerState.CRASHED)
            await s.driver.powerOff(uuid, await this.shutdownSeconds(s, uuid));
        });
        await s.repos.instances.update(uuid, {
          vmState: 'soft_deleted',
          taskState: null,
          powerState: PowerState.SHUTDOWN,
        });
        await s.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        await this.fail(s, uuid, actionId, { what: 'Soft delete', vmState: previousVmState }, e);
        return false;
      }
    });
  }

  /** SOFT_DELETED → ACTIVE: powers the kept guest on. */
  restore(uuid: string, actionId: string): Promise<boolean> {
    return this.runner.runOperation(uuid, async (s) => {
      if (!(await s.repos.instances.get(uuid))) return false;
      try {
        await s.phase(actionId, 'compute_restore_instance', () => s.driver.powerOn(uuid));
        await s.repos.instances.update(uuid, {
          vmState: 'active',
          taskState: null,
          powerState: PowerState.RUNNING,
        });
        await s.repos.instances.finishAction(actionId, null);
        return true;
      } catch (e) {
        await this.fail(s, uuid, actionId, { what: 'Restore', vmState: 'soft_deleted' }, e);
        return false;
      }
    });
  }

  // --- read-only / guest agent ----------------------------------------------------------------

  diagnostics(uuid: string): Promise<InstanceInfo> {
    return this.runner.runOperation(uuid, (s) => s.driver.info(uuid));
  }

  /** guest-set-user-password through the guest agent (password base64, as qemu-ga wants). */
  setPassword(uuid: string, user: string, password: string): Promise<void> {
    return this.runner.runOperation(uuid, async (s) => {
      const command = JSON.stringify({
        execute: 'guest-set-user-password',
        arguments: { username: user, password: Buffer.from(password).toString('base64'), crypted: false },
      });
      const reply = JSON.parse(await s.driver.agentCommand(uuid, command, 10)) as {
        error?: { desc?: string };
      };
      if (reply.error)
        throw new KestrelError('agent-failed', reply.error.desc ?? 'the guest agent refused the password');
    });
  }
}
