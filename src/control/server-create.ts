// Server create (Compute v2.1 §2.6): validation of the whole request before anything is
// written, the instance rows and their "create" actions, then scheduling with a claim and the
// compute agent's build, in the background.
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { FlavorSnapshot, ImageRecord, Instance } from '../db/index.js';
import type { RequestContext } from './context.js';
import { KestrelError, badRequest } from '../errors/index.js';
import { checkName } from './text-rules.js';
import { requireAdmin } from './flavors.js';
import { buildResourceRequest } from './scheduler/request.js';
import { claimResources } from './scheduler/claim.js';
import { validateGuestRequest } from './guest-request.js';
import { faultFrom } from '../compute/faults.js';
import { sanitizeHostname } from '../metadata/hostname.js';
import type { NetworkPlan } from './network/server-ports.js';
import {
  GiB,
  activeImageFromRef,
  checkServerMetadata,
  normalizeV6,
  type ServerCreateResult,
  type ServerEnv,
} from './server-fields.js';

interface BlockDevice {
  source_type?: string;
  destination_type?: string;
  uuid?: string;
  boot_index?: number | string | null;
}

/** POST /servers: checks the whole request, then writes the rows and starts scheduling. */
export async function createServers(
  env: ServerEnv,
  ctx: RequestContext,
  body: Record<string, unknown>,
  hints: Record<string, unknown> | undefined,
): Promise<ServerCreateResult> {
  void hints;
  const name = checkName('name', body.name);
  const image = await resolveImage(env, ctx, body);
  const flavorRef = body.flavorRef;
  if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number')
    throw badRequest('flavorRef is required.');
  const flavorId = String(flavorRef).replace(/\/+$/, '').split('/').pop()!;
  const flavor = await env.flavors.get(ctx, flavorId).catch((e) => {
    if (e instanceof KestrelError && e.code === 'not-found')
      throw badRequest(`Flavor ${flavorId} could not be found.`);
    throw e;
  });
  if (flavor.disabled) throw badRequest(`Flavor ${flavor.id} is disabled.`);
  const extraSpecs = await env.repos.flavors.extraSpecs(flavor.id);
  const snapshot: FlavorSnapshot = {
    id: flavor.id,
    name: flavor.name,
    vcpus: flavor.vcpus,
    memoryMb: flavor.memoryMb,
    rootGb: flavor.rootGb,
    ephemeralGb: flavor.ephemeralGb,
    swapMb: flavor.swapMb,
    extraSpecs,
  };
  checkFit(snapshot, image);
  // Builds the request now so that trait conflicts are a 400 here, not a fault later.
  buildResourceRequest(snapshot, image.properties, Math.ceil((image.virtualSize ?? 0) / GiB));
  validateGuestRequest(snapshot, image, env.sevDefaults);

  const networks = body.networks;
  // With networking: checked now (unknown network or port, taken fixed IP → 4xx before any
  // row); the ports are made once the host is known. 2.1 only (no "auto"/"none" yet).
  const plan = env.network ? await env.network.plan(ctx, networks, maxCountOf(body), false) : undefined;
  if (!plan && networks !== undefined && !(Array.isArray(networks) && networks.length === 0)) {
    if (Array.isArray(networks)) {
      const first = networks[0] as { uuid?: string; port?: string };
      throw badRequest(
        `Network ${first?.uuid ?? first?.port ?? ''} could not be found: Kestrel has no networking service; boot without --nic.`,
      );
    }
    throw badRequest('networks must be a list at microversion 2.1 ("none" and "auto" need 2.37).');
  }
  const metadata = checkServerMetadata(body.metadata);
  let keyName: string | null = null;
  if (body.key_name !== undefined && body.key_name !== null) {
    if (typeof body.key_name !== 'string') throw badRequest('key_name must be a string.');
    if (!(await env.repos.keypairs.get(ctx.userId, body.key_name))) {
      throw badRequest(`Invalid key_name provided: keypair ${body.key_name} does not exist.`);
    }
    keyName = body.key_name;
  }
  const az = body.availability_zone;
  if (
    az !== undefined &&
    az !== null &&
    az !== 'nova' &&
    !(typeof az === 'string' && az.startsWith('nova:'))
  ) {
    throw badRequest(
      `The requested availability zone ${String(az)} is not available; the only zone is "nova".`,
    );
  }
  if (typeof az === 'string' && az.startsWith('nova:'))
    requireAdmin(ctx, 'forcing a host with availability_zone');
  if (body.personality !== undefined) {
    throw badRequest('personality (file injection) is not supported; use user_data.');
  }
  const userData = checkUserData(body.user_data);
  const configDrive = checkConfigDrive(body.config_drive);
  const ip4 = body.accessIPv4 ?? '';
  const ip6 = body.accessIPv6 ?? '';
  if (typeof ip4 !== 'string' || (ip4 !== '' && !isIPv4(ip4)))
    throw badRequest(`accessIPv4 ${String(ip4)} is not an IPv4 address.`);
  if (typeof ip6 !== 'string' || (ip6 !== '' && !isIPv6(ip6)))
    throw badRequest(`accessIPv6 ${String(ip6)} is not an IPv6 address.`);
  const diskConfig = body['OS-DCF:diskConfig'] ?? 'AUTO';
  if (diskConfig !== 'AUTO' && diskConfig !== 'MANUAL')
    throw badRequest('OS-DCF:diskConfig must be AUTO or MANUAL.');
  const count = (v: unknown, what: string) => {
    if (v === undefined) return 1;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw badRequest(`${what} must be a whole number ≥ 1.`);
    return n;
  };
  const minCount = count(body.min_count, 'min_count');
  // Nova: max_count defaults to min_count when only min_count is given.
  const maxCount = body.max_count === undefined ? minCount : count(body.max_count, 'max_count');
  if (minCount > maxCount) throw badRequest('min_count must be ≤ max_count.');
  if (maxCount > env.maxCount) throw badRequest(`max_count is at most ${env.maxCount}.`);
  const adminPass =
    typeof body.adminPass === 'string' ? body.adminPass : randomBytes(9).toString('base64url');
  const reservationId = `r-${randomBytes(6).toString('hex')}`;

  const servers: Instance[] = [];
  for (let i = 0; i < maxCount; i++) {
    const uuid = randomUUID();
    const displayName = maxCount > 1 ? `${name}-${i + 1}` : name;
    const inst = await env.repos.instances.create({
      uuid,
      displayName,
      hostname: sanitizeHostname(displayName, uuid),
      projectId: ctx.projectId,
      userId: ctx.userId,
      flavor: snapshot,
      imageId: image.id,
      availabilityZone: 'nova',
      keyName,
      metadata,
      reservationId,
      accessIpv4: ip4,
      accessIpv6: ip6 === '' ? '' : normalizeV6(ip6),
      diskConfig: diskConfig as string,
      userData,
      configDrive,
      launchIndex: i,
    });
    const action = await env.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: ctx.requestId,
      action: 'create',
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    servers.push(inst);
    env.background(scheduleAndBuild(env, inst, image, action.id, plan));
  }
  return { servers, adminPass, reservationId };
}

