// The Image v2 API (§3): discovery, images, upload/download streaming, JSON-patch updates.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { ApiDeps } from '../deps.js';
import { baseUrl, fastifyOptions, installAuth, installJsonBody, need, queryOf } from '../common.js';
import { installErrorHandling } from '../errors.js';
import { badRequest, KestrelError, notFound } from '../../errors/index.js';
import type { ImageRecord } from '../../db/index.js';
import { imageSchema, imageView as renderImage } from './views.js';

const VERSIONS = ['2.9', '2.8', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

function versions(req: FastifyRequest) {
  const b = baseUrl(req);
  return {
    versions: VERSIONS.map((v, i) => ({
      id: `v${v}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${b}/v2/` }],
    })),
  };
}

/**
 * Glance's older JSON-patch media type names the operation by its key
 * ([{"replace": "/name", "value": "x"}]); the v2.1 form is RFC 6902's ({"op", "path"}).
 */
function fromV20Patch(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  return body.map((o: unknown) => {
    if (!o || typeof o !== 'object') return o;
    const entry = o as Record<string, unknown>;
    const op = ['add', 'replace', 'remove'].find((k) => typeof entry[k] === 'string');
    return op ? { op, path: entry[op], value: entry.value } : o;
  });
}

const isDiscovery = (req: FastifyRequest) => {
  const p = req.url.split('?')[0].replace(/\/+$/, '');
  return p === '' || p === '/versions' || p === '/v2';
};

export function createImageApp(d: ApiDeps): FastifyInstance {
  const app = Fastify(fastifyOptions(d.logger, d.bodyLimit));
  const imageView = (i: ImageRecord) => renderImage(i, d.imageDisplay);
  installErrorHandling(app, 'image');
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-openstack-request-id', String(req.id));
  });
  installAuth(app, d.identity, isDiscovery);
  // Image data streams straight to the store (no buffering, no body limit here: the store has its own).
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  installJsonBody(app, [
    'application/json',
    'application/openstack-images-v2.1-json-patch',
    'application/openstack-images-v2.0-json-patch',
  ]);

  app.get('/', async (req, reply) => reply.code(300).send(versions(req)));
  app.get('/versions', async (req) => versions(req));
  app.get('/v2', async (req) => versions(req));
  app.get('/v2/schemas/image', async () => imageSchema());
  app.get('/v2/schemas/images', async () => ({
    name: 'images',
    properties: {
      images: { type: 'array', items: imageSchema() },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { href: '{first}', rel: 'first' },
      { href: '{next}', rel: 'next' },
      { href: '{schema}', rel: 'describedby' },
    ],
  }));
  app.get('/v2/info/import', async () => ({
    'import-methods': { description: 'Import methods available.', type: 'array', value: [] },
  }));

  app.post('/v2/images', async (req, reply) => {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw badRequest('The body must be a JSON object of image properties.');
    const img = await d.images.create(need(req), body as Record<string, unknown>);
    void reply.header('Location', `${baseUrl(req)}/v2/images/${img.id}`);
    return reply.code(201).send(imageView(img));
  });
  app.get('/v2/images', async (req) => {
    // GET /v2/images/ names an image with an empty id (Glance: 404), not the list.
    if (req.url.split('?')[0].endsWith('/')) throw notFound('No image found with ID "" (the id is empty).');
    const q = queryOf(req);
    const { images, next } = await d.images.list(need(req), q);
    const body: Record<string, unknown> = {
      images: images.map(imageView),
      first: '/v2/images',
      schema: '/v2/schemas/images',
    };
    if (next) {
      const limit = Array.isArray(q.limit) ? q.limit[q.limit.length - 1] : q.limit;
      body.next = `/v2/images?marker=${next}&limit=${limit}`;
    }
    return body;
  });
  app.get<{ Params: { id: string } }>('/v2/images/:id', async (req) =>
    imageView(await d.images.get(need(req), req.params.id)),
  );
  app.patch<{ Params: { id: string } }>('/v2/images/:id', async (req) => {
    const ct = String(req.headers['content-type'] ?? '');
    if (!ct.startsWith('application/openstack-images-v2.')) {
      throw new KestrelError(
        'unsupported-media-type',
        'PATCH needs Content-Type application/openstack-images-v2.1-json-patch.',
      );
    }
    const ops = ct.startsWith('application/openstack-images-v2.0-json-patch')
      ? fromV20Patch(req.body)
      : req.body;
    return imageView(await d.images.patch(need(req), req.params.id, ops));
  });
  app.delete<{ Params: { id: string } }>('/v2/images/:id', async (req, reply) => {
    await d.images.delete(need(req), req.params.id);
    return reply.code(204).send();
  });
  app.put<{ Params: { id: string } }>('/v2/images/:id/file', async (req, reply) => {
    const ct = String(req.headers['content-type'] ?? '');
    if (!ct.startsWith('application/octet-stream')) {
      throw new KestrelError(
        'unsupported-media-type',
        'Image data must be sent as application/octet-stream.',
      );
    }
    await d.images.upload(need(req), req.params.id, req.body as Readable);
    return reply.code(204).send();
  });
  app.get<{ Params: { id: string } }>('/v2/images/:id/file', async (req, reply) => {
    const { image, data } = await d.images.download(need(req), req.params.id);
    if (!data) return reply.code(204).send();
    void reply.headers({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(image.size ?? 0),
      'Content-MD5': image.checksum ?? '',
    });
    return reply.send(data);
  });
  app.put<{ Params: { id: string; tag: string } }>('/v2/images/:id/tags/:tag', async (req, reply) => {
    await d.images.tag(need(req), req.params.id, req.params.tag, true);
    return reply.code(204).send();
  });
  app.delete<{ Params: { id: string; tag: string } }>('/v2/images/:id/tags/:tag', async (req, reply) => {
    await d.images.tag(need(req), req.params.id, req.params.tag, false);
    return reply.code(204).send();
  });
  for (const [action, active] of [
    ['deactivate', false],
    ['reactivate', true],
  ] as const) {
    app.post<{ Params: { id: string } }>(`/v2/images/:id/actions/${action}`, async (req, reply) => {
      await d.images.setActive(need(req), req.params.id, active);
      return reply.code(204).send();
    });
  }
  return app;
}
