// The one table of server actions: every POST /servers/{id}/action goes through
// runServerAction, which takes the action's row and applies it in Nova's order — the
// argument (400), the policy (403), the lock (409, Nova's check_instance_lock), the vm_state
// and task_state (409, check_instance_state), the SEV refusals — and then runs its handler,
// which starts the row's task with a compare-and-set where it is ready to (ActionCall.startTask).
// A name Nova knows that Kestrel does not implement has an `unsupported` row (501); any other
// name is a 400. A new action is one row here and its handler beside the others.
import type { RequestContext } from './context.js';
import { KestrelError, badRequest } from '../errors/index.js';
import { requireAdmin } from './flavors.js';
import { refuseSevAction } from './sev.js';
import {
  checkLock,
  startTask,
  stateConflict,
  type ActionOutcome,
  type OpsEnv,
  type ServerActionSpec,
} from './server-common.js';
import {
  consoleOutputAction,
  createImageAction,
  powerAction,
  rebootAction,
  remoteConsoleAction,
} from './server-power.js';
import { rebuildAction } from './server-rebuild.js';
import { shelveAction, shelveOffloadAction, unshelveAction } from './server-shelve.js';
import { createBackupAction } from './server-backup.js';
import {
  changePasswordAction,
  forceDeleteAction,
  lockAction,
  resetStateAction,
  restoreAction,
  unlockAction,
} from './server-admin.js';

/** A row for an action Nova has and Kestrel does not implement yet. */
interface Unsupported {
  unsupported: true;
}
const unsupported: Unsupported = { unsupported: true };

type Row = ServerActionSpec<unknown> | Unsupported;

/** A row of any argument type; runServerAction hands parse's result back to the same row. */
function row<A>(spec: ServerActionSpec<A>): Row {
  return spec as unknown as ServerActionSpec<unknown>;
}

/** name → what the action allows and does. Read by runServerAction only. */
export const SERVER_ACTIONS: Readonly<Record<string, Row>> = {
  'os-start': row(powerAction('start', ['stopped'], 'powering-on', 'start')),
  'os-stop': row(
    powerAction('stop', ['active', 'error', 'paused', 'suspended', 'rescued'], 'powering-off', 'stop'),
  ),
  pause: row(powerAction('pause', ['active'], 'pausing', 'pause')),
  unpause: row(powerAction('unpause', ['paused'], 'unpausing', 'unpause')),
  suspend: row(powerAction('suspend', ['active'], 'suspending', 'suspend')),
  resume: row(powerAction('resume', ['suspended'], 'resuming', 'resume')),
  reboot: row(rebootAction),
  'os-getConsoleOutput': row(consoleOutputAction),
  createImage: row(createImageAction),
  rebuild: row(rebuildAction),
  shelve: row(shelveAction),
  shelveOffload: row(shelveOffloadAction),
  unshelve: row(unshelveAction),
  createBackup: row(createBackupAction),
  lock: row(lockAction),
  unlock: row(unlockAction),
  'os-resetState': row(resetStateAction),
  forceDelete: row(forceDeleteAction),
  restore: row(restoreAction),
  changePassword: row(changePasswordAction),
  resize: unsupported,
  confirmResize: unsupported,
  revertResize: unsupported,
  migrate: unsupported,
  'os-migrateLive': unsupported,
  evacuate: unsupported,
  rescue: unsupported,
  unrescue: unsupported,
  addSecurityGroup: unsupported,
  removeSecurityGroup: unsupported,
  trigger_crash_dump: unsupported,
  addFixedIp: unsupported,
  removeFixedIp: unsupported,
  addFloatingIp: unsupported,
  removeFloatingIp: unsupported,
  'os-getVNCConsole': row(remoteConsoleAction),
  'os-getSPICEConsole': row(remoteConsoleAction),
  'os-getSerialConsole': row(remoteConsoleAction),
  'os-getRDPConsole': row(remoteConsoleAction),
  injectNetworkInfo: unsupported,
  resetNetwork: unsupported,
};

/** The action names Kestrel answers with 501 (derived from the table). */
export function unsupportedActions(): string[] {
  return Object.entries(SERVER_ACTIONS)
    .filter(([, r]) => 'unsupported' in r)
    .map(([n]) => n);
}

/** POST /servers/{id}/action: the one way in for every action. */
export async function runServerAction(
  env: OpsEnv,
  ctx: RequestContext,
  id: string,
  body: unknown,
): Promise<ActionOutcome> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('The action body must be a JSON object.');
  const keys = Object.keys(body);
  if (keys.length !== 1)
    throw badRequest('The action body must have exactly one action key, e.g. {"os-stop": null}.');
  const name = keys[0];
  const inst = await env.servers.find(ctx, id);
  const row = Object.hasOwn(SERVER_ACTIONS, name) ? SERVER_ACTIONS[name] : undefined;
  if (!row) throw badRequest(`There is no such action: ${name}`);
  if ('unsupported' in row) {
    // Refused as Nova would refuse it before anything else: a locked server, an SEV guest.
    checkLock(ctx, inst);
    await refuseSevAction(name, inst, async (imageId) => (await env.repos.images.get(imageId))?.properties);
    throw new KestrelError('not-implemented', `The ${name} action is not implemented by Kestrel yet.`);
  }
  const spec = row;
  const arg = spec.parse((body as Record<string, unknown>)[name], name);
  if (spec.adminOnly) requireAdmin(ctx, spec.adminOnly);
  if (spec.lock) checkLock(ctx, inst);
  await refuseSevAction(name, inst, async (imageId) => (await env.repos.images.get(imageId))?.properties);
  const states = typeof spec.states === 'function' ? spec.states(arg) : spec.states;
  if (states !== 'any' && (!states.includes(inst.vmState) || inst.taskState !== null)) {
    throw stateConflict(inst, name);
  }
  return spec.run({
    env,
    ctx,
    inst,
    arg,
    name,
    startTask: async () => {
      const task = typeof spec.task === 'function' ? spec.task(arg) : spec.task;
      if (states === 'any' || task === undefined) {
        throw new Error(`server action ${name} starts a task but its row names no states or task`);
      }
      await startTask(env, inst, states, task, name);
    },
  });
}
