// POST /servers/{id}/action for the names ServerService answers: the power actions with their
// vm_state preconditions, reboot, the console output, and createImage (snapshot). The names
// control/server-ops.ts owns (rebuild, shelve, lock, unlock, os-resetState, forceDelete, …)
// never reach here: a preHandler in api/compute/server-actions.ts answers them first.
import type { ImageRecord, Instance } from '../db/index.js';
import type { PowerAction } from '../compute/contract/types.js';
import type { RequestContext } from './context.js';
import { KestrelError, badRequest, conflict, isKestrelError } from '../errors/index.js';
import { checkName } from './text-rules.js';
import { refuseSevAction } from './sev.js';
import { agentOf, createInstanceImage, hostOf, sendCast, stateConflict } from './server-common.js';
import { checkServerMetadata, type ServerEnv } from './server-fields.js';
import { CONSOLE_ACTIONS, type RemoteConsole } from './server-consoles.js';

const ACTIONS_WITH_STATE: Record<
  string,
  { action: PowerAction; from: string[]; task: string; record: string }
> = {
  'os-start': { action: 'start', from: ['stopped'], task: 'powering-on', record: 'start' },
  'os-stop': {
    action: 'stop',
    from: ['active', 'error', 'paused', 'suspended', 'rescued'],
    task: 'powering-off',
    record: 'stop',
  },
  pause: { action: 'pause', from: ['active'], task: 'pausing', record: 'pause' },
  unpause: { action: 'unpause', from: ['paused'], task: 'unpausing', record: 'unpause' },
  suspend: { action: 'suspend', from: ['active'], task: 'suspending', record: 'suspend' },
  resume: { action: 'resume', from: ['suspended'], task: 'resuming', record: 'resume' },
};

const UNSUPPORTED_ACTIONS = new Set([
  'shelve',
  'shelveOffload',
  'unshelve',
  'rebuild',
  'resize',
  'confirmResize',
  'revertResize',
  'migrate',
  'os-migrateLive',
  'evacuate',
  'rescue',
  'unrescue',
  'changePassword',
  'addSecurityGroup',
  'removeSecurityGroup',
  'createBackup',
  'trigger_crash_dump',
  'addFixedIp',
  'removeFixedIp',
  'addFloatingIp',
  'removeFloatingIp',
  'restore',
]);

/**
 * POST /servers/{id}/action. Returns undefined (202, empty), console output, or the
 * snapshot's image id (createImage).
 */
export async function serverAction(
  env: ServerEnv,
  ctx: RequestContext,
  id: string,
  body: Record<string, unknown>,
): Promise<
  undefined | { output: string } | { imageId: string } | { console: Omit<RemoteConsole, 'protocol'> }
