// Networking v2 resources: documents by kind (network, subnet, port, security_group,
// security_group_rule, router, floatingip) and the per-subnet fixed-IP allocations.
import { type Db, nowIso } from './util.js';

export type NetworkResourceKind =
  | 'network'
  | 'subnet'
  | 'port'
  | 'security_group'
  | 'security_group_rule'
  | 'router'
  | 'floatingip'
  | 'quota';

export interface NetworkResource<B = Record<string, unknown>> {
  id: string;
  kind: NetworkResourceKind;
  projectId: string;
  parentId: string | null;
  deviceId: string | null;
  macAddress: string | null;
  body: B;
  createdAt: string;
  updatedAt: string;
}

export interface ResourceFilter {
  projectId?: string;
  parentId?: string;
  deviceId?: string;
  ids?: string[];
}

export class NetworkingRepo {
  constructor(private readonly db: Db) {}

  async insert<B>(r: Omit<NetworkResource<B>, 'createdAt' | 'updatedAt'>): Promise<NetworkResource<B>> {
    const now = nowIso();
    await this.db
      .insertInto('network_resources')
      .values({
        id: r.id,
        kind: r.kind,
        project_id: r.projectId,
        parent_id: r.parentId,
        device_id: r.deviceId,
        mac_address: r.macAddress,
        body: JSON.stringify(r.body),
        created_at: now,
        updated_at: now,
      })
      .execute();
    return { ...r, createdAt: now, updatedAt: now };
  }

  async get<B>(kind: NetworkResourceKind, id: string): Promise<NetworkResource<B> | undefined> {
    const row = await this.db
      .selectFrom('network_resources')
      .selectAll()
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && mapRow<B>(row);
  }

  async list<B>(kind: NetworkResourceKind, f: ResourceFilter = {}): Promise<NetworkResource<B>[]> {
    if (f.ids && f.ids.length === 0) return [];
    let q = this.db.selectFrom('network_resources').selectAll().where('kind', '=', kind);
    if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
    if (f.parentId !== undefined) q = q.where('parent_id', '=', f.parentId);
    if (f.deviceId !== undefined) q = q.where('device_id', '=', f.deviceId);
    if (f.ids) q = q.where('id', 'in', f.ids);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => mapRow<B>(r));
  }

  async count(kind: NetworkResourceKind, projectId: string): Promise<number> {
    const row = await this.db
      .selectFrom('network_resources')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', kind)
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Replaces the document (and the lifted columns that can change: device, MAC). */
  async update<B>(
    kind: NetworkResourceKind,
    id: string,
    body: B,
    lifted: { deviceId?: string | null; macAddress?: string | null } = {},
  ): Promise<string> {
    const now = nowIso();
    await this.db
      .updateTable('network_resources')
      .set({
        body: JSON.stringify(body),
        updated_at: now,
        ...(lifted.deviceId !== undefined ? { device_id: lifted.deviceId } : {}),
        ...(lifted.macAddress !== undefined ? { mac_address: lifted.macAddress } : {}),
      })
      .where('kind', '=', kind)
      .where('id', '=', id)
      .execute();
    return now;
  }

  async delete(kind: NetworkResourceKind, id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('network_resources')
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Takes ip in subnet for port; false when another port holds it (the primary key decides). */
  async allocateIp(subnetId: string, ip: string, portId: string): Promise<boolean> {
    const r = await this.db
      .insertInto('network_ip_allocations')
      .values({ subnet_id: subnetId, ip_address: ip, port_id: portId })
      .onConflict((oc) => oc.columns(['subnet_id', 'ip_address']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async allocatedIps(subnetId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('network_ip_allocations')
      .select('ip_address')
      .where('subnet_id', '=', subnetId)
      .execute();
    return new Set(rows.map((r) => r.ip_address));
  }

  async ipHolder(subnetId: string, ip: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('network_ip_allocations')
      .select('port_id')
      .where('subnet_id', '=', subnetId)
      .where('ip_address', '=', ip)
      .executeTakeFirst();
    return row?.port_id;
  }

  async releaseIps(portId: string, keep: { subnetId: string; ip: string }[] = []): Promise<void> {
    const rows = await this.db
      .selectFrom('network_ip_allocations')
      .selectAll()
      .where('port_id', '=', portId)
      .execute();
    for (const r of rows) {
      if (keep.some((k) => k.subnetId === r.subnet_id && k.ip === r.ip_address)) continue;
      await this.db
        .deleteFrom('network_ip_allocations')
        .where('subnet_id', '=', r.subnet_id)
        .where('ip_address', '=', r.ip_address)
        .execute();
    }
  }
}

function mapRow<B>(r: {
  id: string;
  kind: string;
  project_id: string;
  parent_id: string | null;
  device_id: string | null;
  mac_address: string | null;
  body: string;
  created_at: string;
  updated_at: string;
}): NetworkResource<B> {
  return {
    id: r.id,
    kind: r.kind as NetworkResourceKind,
    projectId: r.project_id,
    parentId: r.parent_id,
    deviceId: r.device_id,
    macAddress: r.mac_address,
    body: JSON.parse(r.body) as B,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
