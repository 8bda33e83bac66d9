// lock / unlock, os-resetState, changePassword, diagnostics, and deferred delete:
// with [DEFAULT] reclaim_instance_interval > 0 a DELETE is a soft delete (SOFT_DELETED, guest
// powered off, disk and allocations kept) that restore undoes, forceDelete or the reclaim
// timer finishes. All as Nova at microversion 2.1.
import { randomUUID } from 'node:crypto';
import type { Instance } from '../db/index.js';
import type { RequestContext } from './context.js';
import { badRequest, conflict, forbidden } from '../errors/index.js';
import { requireAdmin } from './flavors.js';
import { parseOsloBool } from './validate.js';
import { SysMetaKey } from './server-sysmeta.js';
import {
  argObject,
  checkLock,
  agentOf,
  hostOf,
  noArgument,
  recordAction,
  sendCast,
  startTask,
  stateConflict,
  type OpsEnv,
} from './server-common.js';

async function recordInstant(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  action: string,
  error = false,
) {
  const id = await recordAction(env, ctx, inst, action);
  await env.repos.instances.finishAction(id, error ? 'Error' : null);
}

// --- lock ----------------------------------------------------------------------------------

export async function lock(env: OpsEnv, ctx: RequestContext, inst: Instance, arg: unknown): Promise<void> {
  if (arg && typeof arg === 'object' && 'locked_reason' in arg) {
    throw badRequest(
      'Invalid input for field/attribute lock: locked_reason needs microversion 2.73; at 2.1 send {"lock": null}.',
    );
  }
  noArgument('lock', arg);
  await env.repos.instances.update(inst.uuid, { locked: true });
  // Nova's locked_by: "owner" when the server's project locks it, "admin" otherwise.
  await env.sysmeta.set(inst.uuid, {
    [SysMetaKey.lockedBy]: ctx.projectId === inst.projectId ? 'owner' : 'admin',
  });
  await recordInstant(env, ctx, inst, 'lock');
}

export async function unlock(env: OpsEnv, ctx: RequestContext, inst: Instance, arg: unknown): Promise<void> {
  noArgument('unlock', arg);
  const lockedBy = (await env.sysmeta.get(inst.uuid))[SysMetaKey.lockedBy];
  const expected = ctx.projectId === inst.projectId ? 'owner' : 'admin';
  if (inst.locked && lockedBy !== undefined && lockedBy !== expected && !ctx.isAdmin) {
    throw forbidden(
      `Instance ${inst.uuid} was locked by an administrator; only an administrator may unlock it (policy os_compute_api:os-lock-server:unlock:unlock_override).`,
    );
  }
  await env.repos.instances.update(inst.uuid, { locked: false });
  await env.sysmeta.remove(inst.uuid, [SysMetaKey.lockedBy]);
  await recordInstant(env, ctx, inst, 'unlock');
}

// --- os-resetState -----------------------------------------------------------------------------

export async function resetState(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  arg: unknown,
): Promise<void> {
  requireAdmin(ctx, 'os_compute_api:os-admin-actions:reset_state');
  const a = argObject('os-resetState', arg, ['state'], ['state']);
  if (a.state !== 'error' && a.state !== 'active')
    throw badRequest(
      `Invalid input for field/attribute state: ${String(a.state)} is not one of 'active', 'error'.`,
    );
  await env.repos.instances.update(inst.uuid, { vmState: a.state, taskState: null });
  await recordInstant(env, ctx, inst, 'resetState');
}

// --- changePassword ----------------------------------------------------------------------------

export async function changePassword(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  arg: unknown,
): Promise<void> {
  const a = argObject('changePassword', arg, ['adminPass'], ['adminPass']);
  if (typeof a.adminPass !== 'string')
    throw badRequest('Invalid input for field/attribute adminPass: it must be a string.');
  checkLock(ctx, inst);
  if (inst.vmState !== 'active' || inst.taskState !== null) throw stateConflict(inst, 'changePassword');
  const agent = await agentOf(env, inst, 'changePassword');
  const props = (await env.repos.images.get(inst.imageId))?.properties ?? {};
  const agentOn = props['hw_qemu_guest_agent'] !== undefined && parseOsloBool(props['hw_qemu_guest_agent']);
  if (!agentOn) {
    await recordInstant(env, ctx, inst, 'changePassword', true);
    throw conflict(
      `QEMU guest agent is not enabled for instance ${inst.uuid}: setting the admin password needs qemu-guest-agent in the guest. ` +
        'Fix: boot (or rebuild) from an image with hw_qemu_guest_agent=yes that runs qemu-guest-agent, or set the password inside the guest.',
    );
  }
  await startTask(env, inst, ['active'], 'updating_password', 'changePassword');
  const actionId = await recordAction(env, ctx, inst, 'changePassword');
  try {
    await agent.setPassword({
      instanceUuid: inst.uuid,
      user: props['os_admin_user'] ?? 'root',
      password: a.adminPass,
    });
    await env.repos.instances.finishAction(actionId, null);
  } catch (e) {
    await env.repos.instances.finishAction(actionId, 'Error');
    throw conflict(
      `Failed to set admin password on ${inst.uuid} because ${e instanceof Error ? e.message : String(e)}. ` +
        'Fix: make sure qemu-guest-agent runs in the guest and supports guest-set-user-password.',
    );
  } finally {
    await env.repos.instances.update(inst.uuid, { taskState: null });
  }
}

