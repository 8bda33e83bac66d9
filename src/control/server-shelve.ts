// shelve, shelveOffload, unshelve (Nova at 2.1). Shelving snapshots the disk into an image
// "<name>-shelved" and powers the guest off (SHELVED); offloading frees the host — guest
// undefined, disk removed, allocations released, no host (SHELVED_OFFLOADED) — at once, after
// [DEFAULT] shelved_offload_time seconds, or never (-1). Unshelving powers a SHELVED guest on,
// or schedules an offloaded one again and boots it from the shelved image; the shelved image
// is deleted once the server runs.
import { randomUUID } from 'node:crypto';
import type { Instance } from '../db/index.js';
import { KestrelError, badRequest } from '../errors/index.js';
import { buildResourceRequest } from './scheduler/request.js';
import { claimResources } from './scheduler/claim.js';
import { faultFrom } from '../compute/faults.js';
import { SysMetaKey } from './server-sysmeta.js';
import {
  ACCEPTED,
  hostOf,
  createInstanceImage,
  noArgument,
  recordAction,
  sendCast,
  type ActionCall,
  type OpsEnv,
  type ServerActionSpec,
} from './server-common.js';

const GiB = 1024 ** 3;
/** Nova: shelve from ACTIVE, STOPPED, PAUSED, SUSPENDED. */
export const SHELVE_FROM = ['active', 'stopped', 'paused', 'suspended'];
export const UNSHELVE_FROM = ['shelved', 'shelved_offloaded'];
const SHELVE_KEYS = [SysMetaKey.shelvedImageId, SysMetaKey.shelvedAt, SysMetaKey.shelvedHost];

export const shelveAction: ServerActionSpec<null> = {
  parse: noArgument,
  lock: true,
  states: SHELVE_FROM,
  task: 'shelving',
  run: async (c) => (await shelve(c), ACCEPTED),
};

export const shelveOffloadAction: ServerActionSpec<null> = {
  parse: noArgument,
  adminOnly: 'os_compute_api:os-shelve:shelve_offload',
  lock: true,
  states: ['shelved'],
  task: 'shelving_offloading',
  run: async (c) => (await shelveOffload(c), ACCEPTED),
};

export const unshelveAction: ServerActionSpec<null> = {
  parse(arg) {
    if (arg !== null && arg !== undefined && !(typeof arg === 'object' && Object.keys(arg).length === 0)) {
      throw badRequest(
        'Invalid input for field/attribute unshelve: at microversion 2.1 unshelve takes no arguments ({"unshelve": null}); availability_zone needs 2.77.',
      );
    }
    return null;
  },
  lock: true,
  states: UNSHELVE_FROM,
  task: 'unshelving',
  run: async (c) => (await unshelve(c), ACCEPTED),
};

async function shelve(c: ActionCall<null>): Promise<void> {
  const { env, ctx, inst } = c;
  const host = await hostOf(env, inst, 'shelve');
  const previous = inst.vmState;
  await c.startTask();
  let imageId: string;
  try {
    const image = await createInstanceImage(
      env.repos,
      env.images,
      ctx,
      inst,
      `${inst.displayName}-shelved`,
      'snapshot',
    );
    imageId = image.id;
    await env.sysmeta.set(inst.uuid, {
      [SysMetaKey.shelvedImageId]: image.id,
      [SysMetaKey.shelvedAt]: new Date().toISOString(),
      [SysMetaKey.shelvedHost]: inst.host ?? '',
    });
  } catch (e) {
    await env.repos.instances.update(inst.uuid, { taskState: null });
    throw e;
  }
  const actionId = await recordAction(env, ctx, inst, 'shelve');
  const offloadTime = env.options.shelvedOffloadTime;
  // Failed (the server is back as it was): the half-made shelved image goes too.
  const undo = async () => {
    await env.sysmeta.remove(inst.uuid, SHELVE_KEYS);
    await env.images.delete({ ...ctx, isAdmin: true }, imageId).catch(() => undefined);
  };
  const cast = await sendCast(env, host, 'shelve', {
    instanceUuid: inst.uuid,
    actionId,
    imageId,
    previousVmState: previous,
    offloadNow: offloadTime === 0,
  }).catch(async (e: unknown) => {
    await undo();
    throw e;
  });
  env.background(
    cast.finished.then(async (report) => {
      if (!report.ok) return undo();
      if (offloadTime > 0) env.scheduleOffload(inst.uuid, offloadTime);
    }),
  );
}

async function shelveOffload(c: ActionCall<null>): Promise<void> {
  const { env, ctx, inst } = c;
  const host = await hostOf(env, inst, 'shelveOffload');
  await c.startTask();
  const actionId = await recordAction(env, ctx, inst, 'shelveOffload');
  await sendCast(env, host, 'shelveOffload', { instanceUuid: inst.uuid, actionId });
}

