// The Compute API's image proxy (Nova's /images, up to microversion 2.35): list, detail, show
// and delete of the Image service's images, and their metadata (Glance's free properties), in
// Nova's shapes. Clients that follow a snapshot through the Compute API read it here.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../control/context.js';
import { isImageAttribute, type ImageService } from '../../control/images.js';
import type { ImageRecord } from '../../db/index.js';
import { KestrelError, badRequest, notFound } from '../../errors/index.js';
import { checkFreeText, checkMetadataKey } from '../../control/text-rules.js';
import { baseUrl, need, novaTime, queryOf } from '../common.js';

/** Nova's image metadata limit (maxImageMeta in /limits). */
export const MAX_IMAGE_META = 128;

const STATUS: Record<string, string> = {
  active: 'ACTIVE',
  queued: 'SAVING',
  saving: 'SAVING',
  uploading: 'SAVING',
  importing: 'SAVING',
  deleted: 'DELETED',
  pending_delete: 'DELETED',
  killed: 'ERROR',
};
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, uploading: 50, active: 100 };

function imageLinks(base: string, glance: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/images/${id}` },
    { rel: 'bookmark', href: `${base}/images/${id}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${glance}/images/${id}` },
  ];
}

function imageBrief(base: string, glance: string, i: ImageRecord) {
  return { id: i.id, name: i.name, links: imageLinks(base, glance, i.id) };
}

function imageDetail(base: string, glance: string, i: ImageRecord) {
  const v: Record<string, unknown> = {
    id: i.id,
    name: i.name,
    status: STATUS[i.status] ?? 'UNKNOWN',
    progress: PROGRESS[i.status] ?? 0,
    created: novaTime(i.createdAt),
    updated: novaTime(i.updatedAt),
    minDisk: i.minDisk,
    minRam: i.minRam,
    metadata: i.properties,
    links: imageLinks(base, glance, i.id),
    'OS-EXT-IMG-SIZE:size': i.size ?? 0,
  };
  const server = i.properties.instance_uuid;
  if (server) {
    v.server = {
      id: server,
      links: [
        { rel: 'self', href: `${base}/v2.1/servers/${server}` },
        { rel: 'bookmark', href: `${base}/servers/${server}` },
      ],
    };
  }
  const auto = i.properties.auto_disk_config;
  if (auto !== undefined) v['OS-DCF:diskConfig'] = auto.toLowerCase() === 'true' ? 'AUTO' : 'MANUAL';
  return v;
}

/** Nova's image filters (name, status, changes-since, server, type, minRam, minDisk), then a page. */
async function listImages(images: ImageService, ctx: RequestContext, req: FastifyRequest) {
  const q = queryOf(req);
  const one = (k: string) => {
    const v = q[k];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const whole = (k: string) => {
    const v = one(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw badRequest(`${k} must be a whole number ≥ 0.`);
    return Number(v);
  };
  const since = one('changes-since');
  const sinceMs = since === undefined ? undefined : Date.parse(since);
  if (sinceMs !== undefined && Number.isNaN(sinceMs))
    throw badRequest(`Invalid changes-since value: ${since}. Fix: use ISO 8601 (2026-01-31T12:00:00Z).`);
  const [minRam, minDisk, limit] = [whole('minRam'), whole('minDisk'), whole('limit')];
  const { name, status, server, type } = {
    name: one('name'),
    status: one('status'),
    server: one('server'),
    type: one('type'),
  };
  let all = (await images.list(ctx, {})).images.filter(
    (i) =>
      (name === undefined || i.name === name) &&
      (status === undefined || (STATUS[i.status] ?? 'UNKNOWN') === status.toUpperCase()) &&
      (server === undefined || (i.properties.instance_uuid ?? '') === server.split('/').pop()) &&
      (type === undefined || i.properties.image_type === type) &&
      (minRam === undefined || i.minRam >= minRam) &&
      (minDisk === undefined || i.minDisk >= minDisk) &&
      (sinceMs === undefined || Date.parse(i.updatedAt) >= sinceMs),
  );
  const marker = one('marker');
  if (marker !== undefined) {
    const at = all.findIndex((i) => i.id === marker);
    if (at < 0) throw badRequest(`marker [${marker}] not found`);
    all = all.slice(at + 1);
  }
  return limit === undefined ? all : all.slice(0, limit);
}

/** A property name as a JSON pointer (RFC 6901: ~ and / escaped). */
const pointer = (key: string) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

function metadataBody(body: unknown, key: 'metadata' | 'meta'): Record<string, string> {
  const m = (body as Record<string, unknown> | undefined)?.[key];
  if (!m || typeof m !== 'object' || Array.isArray(m)) {
    throw badRequest(`The request body must be {"${key}": {"key": "value", …}}.`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    checkMetadataKey(key, k);
    if (isImageAttribute(k))
      throw badRequest(`${k} is an image attribute, not metadata. Fix: change it with the Image API.`);
    out[k] = checkFreeText(`${key}.${k}`, v);
  }
  return out;
}

export function registerComputeImageRoutes(
  app: FastifyInstance,
  images: ImageService,
  imageEndpoint: () => string,
): void {
  const glance = () => imageEndpoint().replace(/\/+$/, '');
  app.get('/v2.1/images', async (req) => {
    const ctx = need(req);
    const b = baseUrl(req);
    return { images: (await listImages(images, ctx, req)).map((i) => imageBrief(b, glance(), i)) };
  });
  app.get('/v2.1/images/detail', async (req) => {
    const ctx = need(req);
    const b = baseUrl(req);
    return { images: (await listImages(images, ctx, req)).map((i) => imageDetail(b, glance(), i)) };
  });
  app.get<{ Params: { id: string } }>('/v2.1/images/:id', async (req) => {
    const img = await images.get(need(req), req.params.id);
    return { image: imageDetail(baseUrl(req), glance(), img) };
  });
  app.delete<{ Params: { id: string } }>('/v2.1/images/:id', async (req, reply) => {
    await images.delete(need(req), req.params.id);
    return reply.code(204).send();
  });

  /** Writes properties: replace drops every free property the new set does not name. */
  const write = async (ctx: RequestContext, id: string, props: Record<string, string>, replace: boolean) => {
    const img = await images.get(ctx, id);
    const merged = replace ? props : { ...img.properties, ...props };
    if (Object.keys(merged).length > MAX_IMAGE_META) {
      throw new KestrelError(
        'over-quota',
        `Quota exceeded for metadata_items: at most ${MAX_IMAGE_META} metadata items per image (maxImageMeta in /limits).`,
      );
    }
    const ops: unknown[] = Object.entries(props).map(([k, value]) => ({
      op: k in img.properties ? 'replace' : 'add',
      path: pointer(k),
      value,
    }));
    if (replace) {
      for (const k of Object.keys(img.properties))
        if (!(k in props)) ops.push({ op: 'remove', path: pointer(k) });
    }
    return (await images.patch(ctx, id, ops)).properties;
  };
  const META = '/v2.1/images/:id/metadata';
  app.get<{ Params: { id: string } }>(META, async (req) => ({
    metadata: (await images.get(need(req), req.params.id)).properties,
  }));
  app.post<{ Params: { id: string } }>(META, async (req) => ({
    metadata: await write(need(req), req.params.id, metadataBody(req.body, 'metadata'), false),
  }));
  app.put<{ Params: { id: string } }>(META, async (req) => ({
    metadata: await write(need(req), req.params.id, metadataBody(req.body, 'metadata'), true),
  }));
  const META_KEY = '/v2.1/images/:id/metadata/:key';
  app.get<{ Params: { id: string; key: string } }>(META_KEY, async (req) => {
    const props = (await images.get(need(req), req.params.id)).properties;
    if (!(req.params.key in props))
      throw notFound(`Image ${req.params.id} has no metadata item ${req.params.key}.`);
    return { meta: { [req.params.key]: props[req.params.key] } };
  });
  app.put<{ Params: { id: string; key: string } }>(META_KEY, async (req) => {
    const meta = metadataBody(req.body, 'meta');
    const keys = Object.keys(meta);
    if (keys.length !== 1 || keys[0] !== req.params.key)
      throw badRequest(
        `The body must be {"meta": {"${req.params.key}": "value"}}: one item, keyed as the URL.`,
      );
    const props = await write(need(req), req.params.id, meta, false);
    return { meta: { [req.params.key]: props[req.params.key] } };
  });
  app.delete<{ Params: { id: string; key: string } }>(META_KEY, async (req, reply) => {
    const ctx = need(req);
    const props = (await images.get(ctx, req.params.id)).properties;
    if (!(req.params.key in props))
      throw notFound(`Image ${req.params.id} has no metadata item ${req.params.key}.`);
    await images.patch(ctx, req.params.id, [{ op: 'remove', path: pointer(req.params.key) }]);
    return reply.code(204).send();
  });
}
