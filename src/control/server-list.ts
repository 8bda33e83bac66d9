// GET /servers and /servers/detail (Compute v2.1 §2.7): the project scope, the filters Nova
// applies in the database and those it applies after, sorting, and marker / limit paging.
import type { RequestContext } from './context.js';
import { badRequest, forbidden } from '../errors/index.js';
import { statusOf, vmStatesFor } from './server-state.js';
import type { ServerEnv, ServerListQuery, ServerView } from './server-fields.js';

export async function listServers(
  env: ServerEnv,
  ctx: RequestContext,
  q: ServerListQuery,
): Promise<{ servers: ServerView[]; next?: string }> {
  const one = (k: string) => {
    const v = q[k];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const allTenants = one('all_tenants');
  const wantAll = allTenants !== undefined && ['', '1', 'true', 'True', 'yes'].includes(allTenants);
  let projectId: string | undefined = ctx.projectId;
  if (ctx.isAdmin) {
    if (wantAll) projectId = one('project_id') ?? one('tenant_id');
    else if (one('project_id') ?? one('tenant_id')) projectId = one('project_id') ?? one('tenant_id');
  }
  const status = one('status');
  let vmStates: string[] | undefined;
  let includeDeleted = false;
  if (status !== undefined) {
    if (status.toUpperCase() === 'DELETED') {
      if (!ctx.isAdmin) throw forbidden('Only administrators may list deleted servers.');
      includeDeleted = true;
    }
    vmStates = vmStatesFor(status) ?? [];
  }
  const vmStateF = one('vm_state');
  if (vmStateF !== undefined) vmStates = [vmStateF];
  const changesSince = one('changes-since');
  if (changesSince !== undefined && Number.isNaN(Date.parse(changesSince))) {
    throw badRequest('changes-since must be an ISO 8601 time.');
  }
  const imageF = one('image');
  const flavorF = one('flavor');
  let rows = await env.repos.instances.list({
    projectId,
    host: ctx.isAdmin ? one('host') : undefined,
    imageId: imageF?.split('/').pop(),
    flavorId: flavorF?.split('/').pop(),
    reservationId: one('reservation_id'),
    keyName: one('key_name'),
    userId: one('user_id'),
    vmStates,
    includeDeleted: includeDeleted || changesSince !== undefined,
    changesSince: changesSince ? new Date(changesSince).toISOString() : undefined,
  });
  if (status !== undefined) {
    const s = status.toUpperCase();
    rows = rows.filter((r) => statusOf(r.vmState, r.taskState) === s);
  }
  const nameF = one('name');
  if (nameF !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(nameF);
    } catch {
      throw badRequest(`name filter ${nameF} is not a valid regular expression.`);
    }
    rows = rows.filter((r) => re.test(r.displayName));
  }
  const taskF = one('task_state');
  if (taskF !== undefined) rows = rows.filter((r) => (r.taskState ?? '') === taskF);
  const powerF = one('power_state');
  if (powerF !== undefined) rows = rows.filter((r) => String(r.powerState) === powerF);
  const ipF = one('ip') ?? one('ip6');
  if (ipF !== undefined) rows = [];
  const sortKey = one('sort_key');
  if (sortKey !== undefined) {
    const dir = one('sort_dir') === 'asc' ? 1 : -1;
    const key =
      sortKey === 'display_name'
        ? 'displayName'
        : sortKey === 'created_at'
          ? 'createdAt'
          : sortKey === 'updated_at'
            ? 'updatedAt'
            : sortKey === 'uuid'
              ? 'uuid'
              : undefined;
    if (!key)
      throw badRequest(
        `sort_key ${sortKey} is not supported; use display_name, created_at, updated_at or uuid.`,
      );
    rows.sort((a, b) => String(a[key]).localeCompare(String(b[key])) * dir);
  }
  const marker = one('marker');
  if (marker !== undefined) {
    const i = rows.findIndex((r) => r.uuid === marker);
    if (i < 0) throw badRequest(`marker [${marker}] not found`);
    rows = rows.slice(i + 1);
  }
  const limitS = one('limit');
  let next: string | undefined;
  if (limitS !== undefined && !/^\d+$/.test(limitS)) throw badRequest('limit must be a whole number ≥ 0.');
  // Without a limit Nova still pages at [api] max_limit (osapi_max_limit, 1000).
  const limit = Math.min(limitS === undefined ? 1000 : Number(limitS), 1000);
  if (rows.length > limit) {
    rows = rows.slice(0, limit);
    next = rows.length ? rows[rows.length - 1].uuid : undefined;
  }
  const errored = rows.filter((r) => r.vmState === 'error' || r.deleted).map((r) => r.uuid);
  const faults = await env.repos.instances.latestFaults(errored);
  const addresses = await env.network?.addresses(rows.map((r) => r.uuid));
  return {
    servers: rows.map((instance) => ({
      instance,
      fault: faults.get(instance.uuid),
      addresses: addresses?.get(instance.uuid),
    })),
    next,
  };
}