/** The timer's offload (shelved_offload_time > 0): records its own action as the system. */
export async function offloadLater(env: OpsEnv, uuid: string): Promise<void> {
  const inst = await env.repos.instances.get(uuid);
  if (!inst || inst.vmState !== 'shelved' || inst.taskState !== null || !inst.host) return;
  const l = await env.agents.liveness(inst.host);
  if (!l.registered || !l.up) {
    env.log.warn({ instance: uuid, host: inst.host }, 'shelved offload skipped: the host is not reachable');
    return;
  }
  if (!(await env.repos.instances.startTask(uuid, ['shelved'], 'shelving_offloading'))) return;
  const a = await env.repos.instances.startAction({
    instanceUuid: uuid,
    requestId: `req-${randomUUID()}`,
    action: 'shelveOffload',
    userId: inst.userId,
    projectId: inst.projectId,
  });
  const { finished } = await env.agents.cast(inst.host, 'shelveOffload', {
    instanceUuid: uuid,
    actionId: a.id,
  });
  await finished;
}

async function unshelve(c: ActionCall<null>): Promise<void> {
  const { env, ctx, inst } = c;
  const shelvedImageId = (await env.sysmeta.get(inst.uuid))[SysMetaKey.shelvedImageId];
  const host = inst.vmState === 'shelved' ? await hostOf(env, inst, 'unshelve') : undefined;
  await c.startTask();
  const actionId = await recordAction(env, ctx, inst, 'unshelve');
  const done = (ok: boolean) => (ok ? env.sysmeta.remove(inst.uuid, SHELVE_KEYS) : undefined);
  if (host) {
    const { finished } = await sendCast(env, host, 'unshelve', {
      instanceUuid: inst.uuid,
      actionId,
      shelvedImageId: shelvedImageId ?? null,
    });
    env.background(finished.then((r) => done(r.ok)));
    return;
  }
  env.background(scheduleAndUnshelve(env, inst, actionId, shelvedImageId).then(done));
}

/** Offloaded: claim a host as a boot would (conductor's schedule_and_build), then boot there. */
async function scheduleAndUnshelve(
  env: OpsEnv,
  inst: Instance,
  actionId: string,
  shelvedImageId: string | undefined,
): Promise<boolean> {
  const ev = await env.repos.instances.startEvent(actionId, 'schedule_instances');
  let host: string;
  try {
    const image = shelvedImageId ? await env.repos.images.get(shelvedImageId) : undefined;
    if (!image) {
      throw new KestrelError(
        'conflict',
        `the shelved image ${shelvedImageId ?? '(none recorded)'} of instance ${inst.uuid} is gone. Fix: rebuild the server from an image, or delete it.`,
      );
    }
    const req = buildResourceRequest(
      inst.flavor,
      image.properties,
      Math.ceil((image.virtualSize ?? 0) / GiB),
    );
    const disabled = new Set(
      (await env.repos.services.list())
        .filter((s) => s.binary === 'nova-compute' && s.disabled)
        .map((s) => s.host),
    );
    host = (await claimResources(env.repos, inst.uuid, req, { disabledHosts: disabled })).host;
    try {
      await env.agents.reach(host);
    } catch (e) {
      await env.repos.placement.deleteAllocations(inst.uuid);
      throw e;
    }
    await env.repos.instances.finishEvent(ev, 'Success');
  } catch (e) {
    const fault = faultFrom(e, 'Unshelve failed', await env.repos.instances.requestIdOfAction(actionId));
    await env.repos.instances.finishEvent(ev, 'Error', fault.details);
    await env.repos.instances.addFault(inst.uuid, fault);
    await env.repos.instances.update(inst.uuid, { taskState: null });
    await env.repos.instances.finishAction(actionId, 'Error');
    return false;
  }
  await env.repos.instances.update(inst.uuid, { host, node: host });
  try {
    const { finished } = await env.agents.cast(host, 'unshelve', {
      instanceUuid: inst.uuid,
      actionId,
      shelvedImageId: shelvedImageId ?? null,
    });
    return (await finished).ok;
  } catch (e) {
    await env.repos.placement.deleteAllocations(inst.uuid);
    const rid = await env.repos.instances.requestIdOfAction(actionId);
    await env.repos.instances.addFault(inst.uuid, faultFrom(e, 'Unshelve failed', rid));
    await env.repos.instances.update(inst.uuid, { host: null, node: null, taskState: null });
    await env.repos.instances.finishAction(actionId, 'Error');
    return false;
  }
}
