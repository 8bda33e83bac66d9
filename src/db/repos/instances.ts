// Instances, their actions with timed events (each phase of a build or an action), and faults.
import { randomUUID } from 'node:crypto';
import { SqliteAdapter, sql } from 'kysely';
import type { InstanceTable } from '../schema.js';
import { type Db, nextCounter, nowIso, toBool, toInt } from './util.js';

export interface FlavorSnapshot {
  id: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  extraSpecs: Record<string, string>;
}

export interface Instance {
  uuid: string;
  number: number;
  displayName: string;
  projectId: string;
  userId: string;
  flavorId: string;
  flavor: FlavorSnapshot;
  imageId: string;
  vmState: string;
  taskState: string | null;
  powerState: number;
  host: string | null;
  node: string | null;
  availabilityZone: string;
  keyName: string | null;
  metadata: Record<string, string>;
  reservationId: string;
  locked: boolean;
  accessIpv4: string;
  accessIpv6: string;
  diskConfig: string;
  /** The guest gets a config drive (Nova's instances.config_drive). */
  configDrive: boolean;
  /** The guest's host name (the sanitised display name, fixed at create). */
  hostname: string;
  /** Position in its multi-create request (0 for a single server). */
  launchIndex: number;
  createdAt: string;
  updatedAt: string;
  launchedAt: string | null;
  terminatedAt: string | null;
  deleted: boolean;
  deletedAt: string | null;
}

export type NewInstance = Pick<
  Instance,
  | 'uuid'
  | 'displayName'
  | 'projectId'
  | 'userId'
  | 'flavor'
  | 'imageId'
  | 'availabilityZone'
  | 'keyName'
  | 'metadata'
  | 'reservationId'
  | 'accessIpv4'
  | 'accessIpv6'
  | 'diskConfig'
> &
  Partial<Pick<Instance, 'configDrive' | 'hostname' | 'launchIndex'>> & { userData?: string | null };

export type InstancePatch = Partial<
  Pick<
    Instance,
    | 'displayName'
    | 'vmState'
    | 'taskState'
    | 'powerState'
    | 'host'
    | 'node'
    | 'metadata'
    | 'locked'
    | 'accessIpv4'
    | 'accessIpv6'
    | 'diskConfig'
    | 'configDrive'
    | 'launchedAt'
    | 'terminatedAt'
  >
>;

export interface InstanceFilter {
  projectId?: string;
  host?: string;
  imageId?: string;
  flavorId?: string;
  reservationId?: string;
  keyName?: string;
  userId?: string;
  vmStates?: string[];
  includeDeleted?: boolean;
  changesSince?: string;
}

export interface InstanceAction {
  id: string;
  instanceUuid: string;
  requestId: string;
  action: string;
  userId: string;
  projectId: string;
  startTime: string;
  finishTime: string | null;
  message: string | null;
}

export interface ActionEvent {
  id: number;
  event: string;
  startTime: string;
  finishTime: string | null;
  result: string | null;
  traceback: string | null;
}

export interface Fault {
  code: number;
  message: string;
  details: string;
  createdAt: string;
}

function fromRow(r: InstanceTable): Instance {
  return {
    uuid: r.uuid,
    number: Number(r.number),
    displayName: r.display_name,
    projectId: r.project_id,
    userId: r.user_id,
    flavorId: r.flavor_id,
    flavor: JSON.parse(r.flavor_json) as FlavorSnapshot,
    imageId: r.image_id,
    vmState: r.vm_state,
    taskState: r.task_state,
    powerState: Number(r.power_state),
    host: r.host,
    node: r.node,
    availabilityZone: r.availability_zone,
    keyName: r.key_name,
    metadata: JSON.parse(r.metadata_json) as Record<string, string>,
    reservationId: r.reservation_id,
    locked: toBool(r.locked),
    accessIpv4: r.access_ipv4,
    accessIpv6: r.access_ipv6,
    diskConfig: r.disk_config,
    configDrive: r.config_drive === 'True',
    hostname: r.hostname,
    launchIndex: Number(r.launch_index),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    launchedAt: r.launched_at,
    terminatedAt: r.terminated_at,
    deleted: toBool(r.deleted),
    deletedAt: r.deleted_at,
  };
}

