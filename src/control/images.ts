// Image v2 (Glance §3): records in the database, bytes in an ImageStore that inspects every
// upload. A refused (hostile or mislabelled) upload leaves the image `killed` with the
// reason; an interrupted one leaves it `queued` for another try. Never `active` otherwise.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ImageRecord, Repositories } from '../db/index.js';
import type { ImageStore } from '../images/store/store.js';
import type { RequestContext } from './context.js';
import {
  KestrelError,
  badRequest,
  conflict,
  forbidden,
  isKestrelError,
  messageOf,
  notFound,
} from '../errors/index.js';
import { validateImageProperty } from './validate.js';
import { checkFreeText, checkName } from './text-rules.js';
import { compareTime, lastOf, parseImageListQuery } from './image-query.js';

export const DISK_FORMATS = [
  'ami',
  'ari',
  'aki',
  'vhd',
  'vhdx',
  'vmdk',
  'raw',
  'qcow2',
  'vdi',
  'iso',
  'ploop',
];
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
const VISIBILITIES = ['public', 'private', 'shared', 'community'];
const RESERVED = new Set([
  'id',
  'status',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'self',
  'file',
  'schema',
  'created_at',
  'updated_at',
  'direct_url',
  'locations',
  'deleted',
  'deleted_at',
  'stores',
]);
const CORE = new Set([
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'container_format',
  'disk_format',
  'min_disk',
  'min_ram',
  'tags',
  'owner',
]);

/** Whether a key names one of Glance's image attributes rather than a free property. */
export function isImageAttribute(key: string): boolean {
  return CORE.has(key) || RESERVED.has(key);
}
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export const isUuid = (s: string): boolean => UUID.test(s);

export interface ImageListQuery {
  [k: string]: string | string[] | undefined;
}

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

export class ImageService {
  constructor(
    private readonly repos: Repositories,
    private readonly store: ImageStore,
    private readonly limits: { maxImageSize: number } = { maxImageSize: 1024 ** 4 },
  ) {}

  private canSee(ctx: RequestContext, img: ImageRecord): boolean {
    return (
      ctx.isAdmin ||
      img.visibility === 'public' ||
      img.visibility === 'community' ||
      img.owner === ctx.projectId
    );
  }

  private canWrite(ctx: RequestContext, img: ImageRecord): void {
    if (!ctx.isAdmin && img.owner !== ctx.projectId) {
      throw forbidden(`You are not permitted to modify image ${img.id}: it belongs to another project.`);
    }
  }

  async get(ctx: RequestContext, id: string): Promise<ImageRecord> {
    if (!isUuid(id)) throw notFound(`No image found with ID ${id}`);
    const img = await this.repos.images.get(id);
    if (!img || !this.canSee(ctx, img)) throw notFound(`No image found with ID ${id}`);
    return img;
  }

