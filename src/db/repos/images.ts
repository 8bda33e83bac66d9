// Image records (Glance's metadata); the bytes live in an ImageStore.
import { type Db, nowIso, toBool, toInt } from './util.js';
import type { ImageTable } from '../schema.js';

export interface ImageRecord {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  osHidden: boolean;
  owner: string | null;
  containerFormat: string | null;
  diskFormat: string | null;
  minDisk: number;
  minRam: number;
  size: number | null;
  virtualSize: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  location: string | null;
  failure: string | null;
  createdAt: string;
  updatedAt: string;
  properties: Record<string, string>;
  tags: string[];
}

export type ImagePatch = Partial<Omit<ImageRecord, 'id' | 'createdAt' | 'updatedAt' | 'properties' | 'tags'>>;

function toRow(p: ImagePatch): Partial<ImageTable> {
  const r: Partial<ImageTable> = {};
  if (p.name !== undefined) r.name = p.name;
  if (p.status !== undefined) r.status = p.status;
  if (p.visibility !== undefined) r.visibility = p.visibility;
  if (p.protected !== undefined) r.protected = toInt(p.protected);
  if (p.osHidden !== undefined) r.os_hidden = toInt(p.osHidden);
  if (p.owner !== undefined) r.owner = p.owner;
  if (p.containerFormat !== undefined) r.container_format = p.containerFormat;
  if (p.diskFormat !== undefined) r.disk_format = p.diskFormat;
  if (p.minDisk !== undefined) r.min_disk = p.minDisk;
  if (p.minRam !== undefined) r.min_ram = p.minRam;
  if (p.size !== undefined) r.size = p.size;
  if (p.virtualSize !== undefined) r.virtual_size = p.virtualSize;
  if (p.checksum !== undefined) r.checksum = p.checksum;
  if (p.osHashAlgo !== undefined) r.os_hash_algo = p.osHashAlgo;
  if (p.osHashValue !== undefined) r.os_hash_value = p.osHashValue;
  if (p.location !== undefined) r.location = p.location;
  if (p.failure !== undefined) r.failure = p.failure;
  return r;
}

function fromRow(r: ImageTable, properties: Record<string, string>, tags: string[]): ImageRecord {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    visibility: r.visibility,
    protected: toBool(r.protected),
    osHidden: toBool(r.os_hidden),
    owner: r.owner,
    containerFormat: r.container_format,
    diskFormat: r.disk_format,
    minDisk: Number(r.min_disk),
    minRam: Number(r.min_ram),
    size: r.size === null ? null : Number(r.size),
    virtualSize: r.virtual_size === null ? null : Number(r.virtual_size),
    checksum: r.checksum,
    osHashAlgo: r.os_hash_algo,
    osHashValue: r.os_hash_value,
    location: r.location,
    failure: r.failure,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    properties,
    tags,
  };
}

export class ImageRepo {
  constructor(private readonly db: Db) {}

  async create(img: {
    id: string;
    name: string | null;
    visibility: string;
    protected: boolean;
    osHidden: boolean;
    owner: string | null;
    containerFormat: string | null;
    diskFormat: string | null;
    minDisk: number;
    minRam: number;
    properties: Record<string, string>;
    tags: string[];
  }): Promise<ImageRecord> {
    const now = nowIso();
    await this.db
      .insertInto('images')
      .values({
        id: img.id,
        name: img.name,
        status: 'queued',
        visibility: img.visibility,
        protected: toInt(img.protected),
        os_hidden: toInt(img.osHidden),
        owner: img.owner,
        container_format: img.containerFormat,
        disk_format: img.diskFormat,
        min_disk: img.minDisk,
        min_ram: img.minRam,
        size: null,
        virtual_size: null,
        checksum: null,
        os_hash_algo: null,
        os_hash_value: null,
        location: null,
        failure: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await this.setProperties(img.id, img.properties);
    for (const tag of img.tags) await this.addTag(img.id, tag);
    return (await this.get(img.id))!;
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    const r = await this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    const [props, tags] = await Promise.all([this.properties([id]), this.tags([id])]);
    return fromRow(r, props.get(id) ?? {}, tags.get(id) ?? []);
  }

  async list(ids?: string[]): Promise<ImageRecord[]> {
    let q = this.db.selectFrom('images').selectAll();
    if (ids) {
      if (ids.length === 0) return [];
      q = q.where('id', 'in', ids);
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').execute();
    const all = rows.map((r) => r.id);
    const [props, tags] = await Promise.all([
      this.properties(ids ? all : undefined),
      this.tags(ids ? all : undefined),
    ]);
    return rows.map((r) => fromRow(r, props.get(r.id) ?? {}, tags.get(r.id) ?? []));
  }

  private async properties(ids?: string[]): Promise<Map<string, Record<string, string>>> {
    let q = this.db.selectFrom('image_properties').selectAll();
    if (ids) q = q.where('image_id', 'in', ids.length ? ids : ['']);
    const m = new Map<string, Record<string, string>>();
    for (const r of await q.execute()) {
      const o = m.get(r.image_id) ?? {};
      o[r.key] = r.value;
      m.set(r.image_id, o);
    }
    return m;
  }

  private async tags(ids?: string[]): Promise<Map<string, string[]>> {
    let q = this.db.selectFrom('image_tags').selectAll();
    if (ids) q = q.where('image_id', 'in', ids.length ? ids : ['']);
    const m = new Map<string, string[]>();
    for (const r of await q.orderBy('tag').execute()) {
      const a = m.get(r.image_id) ?? [];
      a.push(r.tag);
      m.set(r.image_id, a);
    }
    return m;
  }

  async update(id: string, patch: ImagePatch): Promise<void> {
    await this.db
      .updateTable('images')
      .set({ ...toRow(patch), updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  /** Marks the image active with what the store learned of its data (upload, snapshot, backup). */
  async activate(
    id: string,
    facts: Pick<ImageRecord, 'size' | 'virtualSize' | 'checksum' | 'osHashAlgo' | 'osHashValue' | 'location'>,
  ): Promise<void> {
    await this.update(id, {
      status: 'active',
      size: facts.size,
      virtualSize: facts.virtualSize,
      checksum: facts.checksum,
      osHashAlgo: facts.osHashAlgo,
      osHashValue: facts.osHashValue,
      location: facts.location,
      failure: null,
    });
  }

  /** Moves the image from one status to another only if it is still in `from` (upload races). */
  async transition(id: string, from: string[], patch: ImagePatch & { status: string }): Promise<boolean> {
    const r = await this.db
      .updateTable('images')
      .set({ ...toRow(patch), updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async setProperties(id: string, props: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(props)) {
      await this.db
        .insertInto('image_properties')
        .values({ image_id: id, key, value })
        .onConflict((oc) => oc.columns(['image_id', 'key']).doUpdateSet({ value }))
        .execute();
    }
  }

  async removeProperty(id: string, key: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('image_properties')
      .where('image_id', '=', id)
      .where('key', '=', key)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async addTag(id: string, tag: string): Promise<void> {
    await this.db
      .insertInto('image_tags')
      .values({ image_id: id, tag })
      .onConflict((oc) => oc.columns(['image_id', 'tag']).doNothing())
      .execute();
  }

  async removeTag(id: string, tag: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('image_tags')
      .where('image_id', '=', id)
      .where('tag', '=', tag)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    await this.db.deleteFrom('image_properties').where('image_id', '=', id).execute();
    await this.db.deleteFrom('image_tags').where('image_id', '=', id).execute();
    const r = await this.db.deleteFrom('images').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