// The columns of list()'s SQLite fast path, in fromTuple's order (JSON columns inlined).
const LIST_COLUMNS =
  'i.uuid, i.number, i.display_name, i.project_id, i.user_id, i.flavor_id, json(i.flavor_json), ' +
  'i.image_id, i.vm_state, i.task_state, i.power_state, i.host, i.node, i.availability_zone, ' +
  'i.key_name, json(i.metadata_json), i.reservation_id, i.locked, i.access_ipv4, i.access_ipv6, ' +
  'i.disk_config, i.created_at, i.updated_at, i.launched_at, i.terminated_at, i.deleted, i.deleted_at, ' +
  'i.config_drive, i.hostname, i.launch_index';
type ListTuple = [
  string,
  number,
  string,
  string,
  string,
  string,
  FlavorSnapshot,
  string,
  string,
  string | null,
  number,
  string | null,
  string | null,
  string,
  string | null,
  Record<string, string>,
  string,
  number,
  string,
  string,
  string,
  string,
  string,
  string | null,
  string | null,
  number,
  string | null,
  string,
  string,
  number,
];
function fromTuple(t: ListTuple): Instance {
  return {
    uuid: t[0],
    number: t[1],
    displayName: t[2],
    projectId: t[3],
    userId: t[4],
    flavorId: t[5],
    flavor: t[6],
    imageId: t[7],
    vmState: t[8],
    taskState: t[9],
    powerState: t[10],
    host: t[11],
    node: t[12],
    availabilityZone: t[13],
    keyName: t[14],
    metadata: t[15],
    reservationId: t[16],
    locked: t[17] === 1,
    accessIpv4: t[18],
    accessIpv6: t[19],
    diskConfig: t[20],
    createdAt: t[21],
    updatedAt: t[22],
    launchedAt: t[23],
    terminatedAt: t[24],
    deleted: t[25] === 1,
    deletedAt: t[26],
    configDrive: t[27] === 'True',
    hostname: t[28],
    launchIndex: t[29],
  };
}

function patchRow(p: InstancePatch): Partial<InstanceTable> {
  const r: Partial<InstanceTable> = {};
  if (p.displayName !== undefined) r.display_name = p.displayName;
  if (p.vmState !== undefined) r.vm_state = p.vmState;
  if (p.taskState !== undefined) r.task_state = p.taskState;
  if (p.powerState !== undefined) r.power_state = p.powerState;
  if (p.host !== undefined) r.host = p.host;
  if (p.node !== undefined) r.node = p.node;
  if (p.metadata !== undefined) r.metadata_json = JSON.stringify(p.metadata);
  if (p.locked !== undefined) r.locked = toInt(p.locked);
  if (p.accessIpv4 !== undefined) r.access_ipv4 = p.accessIpv4;
  if (p.accessIpv6 !== undefined) r.access_ipv6 = p.accessIpv6;
  if (p.diskConfig !== undefined) r.disk_config = p.diskConfig;
  if (p.configDrive !== undefined) r.config_drive = p.configDrive ? 'True' : '';
  if (p.launchedAt !== undefined) r.launched_at = p.launchedAt;
  if (p.terminatedAt !== undefined) r.terminated_at = p.terminatedAt;
  return r;
}

export class InstanceRepo {
  constructor(private readonly db: Db) {}

  async create(i: NewInstance): Promise<Instance> {
    const now = nowIso();
    const row: InstanceTable = {
      uuid: i.uuid,
      number: await nextCounter(this.db, 'instance'),
      display_name: i.displayName,
      project_id: i.projectId,
      user_id: i.userId,
      flavor_id: i.flavor.id,
      flavor_json: JSON.stringify(i.flavor),
      image_id: i.imageId,
      vm_state: 'building',
      task_state: 'scheduling',
      power_state: 0,
      host: null,
      node: null,
      availability_zone: i.availabilityZone,
      key_name: i.keyName,
      metadata_json: JSON.stringify(i.metadata),
      reservation_id: i.reservationId,
      locked: 0,
      access_ipv4: i.accessIpv4,
      access_ipv6: i.accessIpv6,
      disk_config: i.diskConfig,
      user_data: i.userData ?? null,
      config_drive: i.configDrive ? 'True' : '',
      hostname: i.hostname ?? i.displayName,
      launch_index: i.launchIndex ?? 0,
      created_at: now,
      updated_at: now,
      launched_at: null,
      terminated_at: null,
      deleted: 0,
      deleted_at: null,
    };
    await this.db.insertInto('instances').values(row).execute();
    return fromRow(row);
  }

