// The few database reads and writes start-up reconciliation needs that the repositories don't
// offer: actions and events left open by a killed process, and snapshot images cut short.
import type { Db } from '../db/repos/util.js';

const nowIso = () => new Date().toISOString();

/** Chunks an `in (…)` list so that SQLite's bound-parameter limit is never reached. */
function chunks<T>(xs: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

export interface OpenAction {
  id: string;
  instanceUuid: string;
  action: string;
}

/** Actions of the given instances that never finished (their process died under them). */
export async function openActions(db: Db, instanceUuids: string[]): Promise<OpenAction[]> {
  const out: OpenAction[] = [];
  for (const part of chunks(instanceUuids)) {
    const rows = await db
      .selectFrom('instance_actions')
      .select(['id', 'instance_uuid', 'action'])
      .where('instance_uuid', 'in', part)
      .where('finish_time', 'is', null)
      .execute();
    for (const r of rows) out.push({ id: r.id, instanceUuid: r.instance_uuid, action: r.action });
  }
  return out;
}

/**
 * Closes an interrupted action: every event still open ends in Error with the reason as its
 * traceback (so `openstack server event show` says where the operation stopped), then the
 * action itself with `message` (null = success, 'Error' = failed).
 */
export async function closeAction(
  db: Db,
  actionId: string,
  message: string | null,
  reason: string,
): Promise<number> {
  const now = nowIso();
  const r = await db
    .updateTable('instance_action_events')
    .set({ finish_time: now, result: 'Error', traceback: reason })
    .where('action_id', '=', actionId)
    .where('finish_time', 'is', null)
    .executeTakeFirst();
  await db
    .updateTable('instance_actions')
    .set({ finish_time: now, message })
    .where('id', '=', actionId)
    .execute();
  return Number(r.numUpdatedRows);
}

/** Snapshot images of an instance still queued or saving (their upload died with the process). */
export async function unfinishedSnapshots(db: Db, instanceUuid: string): Promise<string[]> {
  const rows = await db
    .selectFrom('images')
    .innerJoin('image_properties', 'image_properties.image_id', 'images.id')
    .select('images.id')
    .where('image_properties.key', '=', 'instance_uuid')
    .where('image_properties.value', '=', instanceUuid)
    .where('images.status', 'in', ['queued', 'saving'])
    .execute();
  return rows.map((r) => r.id);
}

/** Instance rows by uuid, deleted ones included: uuid → deleted. */
export async function instanceRows(db: Db, uuids: string[]): Promise<Map<string, boolean>> {
  const m = new Map<string, boolean>();
  for (const part of chunks(uuids)) {
    const rows = await db
      .selectFrom('instances')
      .select(['uuid', 'deleted'])
      .where('uuid', 'in', part)
      .execute();
    for (const r of rows) m.set(r.uuid, Number(r.deleted) === 1);
  }
  return m;
}
