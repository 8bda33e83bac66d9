// The one delete path of a server: DELETE /servers/{id}, the forceDelete action and the reclaim
// timer all come here. The lock is checked once; with [DEFAULT] reclaim_instance_interval > 0
// a DELETE is a soft delete (SOFT_DELETED, guest powered off, disk and allocations kept) that
// restore undoes and forceDelete or the reclaim timer finishes; otherwise the host's agent
// destroys the guest and its disk, and a server on no host, or on a host that is down, is
// deleted locally (Nova's local delete; the host's start-up reconciliation removes what is left).
import { randomUUID } from 'node:crypto';
import type { Instance } from '../db/index.js';
import type { RequestContext } from './context.js';
import { SysMetaKey } from './server-sysmeta.js';
import { checkLock, recordAction, sendCast, stateConflict, type OpsEnv } from './server-common.js';

/** Deletes the server: soft when deferred delete is on (unless forced), else for real. */
export async function deleteServer(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  opts: { force: boolean },
): Promise<void> {
  checkLock(ctx, inst);
  if (!opts.force && (await softDelete(env, ctx, inst))) return;
  env.cancelOffload(inst.uuid);
  await hardDelete(env, ctx, inst);
}

/**
 * DELETE with reclaim_instance_interval > 0: a soft delete when the server runs on a host and
 * has been launched (Nova falls back to a real delete otherwise). Returns false when the
 * caller must do the real delete.
 */
async function softDelete(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<boolean> {
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

/** The real delete, then the leftovers of other actions: the shelved image, system metadata. */
async function hardDelete(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<void> {
  const meta = await env.sysmeta.get(inst.uuid);
  await destroy(env, ctx, inst);
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
    await deleteServer(env, ctx, inst, { force: true });
    n++;
  }
  return n;
}

/** Hands the delete to the instance's host, or deletes locally when no host can do it. */
async function destroy(env: OpsEnv, ctx: RequestContext, inst: Instance): Promise<void> {
  await env.repos.instances.update(inst.uuid, { taskState: 'deleting' });
  const actionId = await recordAction(env, ctx, inst, 'delete');
  const host = inst.host;
  const l = host ? await env.agents.liveness(host) : undefined;
  if (host && l?.registered && l.up) {
    const { finished } = await sendCast(env, host, 'delete', { instanceUuid: inst.uuid, actionId });
    // The server's ports go once its guest is gone (Kestrel's own deleted, pre-created unbound).
    env.background(finished.then(() => releasePorts(env, inst.uuid)));
    return;
  }
  // Never reached a host (no valid host, or still scheduling): nothing to destroy there. A host
  // that is down gets Nova's local delete: its start-up reconciliation removes the guest and
  // disk of a deleted instance when it comes back.
  if (host) env.log.warn({ instance: inst.uuid, host }, 'deleting locally: the host is not reachable');
  await env.repos.placement.deleteAllocations(inst.uuid);
  await env.repos.instances.markDeleted(inst.uuid);
  await env.repos.instances.finishAction(actionId, null);
  await releasePorts(env, inst.uuid);
}

async function releasePorts(env: OpsEnv, uuid: string): Promise<void> {
  if (!env.network) return;
  if (await env.repos.instances.get(uuid)) return; // the delete failed: the guest keeps them
  await env.network.release(uuid);
}
