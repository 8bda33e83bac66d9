// Compute v2.1 response shapes (exactly the keys tempest's 2.1 schemas allow).
import { createHash } from 'node:crypto';
import type { ActionEvent, Flavor, InstanceAction, Keypair } from '../../db/index.js';
import type { RequestContext } from '../../control/context.js';
import type { ServerView } from '../../control/servers.js';
import { statusOf } from '../../control/server-state.js';
import { novaMicros, novaTime } from '../common.js';

export function links(base: string, coll: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/${coll}/${id}` },
    { rel: 'bookmark', href: `${base}/${coll}/${id}` },
  ];
}

export function flavorBrief(base: string, f: Flavor) {
  return { id: f.id, name: f.name, links: links(base, 'flavors', f.id) };
}

export function flavorFull(base: string, f: Flavor) {
  return {
    id: f.id,
    name: f.name,
    ram: f.memoryMb,
    vcpus: f.vcpus,
    disk: f.rootGb,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeralGb,
    swap: f.swapMb === 0 ? '' : f.swapMb,
    rxtx_factor: f.rxtxFactor,
    'OS-FLV-DISABLED:disabled': f.disabled,
    'os-flavor-access:is_public': f.isPublic,
    links: links(base, 'flavors', f.id),
  };
}

const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE']);

export function serverBrief(base: string, v: ServerView) {
  return {
    id: v.instance.uuid,
    name: v.instance.displayName,
    links: links(base, 'servers', v.instance.uuid),
  };
}

// sha224(project + host) is the same for every server of a project on a host: computed once.
const hostIds = new Map<string, string>();
function hostIdOf(projectId: string, host: string | null): string {
  if (!host) return '';
  const key = `${projectId}\u0000${host}`;
  let id = hostIds.get(key);
  if (id === undefined) {
    id = createHash('sha224')
      .update(projectId + host)
      .digest('hex');
    if (hostIds.size > 10_000) hostIds.clear();
    hostIds.set(key, id);
  }
  return id;
}

// The keys every server view starts with, in Nova's order, and progress where Nova shows it.
// serverShow and serverFull add their keys to this object by assignment: copying it with rest
// and spread ({ fault, ...shown }, then { ...shown, key_name, … }) made V8 build each copy
// through its slow generic path, ~30 µs a server — most of a 1,000-server GET /servers/detail —
// and left objects that JSON.stringify walked twice as slowly.
function serverCommon(
  base: string,
  i: ServerView['instance'],
  status: string,
  addresses: ServerView['addresses'],
): Record<string, unknown> {
  const s: Record<string, unknown> = {
    id: i.uuid,
    name: i.displayName,
    status,
    tenant_id: i.projectId,
    user_id: i.userId,
    metadata: i.metadata,
    hostId: hostIdOf(i.projectId, i.host),
    image: { id: i.imageId, links: [{ rel: 'bookmark', href: `${base}/images/${i.imageId}` }] },
    flavor: { id: i.flavorId, links: [{ rel: 'bookmark', href: `${base}/flavors/${i.flavorId}` }] },
    created: novaTime(i.createdAt),
    updated: novaTime(i.updatedAt),
    addresses: addresses ?? {},
    accessIPv4: i.accessIpv4,
    accessIPv6: i.accessIpv6,
    links: links(base, 'servers', i.uuid),
    'OS-DCF:diskConfig': i.diskConfig,
  };
  if (PROGRESS_STATUSES.has(status)) s.progress = status === 'ACTIVE' ? 100 : 0;
  return s;
}

/**
 * The server as Nova's update and rebuild replies show it (their view builder with every
 * extension off): no OS-EXT-*, key_name, config_drive, security_groups, volumes.
 */
export function serverShow(base: string, ctx: RequestContext, v: ServerView) {
  const i = v.instance;
  const status = statusOf(i.vmState, i.taskState);
  const s = serverCommon(base, i, status, v.addresses);
  if ((status === 'ERROR' || status === 'DELETED') && v.fault) s.fault = faultView(ctx, v.fault);
  return s;
}

/** The server as GET /servers/{id} and /servers/detail show it (every 2.1 extension). */
export function serverFull(base: string, ctx: RequestContext, v: ServerView) {
  const i = v.instance;
  const status = statusOf(i.vmState, i.taskState);
  const s = serverCommon(base, i, status, v.addresses);
  s.key_name = i.keyName;
  s.config_drive = i.configDrive ? 'True' : '';
  s.security_groups = [{ name: 'default' }];
  s['OS-EXT-AZ:availability_zone'] = i.availabilityZone;
  s['OS-SRV-USG:launched_at'] = novaMicros(i.launchedAt);
  s['OS-SRV-USG:terminated_at'] = novaMicros(i.terminatedAt);
  s['OS-EXT-STS:vm_state'] = i.vmState;
  s['OS-EXT-STS:task_state'] = i.taskState;
  s['OS-EXT-STS:power_state'] = i.powerState;
  s['os-extended-volumes:volumes_attached'] = [];
  if (ctx.isAdmin) {
    s['OS-EXT-SRV-ATTR:host'] = i.host;
    s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = i.node;
    s['OS-EXT-SRV-ATTR:instance_name'] = `instance-${i.number.toString(16).padStart(8, '0')}`;
  }
  if ((status === 'ERROR' || status === 'DELETED') && v.fault) s.fault = faultView(ctx, v.fault);
  return s;
}

function faultView(ctx: RequestContext, fault: NonNullable<ServerView['fault']>) {
  const f: Record<string, unknown> = {
    code: fault.code,
    message: fault.message,
    created: novaTime(fault.createdAt),
  };
  // Nova shows details to admins, and to everyone for non-500 faults; Kestrel's faults carry
  // other 5xx codes too (503, 507), whose details are the host's and so for admins only.
  if (ctx.isAdmin || fault.code < 500) f.details = fault.details;
  return f;
}

export function actionView(a: InstanceAction) {
  return {
    action: a.action,
    instance_uuid: a.instanceUuid,
    request_id: a.requestId,
    user_id: a.userId,
    project_id: a.projectId,
    start_time: novaMicros(a.startTime),
    message: a.message,
  };
}

export function eventView(e: ActionEvent, ctx: RequestContext) {
  const v: Record<string, unknown> = {
    event: e.event,
    start_time: novaMicros(e.startTime),
    finish_time: novaMicros(e.finishTime),
    result: e.result,
  };
  if (ctx.isAdmin) v.traceback = e.traceback;
  return v;
}

export function keypairView(k: Keypair, detail: boolean) {
  const v: Record<string, unknown> = { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint };
  if (detail) {
    Object.assign(v, {
      user_id: k.userId,
      id: k.id,
      created_at: novaMicros(k.createdAt),
      updated_at: null,
      deleted: false,
      deleted_at: null,
    });
  }
  return v;
}