async function resolveImage(
  env: ServerEnv,
  ctx: RequestContext,
  body: Record<string, unknown>,
): Promise<ImageRecord> {
  let imageRef = body.imageRef;
  const bdms = body.block_device_mapping_v2;
  if (bdms !== undefined) {
    if (!Array.isArray(bdms)) throw badRequest('block_device_mapping_v2 must be a list.');
    for (const raw of bdms as BlockDevice[]) {
      if (!raw || typeof raw !== 'object')
        throw badRequest('Each block_device_mapping_v2 entry must be an object.');
      const src = raw.source_type ?? 'image';
      const dst = raw.destination_type ?? 'local';
      if (dst !== 'local' || (src !== 'image' && src !== 'blank')) {
        throw badRequest(
          `Block device mapping ${src}→${dst} is not supported: Kestrel has no volume service; only the image as the local root disk.`,
        );
      }
      if (src === 'blank') {
        throw badRequest('Swap and ephemeral block devices (source_type blank) are not supported yet.');
      }
      const boot = raw.boot_index === undefined || raw.boot_index === null ? -1 : Number(raw.boot_index);
      if (src === 'image' && boot === 0) {
        if (typeof raw.uuid !== 'string') throw badRequest('The image block device needs a uuid.');
        if (imageRef && imageRef !== raw.uuid)
          throw badRequest('imageRef and the boot block device name different images.');
        imageRef = raw.uuid;
      }
    }
  }
  if (typeof imageRef !== 'string' || imageRef === '') {
    throw badRequest('imageRef is required: Kestrel boots from images (no volumes).');
  }
  return activeImageFromRef(env.images, ctx, imageRef);
}

function checkFit(flavor: FlavorSnapshot, image: ImageRecord): void {
  if (image.minRam > flavor.memoryMb) {
    throw badRequest(
      `Flavor's memory is too small for requested image: it has ${flavor.memoryMb} MB, the image needs ${image.minRam} MB.`,
    );
  }
  if (flavor.rootGb > 0) {
    if (image.minDisk > flavor.rootGb) {
      throw badRequest(
        `Flavor's disk is too small for requested image: ${flavor.rootGb} GB < min_disk ${image.minDisk} GB.`,
      );
    }
    if ((image.virtualSize ?? 0) > flavor.rootGb * GiB) {
      throw badRequest(
        `Flavor's disk is too small for requested image: flavor disk is ${flavor.rootGb * GiB} bytes, image is ${image.virtualSize} bytes.`,
      );
    }
  }
}