  private applyCore(target: Partial<ImageRecord>, key: string, value: unknown, ctx: RequestContext): void {
    const str = (v: unknown) => {
      if (v !== null && typeof v !== 'string') throw badRequest(`${key} must be a string.`);
      return v as string | null;
    };
    const bool = (v: unknown) => {
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'True') return true;
      if (v === 'false' || v === 'False') return false;
      throw badRequest(`${key} must be true or false.`);
    };
    const nonNeg = (v: unknown) => {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
        throw badRequest(`${key} must be a whole number ≥ 0.`);
      return n;
    };
    switch (key) {
      case 'name': {
        const n = str(value);
        target.name = n === null ? null : checkName('name', n, { edges: 'allow' });
        return;
      }
      case 'visibility': {
        const v = str(value);
        if (!v || !VISIBILITIES.includes(v))
          throw badRequest(`visibility must be one of ${VISIBILITIES.join(', ')}.`);
        if (v === 'public' && !ctx.isAdmin)
          throw forbidden('Only administrators may publicize images (visibility public).');
        target.visibility = v;
        return;
      }
      case 'protected':
        target.protected = bool(value);
        return;
      case 'os_hidden':
        target.osHidden = bool(value);
        return;
      case 'container_format': {
        const v = str(value);
        if (v !== null && !CONTAINER_FORMATS.includes(v)) {
          throw badRequest(
            `Invalid container format '${v}' for image; valid: ${CONTAINER_FORMATS.join(', ')}.`,
          );
        }
        target.containerFormat = v;
        return;
      }
      case 'disk_format': {
        const v = str(value);
        if (v !== null && !DISK_FORMATS.includes(v)) {
          throw badRequest(`Invalid disk format '${v}' for image; valid: ${DISK_FORMATS.join(', ')}.`);
        }
        target.diskFormat = v;
        return;
      }
      case 'min_disk':
        target.minDisk = nonNeg(value);
        return;
      case 'min_ram':
        target.minRam = nonNeg(value);
        return;
      case 'owner':
        if (!ctx.isAdmin && value !== ctx.projectId)
          throw forbidden('Only administrators may set another owner.');
        target.owner = str(value);
        return;
    }
  }

  private checkExtra(key: string, value: unknown): string {
    if (RESERVED.has(key) || key.startsWith('os_glance')) {
      throw forbidden(`Attribute '${key}' is reserved.`);
    }
    if (typeof value !== 'string')
      throw badRequest(`Property ${key} must be a string (Glance stores string properties only).`);
    checkName('property name', key, { edges: 'allow' });
    checkFreeText(`property ${key}`, value, 65535);
    validateImageProperty(key, value);
    return value;
  }

  async create(ctx: RequestContext, body: Record<string, unknown>): Promise<ImageRecord> {
    const core: Partial<ImageRecord> = {};
    const props: Record<string, string> = {};
    let tags: string[] = [];
    let id: string = randomUUID();
    for (const [k, v] of Object.entries(body)) {
      if (k === 'id') {
        if (typeof v !== 'string' || !isUuid(v)) throw badRequest('id must be a UUID.');
        id = v;
      } else if (k === 'tags') {
        if (!Array.isArray(v))
          throw badRequest('tags must be a list of strings (at most 255 characters each).');
        tags = [...new Set(v.map((t) => checkName('tags', t, { edges: 'allow' })))];
      } else if (CORE.has(k)) this.applyCore(core, k, v, ctx);
      else props[k] = this.checkExtra(k, v);
    }
    if (await this.repos.images.get(id)) throw conflict(`An image with identifier ${id} already exists`);
    return this.repos.images.create({
      id,
      name: core.name ?? null,
      visibility: core.visibility ?? 'shared',
      protected: core.protected ?? false,
      osHidden: core.osHidden ?? false,
      owner: core.owner ?? ctx.projectId,
      containerFormat: core.containerFormat ?? null,
      diskFormat: core.diskFormat ?? null,
      minDisk: core.minDisk ?? 0,
      minRam: core.minRam ?? 0,
      properties: props,
      tags,
    });
  }

  /** PUT /v2/images/{id}/file: streams into the store, which inspects it. */
  async upload(ctx: RequestContext, id: string, data: Readable): Promise<ImageRecord> {
    const img = await this.get(ctx, id);
    this.canWrite(ctx, img);
    if (!img.diskFormat || !img.containerFormat) {
      throw badRequest('Set disk_format and container_format on the image before uploading data.');
    }
    if (!(await this.repos.images.transition(id, ['queued'], { status: 'saving' }))) {
      throw conflict(`Image ${id} is ${img.status}: data can be uploaded only to a queued image.`);
    }
    try {
      const facts = await this.store.put(id, data, {
        declaredFormat: img.diskFormat,
        maxSize: this.limits.maxImageSize,
      });
      await this.repos.images.activate(id, facts);
    } catch (e) {
      const message = messageOf(e);
      if (isKestrelError(e, 'image-upload-interrupted') || (data.destroyed && !data.readableEnded)) {
        // The client went away: nothing was kept, the image can be uploaded again.
        await this.repos.images.update(id, { status: 'queued', failure: message });
        throw new KestrelError(
          'image-upload-interrupted',
          `The upload of image ${id} was interrupted: ${message}`,
        );
      }
      // Refused by the inspector, too large, or a store failure: the image never becomes active.
      await this.repos.images.update(id, { status: 'killed', failure: message });
      throw new KestrelError(
        isKestrelError(e) ? e.code : 'internal',
        `Image ${id} was refused and is now killed: ${message}`,
        { fix: isKestrelError(e) ? e.fix : undefined, cause: e },
      );
    }
    return (await this.repos.images.get(id))!;
  }

  async download(ctx: RequestContext, id: string): Promise<{ image: ImageRecord; data?: Readable }> {
    const img = await this.get(ctx, id);
    if (img.status === 'deactivated' && !ctx.isAdmin) throw forbidden(`Image ${id} is deactivated.`);
    if (img.status !== 'active') return { image: img };
    return { image: img, data: await this.store.get(id) };
  }

  async list(ctx: RequestContext, q: ImageListQuery): Promise<{ images: ImageRecord[]; next?: string }> {
    const opts = parseImageListQuery(q);
    const one = (k: string) => lastOf(q, k);
    let ids: string[] | undefined;
    const idf = one('id');
    if (idf !== undefined) {
      ids = idf.startsWith('in:')
        ? idf
            .slice(3)
            .split(',')
            .map((s) => s.trim().replace(/^"|"$/g, ''))
        : [idf];
      ids = ids.filter(isUuid);
    }
    let all = (await this.repos.images.list(ids)).filter((i) => this.canSee(ctx, i));
    const nameF = one('name');
    const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
    const vis = one('visibility');
    const hidden = one('os_hidden');
    const sizeMin = one('size_min');
    const sizeMax = one('size_max');
    const num = (s: string | undefined, what: string) => {
      if (s === undefined) return undefined;
      if (!/^\d+$/.test(s)) throw badRequest(`${what} must be a whole number.`);
      return Number(s);
    };
    const smin = num(sizeMin, 'size_min');
    const smax = num(sizeMax, 'size_max');
    const handled = new Set([
      'id',
      'name',
      'tag',
      'visibility',
      'os_hidden',
      'size_min',
      'size_max',
      'limit',
      'marker',
      'sort',
      'sort_key',
      'sort_dir',
      'member_status',
      'created_at',
      'updated_at',
    ]);
    all = all.filter((i) => {
      if (nameF !== undefined) {
        const names = nameF.startsWith('in:')
          ? nameF
              .slice(3)
              .split(',')
              .map((s) => s.trim().replace(/^"|"$/g, ''))
          : [nameF];
        if (!names.includes(i.name ?? '')) return false;
      }
      if (vis !== undefined && vis !== 'all' && i.visibility !== vis) return false;
      if (vis === undefined && i.visibility === 'community' && i.owner !== ctx.projectId) return false;
      if (hidden === undefined ? i.osHidden : String(i.osHidden) !== hidden.toLowerCase()) return false;
      for (const t of tags) if (!i.tags.includes(t)) return false;
      if (smin !== undefined && (i.size ?? 0) < smin) return false;
      if (smax !== undefined && (i.size ?? 0) > smax) return false;
      for (const f of opts.timeFilters) if (!compareTime(f, fieldOf(i, f.field) as string)) return false;
      for (const [k, v] of Object.entries(q)) {
        if (handled.has(k) || v === undefined) continue;
        const want = Array.isArray(v) ? v[v.length - 1] : v;
        const have = fieldOf(i, k);
        if (have === undefined || String(have) !== want) return false;
      }
      return true;
    });
    all.sort((a, b) => {
      for (const [k, d] of opts.sort) {
        const x = fieldOf(a, k);
        const y = fieldOf(b, k);
        const c =
          typeof x === 'number' && typeof y === 'number'
            ? x - y
            : String(x ?? '').localeCompare(String(y ?? ''));
        if (c !== 0) return d === 'asc' ? c : -c;
      }
      return a.id.localeCompare(b.id);
    });
    const marker = opts.marker;
    if (marker !== undefined) {
      const i = all.findIndex((x) => x.id === marker);
      if (i < 0) throw badRequest(`marker ${marker} could not be found.`);
      all = all.slice(i + 1);
    }
    const limit = opts.limit;
    if (limit !== undefined && all.length > limit) {
      const page = all.slice(0, limit);
      return { images: page, next: page.length ? page[page.length - 1].id : undefined };
    }
    return { images: all };
  }

  async patch(ctx: RequestContext, id: string, ops: unknown): Promise<ImageRecord> {
    const img = await this.get(ctx, id);
    this.canWrite(ctx, img);
    if (!Array.isArray(ops))
      throw badRequest('The body must be a JSON-patch list of {"op", "path", "value"}.');
    const core: Partial<ImageRecord> = {};
    const setProps: Record<string, string> = {};
    const removeProps: string[] = [];
    let tags: string[] | undefined;
    for (const raw of ops as PatchOp[]) {
      if (
        !raw ||
        typeof raw !== 'object' ||
        !['add', 'replace', 'remove'].includes(raw.op) ||
        typeof raw.path !== 'string'
      ) {
        throw badRequest('Each patch operation needs op (add, replace or remove) and a path such as /name.');
      }
      const key = raw.path.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
      if (key === '' || key.includes('/')) throw badRequest(`Unsupported patch path ${raw.path}.`);
      if (key === 'tags') {
        if (raw.op === 'remove') tags = [];
        else if (!Array.isArray(raw.value)) throw badRequest('tags must be a list of strings.');
        else
          tags = [...new Set((raw.value as unknown[]).map((t) => checkName('tags', t, { edges: 'allow' })))];
        continue;
      }
      if (CORE.has(key)) {
        if (raw.op === 'remove') throw forbidden(`Property ${key} may not be removed.`);
        if ((key === 'disk_format' || key === 'container_format') && img.status !== 'queued') {
          throw forbidden(`Property ${key} can only be changed while the image is queued.`);
        }
        this.applyCore(core, key, raw.value, ctx);
        continue;
      }
      if (raw.op === 'remove') {
        if (!(key in img.properties) && !(key in setProps)) {
          throw conflict(`Property ${key} does not exist.`);
        }
        removeProps.push(key);
        delete setProps[key];
      } else {
        if (raw.op === 'replace' && !(key in img.properties) && !(key in setProps)) {
          throw conflict(`Property ${key} does not exist.`);
        }
        setProps[key] = this.checkExtra(key, raw.value);
      }
    }
    await this.repos.images.update(id, core);
    await this.repos.images.setProperties(id, setProps);
    for (const k of removeProps) await this.repos.images.removeProperty(id, k);
    if (tags) {
      for (const t of img.tags) await this.repos.images.removeTag(id, t);
      for (const t of tags) await this.repos.images.addTag(id, t);
    }
    return (await this.repos.images.get(id))!;
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const img = await this.get(ctx, id);
    this.canWrite(ctx, img);
    if (img.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    await this.store.delete(id).catch((e: unknown) => {
      // Glance's InUseByStore: RBD instance disks are still clones of this image's snapshot.
      if (isKestrelError(e, 'image-in-use'))
        throw conflict(`Image ${id} could not be deleted because it is in use: ${(e as Error).message}`);
    });
    await this.repos.images.delete(id);
  }

  async tag(ctx: RequestContext, id: string, tag: string, add: boolean): Promise<void> {
    const img = await this.get(ctx, id);
    this.canWrite(ctx, img);
    if (add) checkName('tag', tag, { edges: 'allow' });
    if (add) await this.repos.images.addTag(id, tag);
    else if (!(await this.repos.images.removeTag(id, tag)))
      throw notFound(`Tag ${tag} not found on image ${id}.`);
  }

  async setActive(ctx: RequestContext, id: string, active: boolean): Promise<void> {
    const img = await this.get(ctx, id);
    if (!ctx.isAdmin) throw forbidden('Only administrators may deactivate or reactivate images.');
    const from = active ? ['deactivated', 'active'] : ['active', 'deactivated'];
    if (!(await this.repos.images.transition(img.id, from, { status: active ? 'active' : 'deactivated' }))) {
      throw forbidden(`Image ${id} is ${img.status}: only active or deactivated images can change that way.`);
    }
  }
}

/** A core field by its API name, or an extra property. */
function fieldOf(i: ImageRecord, k: string): string | number | boolean | null | undefined {
  switch (k) {
    case 'name':
      return i.name;
    case 'status':
      return i.status;
    case 'owner':
      return i.owner;
    case 'container_format':
      return i.containerFormat;
    case 'disk_format':
      return i.diskFormat;
    case 'protected':
      return i.protected;
    case 'min_disk':
      return i.minDisk;
    case 'min_ram':
      return i.minRam;
    case 'size':
      return i.size;
    case 'virtual_size':
      return i.virtualSize;
    case 'checksum':
      return i.checksum;
    case 'created_at':
      return i.createdAt;
    case 'updated_at':
      return i.updatedAt;
    case 'id':
      return i.id;
    default:
      return i.properties[k];
  }
}
