// What the server-action modules (server-rebuild, server-shelve, server-backup, server-admin)
// share: finding the instance, Nova's lock and state checks with their 409 texts, the
// compare-and-set that starts a task, recording an instance action, and the per-host compute
// agents reached through the agent directory.
import type { ImageRecord, Instance, Repositories } from '../db/index.js';
import type { ComputeAgent } from '../compute/contract/agent.js';
import type { CastOperation, OperationReport } from '../compute/contract/types.js';
import type { AgentDirectory, RequestOf } from './agent-directory.js';
import type { ImageService } from './images.js';
import type { ServerService } from './servers.js';
import type { RequestContext } from './context.js';
import { KestrelError, badRequest, conflict } from '../errors/index.js';
import { checkFreeText, checkMetadataKey } from './text-rules.js';
import { SystemMetadata } from './server-sysmeta.js';
import type { Logger } from '../util/log.js';
import type { SevHostDefaults } from './sev.js';
import type { ConsoleService } from './server-consoles.js';
import type { ServerPorts } from './network/server-ports.js';

export interface ServerOpsOptions {
  /** [DEFAULT] shelved_offload_time: 0 offload at once, -1 never, N seconds later. */
  shelvedOffloadTime: number;
  /** [DEFAULT] reclaim_instance_interval: > 0 makes DELETE a soft delete reclaimed after N s. */
  reclaimInstanceInterval: number;
}

export interface OpsEnv {
  repos: Repositories;
  servers: ServerService;
  images: ImageService;
  sysmeta: SystemMetadata;
  /** The compute hosts' agents and their liveness. */
  agents: AgentDirectory;
  options: ServerOpsOptions;
  log: Logger;
  /** Runs work after the reply (tracked, so tests and shutdown can wait for it). */
  background(p: Promise<unknown>): void;
  /** Schedules the offload of a shelved instance after shelved_offload_time seconds. */
  scheduleOffload(uuid: string, delaySeconds: number): void;
  /** Drops a pending offload timer (the server is being deleted). */
  cancelOffload(uuid: string): void;
  /** The host's SEV / machine-type defaults (a rebuild re-runs the guest rules). */
  sev: SevHostDefaults;
  /** Remote consoles (os-getVNCConsole …); unset: the console actions answer 400. */
  consoles?: ConsoleService;
  /** The servers' ports (Networking v2), when networking is on: let go with the server. */
  network?: ServerPorts;
}

/** What a server action answers; the API turns it into the HTTP reply. */
export type ActionOutcome =
  /** 202, empty. */
  | { kind: 'accepted' }
  /** 200 {"output": …} (os-getConsoleOutput). */
  | { kind: 'console-output'; output: string }
  /** 202 with Location: the image in the Image API (createImage). */
  | { kind: 'snapshot'; imageId: string }
  /** 202 with Location under the compute URL when the backup is kept (createBackup, rotation > 0). */
  | { kind: 'backup'; imageId: string | undefined }
  /** 202 with the server and its new adminPass (rebuild). */
  | { kind: 'rebuilt'; adminPass: string }
  /** 200 {"console": {type, url}} (os-getVNCConsole, os-getSerialConsole …). */
  | { kind: 'remote-console'; console: { type: string; url: string } };

export const ACCEPTED: ActionOutcome = { kind: 'accepted' };

/** What the action table hands a handler, once the row's checks have passed. */
export interface ActionCall<A> {
  env: OpsEnv;
  ctx: RequestContext;
  inst: Instance;
  /** The argument as the row's parse returned it. */
  arg: A;
  name: string;
  /** Sets the row's task_state if the vm_state allows and no task runs (compare-and-set), else 409. */
  startTask(): Promise<void>;
}

/** One row of the server-action table (server-action-table.ts). */
export interface ServerActionSpec<A> {
  /** Checks the body's argument ({"name": arg}); a 400 names the field. */
  parse(arg: unknown, name: string): A;
  /** Nova's policy name when only administrators may (403 for others). */
  adminOnly?: string;
  /** Nova's check_instance_lock: a locked server refuses non-admins. */
  lock: boolean;
  /** Nova's check_instance_state: the vm_states allowed with no task running, or 'any'. */
  states: 'any' | readonly string[] | ((arg: A) => readonly string[]);
  /** The task_state the action sets when its handler calls startTask. */
  task?: string | ((arg: A) => string);
  run(call: ActionCall<A>): Promise<ActionOutcome>;
}

/** Nova's InstanceInvalidState text (the API maps it to 409). */
export function stateConflict(inst: Instance, action: string): KestrelError {
  return conflict(
    inst.taskState
      ? `Cannot '${action}' instance ${inst.uuid} while it is in task_state ${inst.taskState}`
      : `Cannot '${action}' instance ${inst.uuid} while it is in vm_state ${inst.vmState}`,
  );
}

/** Nova's check_instance_lock: a locked server refuses non-admins with 409. */
export function checkLock(ctx: RequestContext, inst: Instance): void {
  if (inst.locked && !ctx.isAdmin) {
    throw conflict(
      `Instance ${inst.uuid} is locked. Fix: unlock it first (openstack server unlock ${inst.uuid}), or ask an administrator.`,
    );
  }
}

