// The rows of the server-action table for lock / unlock, os-resetState, changePassword,
// restore (of a soft-deleted server) and forceDelete, and the diagnostics read; all as Nova at
// microversion 2.1. The delete itself is server-delete.ts.
import type { Instance } from '../db/index.js';
import type { RequestContext } from './context.js';
import { badRequest, conflict, forbidden } from '../errors/index.js';
import { requireAdmin } from './flavors.js';
import { parseOsloBool } from './validate.js';
import { SysMetaKey } from './server-sysmeta.js';
import {
  ACCEPTED,
  argObject,
  agentOf,
  hostOf,
  noArgument,
  recordAction,
  sendCast,
  type ActionCall,
  type OpsEnv,
  type ServerActionSpec,
} from './server-common.js';
import { deleteServer } from './server-delete.js';

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

export const lockAction: ServerActionSpec<null> = {
  parse(arg, name) {
    if (arg && typeof arg === 'object' && 'locked_reason' in arg) {
      throw badRequest(
        'Invalid input for field/attribute lock: locked_reason needs microversion 2.73; at 2.1 send {"lock": null}.',
      );
    }
    return noArgument(arg, name);
  },
  lock: false,
  states: 'any',
  run: async ({ env, ctx, inst }) => (await lock(env, ctx, inst), ACCEPTED),
};

export const unlockAction: ServerActionSpec<null> = {
  parse: noArgument,
  lock: false,
  states: 'any',
  run: async ({ env, ctx, inst }) => (await unlock(env, ctx, inst), ACCEPTED),
};

async function lock(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<void> {
  await env.repos.instances.update(inst.uuid, { locked: true });
  // Nova's locked_by: "owner" when the server's project locks it, "admin" otherwise.
  await env.sysmeta.set(inst.uuid, {
    [SysMetaKey.lockedBy]: ctx.projectId === inst.projectId ? 'owner' : 'admin',
  });
  await recordInstant(env, ctx, inst, 'lock');
}

async function unlock(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<void> {
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

export const resetStateAction: ServerActionSpec<'active' | 'error'> = {
  parse(arg) {
    const a = argObject('os-resetState', arg, ['state'], ['state']);
    if (a.state !== 'error' && a.state !== 'active')
      throw badRequest(
        `Invalid input for field/attribute state: ${String(a.state)} is not one of 'active', 'error'.`,
      );
    return a.state;
  },
  adminOnly: 'os_compute_api:os-admin-actions:reset_state',
  lock: false,
  states: 'any',
  async run({ env, ctx, inst, arg }) {
    await env.repos.instances.update(inst.uuid, { vmState: arg, taskState: null });
    await recordInstant(env, ctx, inst, 'resetState');
    return ACCEPTED;
  },
};

// --- changePassword ----------------------------------------------------------------------------

export const changePasswordAction: ServerActionSpec<string> = {
  parse(arg) {
    const a = argObject('changePassword', arg, ['adminPass'], ['adminPass']);
    if (typeof a.adminPass !== 'string')
      throw badRequest('Invalid input for field/attribute adminPass: it must be a string.');
    return a.adminPass;
  },
  lock: true,
  states: ['active'],
  task: 'updating_password',
  run: async (c) => (await changePassword(c), ACCEPTED),
};

async function changePassword(c: ActionCall<string>): Promise<void> {
  const { env, ctx, inst } = c;
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
  await c.startTask();
  const actionId = await recordAction(env, ctx, inst, 'changePassword');
  try {
    await agent.setPassword({
      instanceUuid: inst.uuid,
      user: props['os_admin_user'] ?? 'root',
      password: c.arg,
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

/** restore: SOFT_DELETED → ACTIVE, the kept guest powered on. */
export const restoreAction: ServerActionSpec<null> = {
  parse: noArgument,
  lock: true,
  states: ['soft_deleted'],
  task: 'restoring',
  async run(c) {
    const { env, ctx, inst } = c;
    const host = await hostOf(env, inst, 'restore');
    await c.startTask();
    await env.sysmeta.remove(inst.uuid, [SysMetaKey.softDeletedAt]);
    const actionId = await recordAction(env, ctx, inst, 'restore');
    await sendCast(env, host, 'restore', { instanceUuid: inst.uuid, actionId });
    return ACCEPTED;
  },
};

/** forceDelete: a real delete in any state (Nova's force_delete), lock still checked. */
export const forceDeleteAction: ServerActionSpec<null> = {
  parse: noArgument,
  lock: true,
  states: 'any',
  run: async ({ env, ctx, inst }) => (await deleteServer(env, ctx, inst, { force: true }), ACCEPTED),
};