  /** The base64 user data as the API received it, or null. */
  async userData(uuid: string): Promise<string | null> {
    const r = await this.db
      .selectFrom('instances')
      .select('user_data')
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    return r?.user_data ?? null;
  }

  /** Replaces the user data (rebuild at 2.57); null removes it. */
  async setUserData(uuid: string, userData: string | null): Promise<void> {
    await this.db.updateTable('instances').set({ user_data: userData }).where('uuid', '=', uuid).execute();
  }

  async get(uuid: string, opts: { includeDeleted?: boolean } = {}): Promise<Instance | undefined> {
    let q = this.db.selectFrom('instances').selectAll().where('uuid', '=', uuid);
    if (!opts.includeDeleted) q = q.where('deleted', '=', 0);
    const r = await q.executeTakeFirst();
    return r && fromRow(r);
  }

  async list(f: InstanceFilter = {}): Promise<Instance[]> {
    let q = this.db.selectFrom('instances').selectAll();
    if (!f.includeDeleted) q = q.where('deleted', '=', 0);
    if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
    if (f.host !== undefined) q = q.where('host', '=', f.host);
    if (f.imageId !== undefined) q = q.where('image_id', '=', f.imageId);
    if (f.flavorId !== undefined) q = q.where('flavor_id', '=', f.flavorId);
    if (f.reservationId !== undefined) q = q.where('reservation_id', '=', f.reservationId);
    if (f.keyName !== undefined) q = q.where('key_name', '=', f.keyName);
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
    if (f.vmStates !== undefined) q = q.where('vm_state', 'in', f.vmStates.length ? f.vmStates : ['']);
    if (f.changesSince !== undefined) q = q.where('updated_at', '>=', f.changesSince);
    if (this.db.getExecutor().adapter instanceof SqliteAdapter) {
      // SQLite: one JSON string for the whole list, parsed once. better-sqlite3 builds a JS
      // object per row column by column, which is most of a 1,000-server GET /servers/detail;
      // SQLite's JSON builder and V8's JSON.parse do the same work several times faster.
      // The rows are ordered in the subquery, from the (project_id, deleted, created_at, uuid)
      // index: an ORDER BY inside json_group_array would sort the built JSON rows again in a
      // temporary B-tree. A subquery that feeds an aggregate keeps its ORDER BY (SQLite does
      // not flatten it) and json_group_array takes its rows in that order.
      const ordered = q.orderBy('created_at', 'desc').orderBy('uuid', 'desc');
      const { j } = await this.db
        .selectNoFrom(
          sql<string>`(SELECT json_group_array(json_array(${sql.raw(LIST_COLUMNS)})) FROM (${ordered}) AS i)`.as(
            'j',
          ),
        )
        .executeTakeFirstOrThrow();
      return (JSON.parse(j) as ListTuple[]).map(fromTuple);
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('uuid', 'desc').execute();
    return rows.map(fromRow);
  }

  async update(uuid: string, patch: InstancePatch): Promise<void> {
    await this.db
      .updateTable('instances')
      .set({ ...patchRow(patch), updated_at: nowIso() })
      .where('uuid', '=', uuid)
      .execute();
  }

  /**
   * Sets task_state only when the instance is in one of the expected vm_states with no task
   * running: the compare-and-set that makes two concurrent actions on one server a 409.
   */
  async startTask(uuid: string, vmStates: readonly string[], taskState: string): Promise<boolean> {
    const r = await this.db
      .updateTable('instances')
      .set({ task_state: taskState, updated_at: nowIso() })
      .where('uuid', '=', uuid)
      .where('deleted', '=', 0)
      .where('vm_state', 'in', vmStates)
      .where('task_state', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async markDeleted(uuid: string): Promise<void> {
    const now = nowIso();
    await this.db
      .updateTable('instances')
      .set({
        deleted: 1,
        deleted_at: now,
        terminated_at: now,
        vm_state: 'deleted',
        task_state: null,
        power_state: 0,
        updated_at: now,
      })
      .where('uuid', '=', uuid)
      .execute();
  }

  // --- actions and events ---------------------------------------------------------------

  async startAction(
    a: Omit<InstanceAction, 'id' | 'startTime' | 'finishTime' | 'message'>,
  ): Promise<InstanceAction> {
    const action: InstanceAction = {
      ...a,
      id: randomUUID(),
      startTime: nowIso(),
      finishTime: null,
      message: null,
    };
    await this.db
      .insertInto('instance_actions')
      .values({
        id: action.id,
        instance_uuid: action.instanceUuid,
        request_id: action.requestId,
        action: action.action,
        user_id: action.userId,
        project_id: action.projectId,
        start_time: action.startTime,
        finish_time: null,
        message: null,
      })
      .execute();
    return action;
  }

  async finishAction(actionId: string, message: string | null): Promise<void> {
    await this.db
      .updateTable('instance_actions')
      .set({ finish_time: nowIso(), message })
      .where('id', '=', actionId)
      .execute();
  }

  /** The request id an action was started by (faults quote it to members). */
  async requestIdOfAction(actionId: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('instance_actions')
      .select('request_id')
      .where('id', '=', actionId)
      .executeTakeFirst();
    return r?.request_id;
  }

  async listActions(instanceUuid: string): Promise<InstanceAction[]> {
    const rows = await this.db
      .selectFrom('instance_actions')
      .selectAll()
      .where('instance_uuid', '=', instanceUuid)
      .orderBy('start_time', 'desc')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      instanceUuid: r.instance_uuid,
      requestId: r.request_id,
      action: r.action,
      userId: r.user_id,
      projectId: r.project_id,
      startTime: r.start_time,
      finishTime: r.finish_time,
      message: r.message,
    }));
  }