/** Nova's limit on user_data: the base64 text, not the decoded bytes. */
export const MAX_USER_DATA = 65535;

/** user_data: base64 text (whitespace allowed, as Python's decoder takes it) of at most 65,535 characters. */
export function checkUserData(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string')
    throw badRequest('Invalid input for field/attribute user_data: it must be a base64 string.');
  if (v.length > MAX_USER_DATA) {
    throw badRequest(
      `Invalid input for field/attribute user_data: it is ${v.length} characters long, more than the ${MAX_USER_DATA} allowed. ` +
        'Fix: send a smaller script (compress it: cloud-init reads gzip), or fetch the rest from the guest.',
    );
  }
  const compact = v.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw badRequest(
      "Invalid input for field/attribute user_data: it is not base64 text. Fix: send the file's content base64-encoded " +
        '(openstack server create --user-data FILE does this).',
    );
  }
  return v;
}

const TRUE = new Set(['true', 'True', 'TRUE', '1', 'yes', 'on', 't', 'y']);
const FALSE = new Set(['false', 'False', 'FALSE', '0', 'no', 'off', 'f', 'n', '']);

/** config_drive: a boolean, or the strings Nova's boolean type takes. */
export function checkConfigDrive(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && TRUE.has(v)) return true;
  if (typeof v === 'string' && FALSE.has(v)) return false;
  throw badRequest(
    `Invalid input for field/attribute config_drive: ${JSON.stringify(v)} is not a boolean. Fix: send true or false.`,
  );
}

/** max_count as given (checked in full further down); 1 when absent or not a number yet. */
function maxCountOf(body: Record<string, unknown>): number {
  const v = Number(body.max_count ?? 1);
  return Number.isInteger(v) && v > 0 ? v : 1;
}

/** Schedules (claim in one transaction) and hands the build to the chosen host's agent. */
async function scheduleAndBuild(
  env: ServerEnv,
  inst: Instance,
  image: ImageRecord,
  actionId: string,
  plan: NetworkPlan | undefined,
): Promise<void> {
  const ev = await env.repos.instances.startEvent(actionId, 'conductor_schedule_and_build_instances');
  let host: string;
  try {
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
    const claim = await claimResources(env.repos, inst.uuid, req, {
      disabledHosts: disabled,
      unavailable: await env.agents.downHosts(),
    });
    host = claim.host;
    await env.repos.instances.finishEvent(ev, 'Success');
  } catch (e) {
    const fault = faultFrom(e, '', await env.repos.instances.requestIdOfAction(actionId));
    await env.repos.instances.finishEvent(ev, 'Error', fault.details);
    await env.repos.instances.addFault(inst.uuid, fault);
    await env.repos.instances.update(inst.uuid, { vmState: 'error', taskState: null });
    await env.repos.instances.finishAction(actionId, 'Error');
    return;
  }
  // Deleted while scheduling: give the claim back.
  if (!(await env.repos.instances.get(inst.uuid))) {
    await env.repos.placement.deleteAllocations(inst.uuid);
    return;
  }
  const unreachable = async (e: unknown) => {
    const rid = await env.repos.instances.requestIdOfAction(actionId);
    await env.repos.instances.addFault(inst.uuid, faultFrom(e, 'Build of instance not started', rid));
    await env.repos.instances.update(inst.uuid, { vmState: 'error', taskState: null });
    await env.repos.placement.deleteAllocations(inst.uuid);
    await env.repos.instances.finishAction(actionId, 'Error');
  };
  try {
    await env.agents.reach(host);
  } catch (e) {
    return unreachable(e);
  }
  await env.repos.instances.update(inst.uuid, { host, node: host, taskState: 'networking' });
  if (plan && env.network) {
    const ev2 = await env.repos.instances.startEvent(actionId, 'compute_allocate_network');
    try {
      await env.network.attach(inst.uuid, plan, host);
      await env.repos.instances.finishEvent(ev2, 'Success');
    } catch (e) {
      const message = `Network allocation failed: ${e instanceof Error ? e.message : String(e)}`;
      await env.repos.instances.finishEvent(ev2, 'Error', message);
      await env.repos.instances.addFault(inst.uuid, { code: 500, message, details: message });
      await env.repos.instances.update(inst.uuid, { vmState: 'error', taskState: null });
      await env.repos.placement.deleteAllocations(inst.uuid);
      await env.repos.instances.finishAction(actionId, 'Error');
      return;
    }
  }
  let cast: { finished: Promise<unknown> };
  try {
    cast = await env.agents.cast(host, 'build', { instanceUuid: inst.uuid, actionId });
  } catch (e) {
    return unreachable(e);
  }
  await cast.finished;
}
