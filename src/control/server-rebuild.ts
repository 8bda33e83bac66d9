// POST /servers/{id}/action {"rebuild": {...}} (Nova's rebuild at 2.1): the request is checked
// as a whole first (image visible and active, fits the flavor, the host still has the traits
// the image requires, SEV rules re-run and unchanged), name / metadata / access IPs are
// updated at once, then the compute host recreates the disk and boots it under the same uuid.
import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { ImageRecord, Instance } from '../db/index.js';
import type { RequestContext } from './context.js';
import { badRequest } from '../errors/index.js';
import { checkName } from './text-rules.js';
import { activeImageFromRef } from './server-fields.js';
import { buildResourceRequest } from './scheduler/request.js';
import { validateGuestRequest } from './guest-request.js';
import { isSevInstance } from './sev.js';
import {
  MAX_SERVER_META,
  argObject,
  checkMetadata,
  hostOf,
  recordAction,
  sendCast,
  type ActionCall,
  type ActionOutcome,
  type OpsEnv,
  type ServerActionSpec,
} from './server-common.js';

const GiB = 1024 ** 3;
const REBUILD_KEYS = [
  'imageRef',
  'name',
  'metadata',
  'adminPass',
  'accessIPv4',
  'accessIPv6',
  'OS-DCF:diskConfig',
  'personality',
  'preserve_ephemeral',
];
/** Nova: @check_instance_state(vm_state=[ACTIVE, STOPPED, ERROR]). */
export const REBUILD_FROM = ['active', 'stopped', 'error'];

interface RebuildArgs {
  imageRef: unknown;
  adminPass: string | undefined;
  /** Keep the ephemeral disk (disk.local) as it is. */
  preserveEphemeral: boolean;
  /** The fields updated with the rebuild. */
  patch: {
    displayName?: string;
    metadata?: Record<string, string>;
    accessIpv4?: string;
    accessIpv6?: string;
    diskConfig?: string;
  };
}

function parseRebuild(arg: unknown): RebuildArgs {
  const a = argObject('rebuild', arg, REBUILD_KEYS, ['imageRef']);
  const patch: RebuildArgs['patch'] = {};
  if (a.name !== undefined) {
    patch.displayName = checkName('name', a.name);
  }
  if (a.metadata !== undefined) patch.metadata = checkMetadata(a.metadata, MAX_SERVER_META);
  if (a.adminPass !== undefined && typeof a.adminPass !== 'string')
    throw badRequest('Invalid input for field/attribute adminPass: it must be a string.');
  if (a.accessIPv4 !== undefined) {
    if (typeof a.accessIPv4 !== 'string' || (a.accessIPv4 !== '' && !isIPv4(a.accessIPv4)))
      throw badRequest(`accessIPv4 ${String(a.accessIPv4)} is not an IPv4 address.`);
    patch.accessIpv4 = a.accessIPv4;
  }
  if (a.accessIPv6 !== undefined) {
    if (typeof a.accessIPv6 !== 'string' || (a.accessIPv6 !== '' && !isIPv6(a.accessIPv6)))
      throw badRequest(`accessIPv6 ${String(a.accessIPv6)} is not an IPv6 address.`);
    patch.accessIpv6 = a.accessIPv6;
  }
  const dc = a['OS-DCF:diskConfig'];
  if (dc !== undefined) {
    if (dc !== 'AUTO' && dc !== 'MANUAL') throw badRequest('OS-DCF:diskConfig must be AUTO or MANUAL.');
    patch.diskConfig = dc;
  }
  if (a.personality !== undefined)
    throw badRequest('personality (file injection) is not supported by Kestrel; use user_data at boot.');
  if (a.preserve_ephemeral !== undefined && typeof a.preserve_ephemeral !== 'boolean')
    throw badRequest('preserve_ephemeral must be true or false.');
  return {
    imageRef: a.imageRef,
    adminPass: a.adminPass as string | undefined,
    patch,
    preserveEphemeral: a.preserve_ephemeral === true,
  };
}