  async getAction(
    instanceUuid: string,
    requestId: string,
  ): Promise<(InstanceAction & { events: ActionEvent[] }) | undefined> {
    const a = (await this.listActions(instanceUuid)).find((x) => x.requestId === requestId);
    if (!a) return undefined;
    const events = await this.db
      .selectFrom('instance_action_events')
      .selectAll()
      .where('action_id', '=', a.id)
      .orderBy('id')
      .execute();
    return {
      ...a,
      events: events.map((e) => ({
        id: Number(e.id),
        event: e.event,
        startTime: e.start_time,
        finishTime: e.finish_time,
        result: e.result,
        traceback: e.traceback,
      })),
    };
  }

  async startEvent(actionId: string, event: string): Promise<number> {
    const r = await this.db
      .insertInto('instance_action_events')
      .values({
        action_id: actionId,
        event,
        start_time: nowIso(),
        finish_time: null,
        result: null,
        traceback: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(r.id);
  }

  async finishEvent(
    eventId: number,
    result: 'Success' | 'Error',
    traceback: string | null = null,
  ): Promise<void> {
    await this.db
      .updateTable('instance_action_events')
      .set({ finish_time: nowIso(), result, traceback })
      .where('id', '=', eventId)
      .execute();
  }

  // --- faults -------------------------------------------------------------------------

  async addFault(uuid: string, f: Omit<Fault, 'createdAt'>): Promise<void> {
    await this.db
      .insertInto('instance_faults')
      .values({
        instance_uuid: uuid,
        code: f.code,
        message: f.message,
        details: f.details,
        created_at: nowIso(),
      })
      .execute();
  }

  /** The newest fault of each given instance. */
  async latestFaults(uuids: string[]): Promise<Map<string, Fault>> {
    const m = new Map<string, Fault>();
    if (uuids.length === 0) return m;
    const rows = await this.db
      .selectFrom('instance_faults')
      .selectAll()
      .where('instance_uuid', 'in', uuids)
      .orderBy('id', 'asc')
      .execute();
    for (const r of rows) {
      m.set(r.instance_uuid, {
        code: Number(r.code),
        message: r.message,
        details: r.details,
        createdAt: r.created_at,
      });
    }
    return m;
  }
}