/** Sets the task if vm_state is one of from and no task runs; else the Nova 409. */
export async function startTask(
  env: { repos: Repositories },
  inst: Instance,
  from: readonly string[],
  task: string,
  action: string,
): Promise<void> {
  if (!from.includes(inst.vmState) || inst.taskState !== null) throw stateConflict(inst, action);
  if (!(await env.repos.instances.startTask(inst.uuid, from, task))) {
    throw stateConflict((await env.repos.instances.get(inst.uuid)) ?? inst, action);
  }
}

export async function recordAction(
  env: OpsEnv,
  ctx: RequestContext,
  inst: Instance,
  action: string,
): Promise<string> {
  const a = await env.repos.instances.startAction({
    instanceUuid: inst.uuid,
    requestId: ctx.requestId,
    action,
    userId: ctx.userId,
    projectId: ctx.projectId,
  });
  return a.id;
}

/**
 * The host of the instance, checked reachable: Nova's 409 for a server on no host, or the 409
 * that names the unreachable host and the fix.
 */
export async function hostOf(
  env: { agents: AgentDirectory },
  inst: Instance,
  action: string,
): Promise<string> {
  if (!inst.host) throw stateConflict(inst, action);
  await env.agents.reach(inst.host);
  return inst.host;
}

/** The agent of the instance's host for a short operation (a call), with hostOf's 409s. */
export async function agentOf(
  env: { agents: AgentDirectory },
  inst: Instance,
  action: string,
): Promise<ComputeAgent> {
  return env.agents.reach(await hostOf(env, inst, action));
}

/**
 * Sends a long operation to host and tracks its end in the background. If the agent does not
 * take it, the task started for it is cleared and its action marked Error before the 409.
 */
export async function sendCast<K extends CastOperation>(
  env: { agents: AgentDirectory; repos: Repositories; background(p: Promise<unknown>): void },
  host: string,
  operation: K,
  request: RequestOf<K>,
): Promise<{ finished: Promise<OperationReport> }> {
  try {
    const c = await env.agents.cast(host, operation, request);
    env.background(c.finished);
    return c;
  } catch (e) {
    await env.repos.instances.update(request.instanceUuid, { taskState: null });
    await env.repos.instances.finishAction(request.actionId, 'Error');
    throw e;
  }
}

/** An action that takes no argument: null, absent or {}. */
export function noArgument(arg: unknown, name: string): null {
  if (arg === null || arg === undefined) return null;
  if (typeof arg === 'object' && !Array.isArray(arg) && Object.keys(arg).length === 0) return null;
  throw badRequest(
    `Invalid input for field/attribute ${name}: ${name} takes no arguments at microversion 2.1 ({"${name}": null}).`,
  );
}

/** The argument object of an action, with only the allowed keys (Nova's additionalProperties false). */
export function argObject(name: string, arg: unknown, allowed: string[], required: string[] = []) {
  if (!arg || typeof arg !== 'object' || Array.isArray(arg)) {
    throw badRequest(
      `Invalid input for field/attribute ${name}: ${name} needs an object, e.g. {"${name}": {…}}.`,
    );
  }
  const o = arg as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw badRequest(
        `Invalid input for field/attribute ${name}. Additional properties are not allowed ('${k}' was unexpected); allowed: ${allowed.join(', ')}.`,
      );
    }
  }
  for (const k of required) {
    if (o[k] === undefined)
      throw badRequest(`Invalid input for field/attribute ${name}: '${k}' is a required property.`);
  }
  return o;
}

/** Nova's metadata rules: keys 1–255, values strings ≤ 255, at most maxItems items. */
export function checkMetadata(m: unknown, maxItems: number): Record<string, string> {
  if (m === undefined || m === null) return {};
  if (typeof m !== 'object' || Array.isArray(m)) throw badRequest('metadata must be an object of strings.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    checkMetadataKey('metadata', k);
    out[k] = checkFreeText(`metadata.${k}`, v);
  }
  if (Object.keys(out).length > maxItems) {
    throw new KestrelError(
      'over-quota',
      `Quota exceeded for metadata_items: at most ${maxItems} metadata items per server (maxServerMeta in /limits), this request has ${Object.keys(out).length}.`,
    );
  }
  return out;
}

export const MAX_SERVER_META = 128;

/**
 * The queued image a copy of the instance's disk goes to (createImage, createBackup, shelve), as
 * Nova makes it: qcow2, private, the source image's properties (without owner_specified.*) and
 * minimums, then `extra`, then image_type and where it came from.
 */
export async function createInstanceImage(
  repos: Repositories,
  images: ImageService,
  ctx: RequestContext,
  inst: Instance,
  name: string,
  imageType: 'snapshot' | 'backup',
  extra: Record<string, unknown> = {},
): Promise<ImageRecord> {
  const source = await repos.images.get(inst.imageId);
  const props: Record<string, unknown> = { ...(source?.properties ?? {}) };
  for (const k of Object.keys(props)) if (k.startsWith('owner_specified.')) delete props[k];
  return images.create(ctx, {
    name,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'private',
    min_disk: source?.minDisk ?? 0,
    min_ram: source?.minRam ?? 0,
    ...props,
    ...extra,
    image_type: imageType,
    instance_uuid: inst.uuid,
    base_image_ref: inst.imageId,
    user_id: ctx.userId,
  });
}
