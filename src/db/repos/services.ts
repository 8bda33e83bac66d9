// Service records (nova-compute, nova-scheduler … on each host) for os-services.
import { type Db, nextCounter, nowIso, toBool, toInt } from './util.js';

export interface ServiceRecord {
  id: number;
  host: string;
  binary: string;
  topic: string;
  zone: string;
  disabled: boolean;
  disabledReason: string | null;
  updatedAt: string;
  createdAt: string;
}

export class ServiceRepo {
  constructor(private readonly db: Db) {}

  /** Creates the record if needed and refreshes its heartbeat. */
  async heartbeat(host: string, binary: string, topic: string, zone: string): Promise<ServiceRecord> {
    const now = nowIso();
    const existing = await this.get(host, binary);
    if (existing) {
      await this.db.updateTable('services').set({ updated_at: now }).where('id', '=', existing.id).execute();
      return { ...existing, updatedAt: now };
    }
    const id = await nextCounter(this.db, 'service');
    await this.db
      .insertInto('services')
      .values({
        id,
        host,
        binary,
        topic,
        zone,
        disabled: 0,
        disabled_reason: null,
        updated_at: now,
        created_at: now,
      })
      .execute();
    return (await this.get(host, binary))!;
  }

  async get(host: string, binary: string): Promise<ServiceRecord | undefined> {
    const r = await this.db
      .selectFrom('services')
      .selectAll()
      .where('host', '=', host)
      .where('binary', '=', binary)
      .executeTakeFirst();
    return r && this.map(r);
  }

  async list(): Promise<ServiceRecord[]> {
    const rows = await this.db.selectFrom('services').selectAll().orderBy('id').execute();
    return rows.map((r) => this.map(r));
  }

  async setDisabled(
    host: string,
    binary: string,
    disabled: boolean,
    reason: string | null,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('services')
      .set({ disabled: toInt(disabled), disabled_reason: disabled ? reason : null })
      .where('host', '=', host)
      .where('binary', '=', binary)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  private map(r: {
    id: number;
    host: string;
    binary: string;
    topic: string;
    zone: string;
    disabled: number;
    disabled_reason: string | null;
    updated_at: string;
    created_at: string;
  }): ServiceRecord {
    return {
      id: Number(r.id),
      host: r.host,
      binary: r.binary,
      topic: r.topic,
      zone: r.zone,
      disabled: toBool(r.disabled),
      disabledReason: r.disabled_reason,
      updatedAt: r.updated_at,
      createdAt: r.created_at,
    };
  }
}