/** The rebuild row: the lock and the state come before the image checks (Nova's decorators). */
export const rebuildAction: ServerActionSpec<RebuildArgs> = {
  parse: parseRebuild,
  lock: true,
  states: REBUILD_FROM,
  task: 'rebuilding',
  run: rebuild,
};

async function rebuild(c: ActionCall<RebuildArgs>): Promise<ActionOutcome> {
  const { env, ctx, inst } = c;
  const { patch } = c.arg;
  const host = await hostOf(env, inst, 'rebuild');
  const image = await resolveImage(env, ctx, c.arg.imageRef);
  checkFit(inst, image);
  await checkHostStillFits(env, inst, image);
  const oldImage = await env.repos.images.get(inst.imageId);
  validateGuestRequest(inst.flavor, image, env.sev);
  const wasSev = isSevInstance(inst.flavor.extraSpecs, oldImage?.properties ?? {});
  const isSev = isSevInstance(inst.flavor.extraSpecs, image.properties);
  if (wasSev !== isSev) {
    throw badRequest(
      `Rebuild of instance ${inst.uuid} would turn memory encryption ${isSev ? 'on' : 'off'} (image ${image.id}): ` +
        'that changes the resources the server holds on its host. Fix: rebuild with an image of the same hw_mem_encryption, or boot a new server.',
    );
  }

  const previous = inst.vmState;
  await c.startTask();
  if (Object.keys(patch).length) await env.repos.instances.update(inst.uuid, patch);
  const actionId = await recordAction(env, ctx, inst, 'rebuild');
  await sendCast(env, host, 'rebuild', {
    instanceUuid: inst.uuid,
    actionId,
    imageId: image.id,
    previousVmState: previous,
    ...(c.arg.preserveEphemeral ? { preserveEphemeral: true } : {}),
  });
  return { kind: 'rebuilt', adminPass: c.arg.adminPass ?? randomBytes(9).toString('base64url') };
}

async function resolveImage(env: OpsEnv, ctx: RequestContext, ref: unknown): Promise<ImageRecord> {
  if (typeof ref !== 'string' || ref === '') throw badRequest('rebuild needs imageRef (an image id).');
  return activeImageFromRef(env.images, ctx, ref);
}

function checkFit(inst: Instance, image: ImageRecord): void {
  const f = inst.flavor;
  if (image.minRam > f.memoryMb) {
    throw badRequest(
      `Flavor's memory is too small for requested image: flavor ${f.name} has ${f.memoryMb} MB, image ${image.id} needs ${image.minRam} MB.`,
    );
  }
  if (f.rootGb > 0) {
    if (image.minDisk > f.rootGb || (image.virtualSize ?? 0) > f.rootGb * GiB) {
      throw badRequest(
        `Flavor's disk is too small for requested image: flavor ${f.name} has ${f.rootGb} GB, image ${image.id} needs min_disk ${image.minDisk} GB / ${image.virtualSize ?? 0} bytes.`,
      );
    }
  }
}

/** The new image's required / forbidden traits against the server's host (Nova re-schedules to it). */
async function checkHostStillFits(env: OpsEnv, inst: Instance, image: ImageRecord): Promise<void> {
  const req = buildResourceRequest(inst.flavor, image.properties, Math.ceil((image.virtualSize ?? 0) / GiB));
  if (!inst.host) return;
  const provider = (await env.repos.placement.providers()).find((p) => p.name === inst.host);
  if (!provider) return;
  const missing = req.required.filter((t) => !provider.traits.has(t));
  const forbidden = req.forbidden.filter((t) => provider.traits.has(t));
  if (missing.length || forbidden.length) {
    throw badRequest(
      `Image ${image.id} does not fit host ${inst.host} of instance ${inst.uuid}: ` +
        (missing.length ? `it requires trait(s) ${missing.join(', ')} the host lacks` : '') +
        (missing.length && forbidden.length ? '; ' : '') +
        (forbidden.length ? `it forbids trait(s) ${forbidden.join(', ')} the host has` : '') +
        '. Fix: rebuild with an image whose trait properties the host satisfies.',
    );
  }
}