// --- diagnostics -----------------------------------------------------------------------------

export async function diagnostics(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
): Promise<Record<string, unknown>> {
  requireAdmin(ctx, 'os_compute_api:os-server-diagnostics');
  const agent = await agentOf(env, inst, 'get_diagnostics');
  const info = await agent.diagnostics({ instanceUuid: inst.uuid }).catch(() => undefined);
  if (!info || info.powerState !== 1) {
    throw conflict(
      `Instance ${inst.uuid} is not running (vm_state ${inst.vmState}). Cannot get_diagnostics while the instance is in this state. Fix: start it first.`,
    );
  }
  // The pre-2.48 form is the driver's own dictionary (libvirt: cpu time, memory in KiB).
  return {
    // Per-vCPU times are not read; with one vCPU the total is cpu0_time, as libvirt reports it.
    [info.vcpus === 1 ? 'cpu0_time' : 'cpu_time']: info.cpuTimeNs,
    vcpus: info.vcpus,
    memory: info.maxMemoryKb,
    'memory-actual': info.memoryKb,
  };
}

// --- deferred delete ---------------------------------------------------------------------------

/**
 * DELETE with reclaim_instance_interval > 0: a soft delete when the server runs on a host and
 * has been launched (Nova falls back to a real delete otherwise). Returns false when the
 * caller must do the real delete.
 */
export async function softDelete(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<boolean> {
  if (env.options.reclaimInstanceInterval <= 0) return false;
  if (
    !inst.host ||
    !inst.launchedAt ||
    ['soft_deleted', 'shelved_offloaded', 'building'].includes(inst.vmState)
  )
    return false;
  // A host that cannot be reached gets the real delete (a local one, as Nova's).
  const l = await env.agents.liveness(inst.host);
  if (!l.registered || !l.up) return false;
  checkLock(ctx, inst);
  if (inst.taskState !== null) throw stateConflict(inst, 'delete');
  const previous = inst.vmState;
  if (!(await env.repos.instances.startTask(inst.uuid, [previous], 'soft-deleting')))
    throw stateConflict(inst, 'delete');
  await env.sysmeta.set(inst.uuid, { [SysMetaKey.softDeletedAt]: new Date().toISOString() });
  const actionId = await recordAction(env, ctx, inst, 'delete');
  await sendCast(env, inst.host, 'softDelete', {
    instanceUuid: inst.uuid,
    actionId,
    previousVmState: previous,
  });
  return true;
}

export async function restore(env: OpsEnv, ctx: RequestContext, inst: Instance, arg: unknown): Promise<void> {
  noArgument('restore', arg);
  checkLock(ctx, inst);
  const host = await hostOf(env, inst, 'restore');
  await startTask(env, inst, ['soft_deleted'], 'restoring', 'restore');
  await env.sysmeta.remove(inst.uuid, [SysMetaKey.softDeletedAt]);
  const actionId = await recordAction(env, ctx, inst, 'restore');
  await sendCast(env, host, 'restore', { instanceUuid: inst.uuid, actionId });
}

/** forceDelete: a real delete in any state (Nova's force_delete), lock still checked. */
export async function forceDelete(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  arg: unknown,
): Promise<void> {
  noArgument('forceDelete', arg);
  checkLock(ctx, inst);
  await hardDelete(env, ctx, inst);
}

/** The real delete (ServerService.delete) plus this area's leftovers: shelved image, sysmeta. */
export async function hardDelete(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<void> {
  const meta = await env.sysmeta.get(inst.uuid);
  if (inst.taskState !== null && inst.vmState === 'soft_deleted') {
    await env.repos.instances.update(inst.uuid, { taskState: null });
  }
  await env.servers.delete(ctx, inst.uuid);
  const shelved = meta[SysMetaKey.shelvedImageId];
  if (shelved) {
    // The service's own image: deleted with the service's rights, whoever deletes the server.
    await env.images
      .delete({ ...ctx, isAdmin: true }, shelved)
      .catch((err) =>
        env.log.warn({ err, image: shelved }, 'could not delete the shelved image of a deleted server'),
      );
  }
  await env.sysmeta.remove(inst.uuid, Object.keys(meta));
}

/** The reclaim timer: real deletes of servers soft-deleted more than the interval ago. */
export async function reclaimSoftDeleted(env: OpsEnv, now = Date.now()): Promise<number> {
  const interval = env.options.reclaimInstanceInterval;
  if (interval <= 0) return 0;
  let n = 0;
  for (const [uuid, at] of await env.sysmeta.withKey(SysMetaKey.softDeletedAt)) {
    const inst = await env.repos.instances.get(uuid);
    if (!inst) {
      await env.sysmeta.remove(uuid, [SysMetaKey.softDeletedAt]);
      continue;
    }
    if (inst.vmState !== 'soft_deleted' || inst.taskState !== null) continue;
    if (now - Date.parse(at) < interval * 1000) continue;
    const ctx: RequestContext = {
      userId: inst.userId,
      userName: 'kestrel-reclaim',
      projectId: inst.projectId,
      projectName: '',
      roles: ['admin'],
      isAdmin: true,
      requestId: `req-${randomUUID()}`,
    };
    await hardDelete(env, ctx, inst);
    n++;
  }
  return n;
}
