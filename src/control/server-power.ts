// The rows of the server-action table for the power actions (os-start, os-stop, pause,
// unpause, suspend, resume, reboot), the console output, the 2.1 remote-console actions and
// createImage (snapshot): each parses its argument, and the handler asks the host's agent.
import type { ImageRecord } from '../db/index.js';
import type { PowerAction } from '../compute/contract/types.js';
import { badRequest, conflict, isKestrelError } from '../errors/index.js';
import { checkName } from './text-rules.js';
import {
  ACCEPTED,
  agentOf,
  createInstanceImage,
  hostOf,
  recordAction,
  sendCast,
  type ActionCall,
  type ServerActionSpec,
} from './server-common.js';
import { checkServerMetadata } from './server-fields.js';

/** The console output an agent is asked for (its last MiB). */
const CONSOLE_BYTES = 1024 * 1024;

/** An argument of null, absent or {} (the power actions take none). */
function none(arg: unknown, name: string): null {
  if (arg !== null && arg !== undefined && !(typeof arg === 'object' && Object.keys(arg).length === 0)) {
    throw badRequest(`${name} takes no arguments ({"${name}": null}).`);
  }
  return null;
}

/** Sets the task, records the action and casts the power action to the host. */
async function castPower(c: ActionCall<unknown>, action: PowerAction, record: string) {
  const host = await hostOf(c.env, c.inst, c.name);
  await c.startTask();
  const actionId = await recordAction(c.env, c.ctx, c.inst, record);
  await sendCast(c.env, host, 'power', { instanceUuid: c.inst.uuid, actionId, action });
  return ACCEPTED;
}

/** A power action with no argument: its vm_states, task_state and instance-action record. */
export function powerAction(
  action: PowerAction,
  states: readonly string[],
  task: string,
  record: string,
): ServerActionSpec<null> {
  return { parse: none, lock: true, states, task, run: (c) => castPower(c, action, record) };
}

type RebootType = 'SOFT' | 'HARD';
const HARD_REBOOT_FROM = ['active', 'stopped', 'paused', 'suspended', 'error'];

export const rebootAction: ServerActionSpec<RebootType> = {
  parse(arg) {
    const type = (arg as { type?: unknown } | null)?.type;
    if (type !== 'SOFT' && type !== 'HARD' && type !== 'soft' && type !== 'hard') {
      throw badRequest('reboot needs {"type": "SOFT"} or {"type": "HARD"}.');
    }
    return type.toUpperCase() as RebootType;
  },
  lock: true,
  states: (t) => (t === 'HARD' ? HARD_REBOOT_FROM : ['active']),
  task: (t) => (t === 'HARD' ? 'rebooting_hard' : 'rebooting'),
  run: (c) => castPower(c, c.arg === 'HARD' ? 'reboot-hard' : 'reboot-soft', 'reboot'),
};

/** os-getConsoleOutput {"length": N}: the last N lines (all with -1 or no length). */
export const consoleOutputAction: ServerActionSpec<number | undefined> = {
  parse(arg) {
    const len = (arg as { length?: unknown } | null)?.length;
    if (len === undefined || len === null) return undefined;
    const n = typeof len === 'string' && /^-?\d+$/.test(len) ? Number(len) : len;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
      throw badRequest('length must be a whole number ≥ -1.');
    return n === -1 ? undefined : n;
  },
  // Reading the console changes nothing: a locked server shows it too (as Nova).
  lock: false,
  states: 'any',
  async run({ env, inst, arg: lines, name }) {
    if (!inst.host || inst.vmState === 'building') {
      throw conflict(
        `Cannot get the console output of instance ${inst.uuid} while it is in vm_state ${inst.vmState}.`,
      );
    }
    const agent = await agentOf(env, inst, name);
    let text: string;
    try {
      text = (await agent.consoleOutput({ instanceUuid: inst.uuid, maxBytes: CONSOLE_BYTES })).output;
    } catch (e) {
      if (isKestrelError(e, 'instance-not-found')) {
        throw conflict(
          `Instance ${inst.uuid} has no guest on its host (it is ${inst.vmState}); there is no console output.`,
        );
      }
      throw e;
    }
    if (lines === undefined) return { kind: 'console-output', output: text };
    const all = text.split('\n');
    if (all.length && all[all.length - 1] === '') all.pop();
    return { kind: 'console-output', output: lines === 0 ? '' : all.slice(-lines).join('\n') };
  },
};

/**
 * os-getVNCConsole, os-getSerialConsole, os-getSPICEConsole, os-getRDPConsole {"type": …}: a
 * one-time console URL (control/server-consoles.ts checks protocol, type and the server).
 */
export const remoteConsoleAction: ServerActionSpec<unknown> = {
  parse: (arg) => arg,
  // A console is read access: a locked server still gives one (Nova checks no lock here).
  lock: false,
  states: 'any',
  async run({ env, inst, arg, name }) {
    if (!env.consoles) throw badRequest(`Unavailable console type: this service serves no remote consoles.`);
    const { protocol, type } = env.consoles.fromAction(name, arg);
    const c = await env.consoles.create(inst, protocol, type);
    return { kind: 'remote-console', console: { type: c.type, url: c.url } };
  },
};

/** createImage {"name", "metadata"?}: a snapshot of the root disk into a new private image. */
export const createImageAction: ServerActionSpec<{ name: string; metadata: Record<string, string> }> = {
  parse(arg) {
    const a = arg as { name?: unknown; metadata?: unknown } | null;
    if (!a || a.name === undefined)
      throw badRequest('createImage needs {"name": "…"} (1 to 255 characters).');
    return { name: checkName('createImage.name', a.name), metadata: checkServerMetadata(a.metadata) };
  },
  lock: true,
  states: ['active', 'stopped', 'paused', 'suspended'],
  task: 'image_snapshot',
  async run(c) {
    const { env, ctx, inst } = c;
    const host = await hostOf(env, inst, c.name);
    await c.startTask();
    let image: ImageRecord;
    try {
      image = await createInstanceImage(
        env.repos,
        env.images,
        ctx,
        inst,
        c.arg.name,
        'snapshot',
        c.arg.metadata,
      );
    } catch (e) {
      await env.repos.instances.update(inst.uuid, { taskState: null });
      throw e;
    }
    const actionId = await recordAction(env, ctx, inst, 'createImage');
    await sendCast(env, host, 'snapshot', { instanceUuid: inst.uuid, actionId, imageId: image.id });
    return { kind: 'snapshot', imageId: image.id };
  },
};