> {
  const keys = Object.keys(body);
  if (keys.length !== 1)
    throw badRequest('The action body must have exactly one action key, e.g. {"os-stop": null}.');
  const name = keys[0];
  const arg = body[name];
  const inst = await env.find(ctx, id);
  if (name in CONSOLE_ACTIONS) {
    // A console is read access: a locked server still gives one (Nova checks no lock here).
    if (!env.consoles) throw badRequest(`Unavailable console type: this service serves no remote consoles.`);
    const { protocol, type } = env.consoles.fromAction(name, arg);
    const c = await env.consoles.create(inst, protocol, type);
    return { console: { type: c.type, url: c.url } };
  }
  if (inst.locked && !ctx.isAdmin && name !== 'os-getConsoleOutput') {
    throw conflict(`Instance ${id} is locked; an administrator or its owner must unlock it first.`);
  }
  await refuseSevAction(name, inst, async (imageId) => (await env.repos.images.get(imageId))?.properties);
  const simple = ACTIONS_WITH_STATE[name];
  if (simple || name === 'reboot') {
    let plan = simple;
    if (name === 'reboot') {
      const type = (arg as { type?: unknown } | null)?.type;
      if (type !== 'SOFT' && type !== 'HARD' && type !== 'soft' && type !== 'hard') {
        throw badRequest('reboot needs {"type": "SOFT"} or {"type": "HARD"}.');
      }
      plan =
        String(type).toUpperCase() === 'HARD'
          ? {
              action: 'reboot-hard',
              from: ['active', 'stopped', 'paused', 'suspended', 'error'],
              task: 'rebooting_hard',
              record: 'reboot',
            }
          : { action: 'reboot-soft', from: ['active'], task: 'rebooting', record: 'reboot' };
    } else if (
      arg !== null &&
      arg !== undefined &&
      !(typeof arg === 'object' && Object.keys(arg).length === 0)
    ) {
      throw badRequest(`${name} takes no arguments ({"${name}": null}).`);
    }
    const host = await hostOf(env, inst, name);
    if (!(await env.repos.instances.startTask(inst.uuid, plan.from, plan.task))) {
      throw stateConflict((await env.repos.instances.get(inst.uuid)) ?? inst, name);
    }
    const action = await env.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: ctx.requestId,
      action: plan.record,
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    await sendCast(env, host, 'power', { instanceUuid: inst.uuid, actionId: action.id, action: plan.action });
    return undefined;
  }
  switch (name) {
    case 'os-getConsoleOutput': {
      const len = (arg as { length?: unknown } | null)?.length;
      let lines: number | undefined;
      if (len !== undefined && len !== null) {
        const n = typeof len === 'string' && /^-?\d+$/.test(len) ? Number(len) : len;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
          throw badRequest('length must be a whole number ≥ -1.');
        lines = n === -1 ? undefined : n;
      }
      if (!inst.host || inst.vmState === 'building') {
        throw conflict(
          `Cannot get the console output of instance ${id} while it is in vm_state ${inst.vmState}.`,
        );
      }
      const agent = await agentOf(env, inst, name);
      let text: string;
      try {
        text = (await agent.consoleOutput({ instanceUuid: inst.uuid, maxBytes: 1024 * 1024 })).output;
      } catch (e) {
        if (isKestrelError(e, 'instance-not-found')) {
          throw conflict(
            `Instance ${id} has no guest on its host (it is ${inst.vmState}); there is no console output.`,
          );
        }
        throw e;
      }
      if (lines === undefined) return { output: text };
      const all = text.split('\n');
      if (all.length && all[all.length - 1] === '') all.pop();
      return { output: lines === 0 ? '' : all.slice(-lines).join('\n') };
    }
    case 'createImage':
      return createImage(env, ctx, inst, arg);
  }
  if (UNSUPPORTED_ACTIONS.has(name)) {
    throw new KestrelError('not-implemented', `The ${name} action is not implemented by Kestrel yet.`);
  }
  throw badRequest(`There is no such action: ${name}`);
}

async function createImage(
  env: ServerEnv,
  ctx: RequestContext,
  inst: Instance,
  arg: unknown,
): Promise<{ imageId: string }> {
  const a = arg as { name?: unknown; metadata?: unknown } | null;
  if (!a || a.name === undefined) throw badRequest('createImage needs {"name": "…"} (1 to 255 characters).');
  const name = checkName('createImage.name', a.name);
  const extra = checkServerMetadata(a.metadata);
  const allowed = ['active', 'stopped', 'paused', 'suspended'];
  if (!inst.host || !allowed.includes(inst.vmState)) throw stateConflict(inst, 'createImage');
  const host = await hostOf(env, inst, 'createImage');
  if (!(await env.repos.instances.startTask(inst.uuid, allowed, 'image_snapshot'))) {
    throw stateConflict((await env.repos.instances.get(inst.uuid)) ?? inst, 'createImage');
  }
  let image: ImageRecord;
  try {
    image = await createInstanceImage(env.repos, env.images, ctx, inst, name, 'snapshot', extra);
  } catch (e) {
    await env.repos.instances.update(inst.uuid, { taskState: null });
    throw e;
  }
  const action = await env.repos.instances.startAction({
    instanceUuid: inst.uuid,
    requestId: ctx.requestId,
    action: 'createImage',
    userId: ctx.userId,
    projectId: ctx.projectId,
  });
  await sendCast(env, host, 'snapshot', { instanceUuid: inst.uuid, actionId: action.id, imageId: image.id });
  return { imageId: image.id };
}
