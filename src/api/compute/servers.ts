// /servers, metadata, instance actions (§2.6–2.8). POST /servers/{id}/action and DELETE are
// server-actions.ts's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ServerService } from '../../control/servers.js';
import { badRequest, notFound } from '../../errors/index.js';
import { baseUrl, need, queryOf } from '../common.js';
import { actionView, eventView, links, serverBrief, serverFull, serverShow } from './views.js';

const U = Type.Unknown();
const O = (t = U) => Type.Optional(t);
const ServerCreate = Type.Object(
  {
    server: Type.Object(
      {
        name: U,
        imageRef: O(),
        flavorRef: U,
        metadata: O(),
        key_name: O(),
        availability_zone: O(),
        adminPass: O(),
        user_data: O(),
        accessIPv4: O(),
        accessIPv6: O(),
        'OS-DCF:diskConfig': O(),
        config_drive: O(),
        min_count: O(),
        max_count: O(),
        return_reservation_id: O(),
        security_groups: O(),
        networks: O(),
        block_device_mapping_v2: O(),
        block_device_mapping: O(),
        personality: O(),
      },
      { additionalProperties: false },
    ),
    'OS-SCH-HNT:scheduler_hints': O(),
    'os:scheduler_hints': O(),
  },
  { additionalProperties: false },
);
const ServerUpdate = Type.Object({ server: Type.Record(Type.String(), U) }, { additionalProperties: false });
const Metadata = Type.Object({ metadata: U }, { additionalProperties: false });

export function registerServerRoutes(app: FastifyInstance, servers: ServerService): void {
  const list = async (req: FastifyRequest, detail: boolean) => {
    const ctx = need(req);
    const q = queryOf(req);
    const { servers: views, next } = await servers.list(ctx, q);
    const b = baseUrl(req);
    const body: Record<string, unknown> = {
      servers: views.map((v) => (detail ? serverFull(b, ctx, v) : serverBrief(b, v))),
    };
    if (next) {
      const limit = Array.isArray(q.limit) ? q.limit[q.limit.length - 1] : q.limit;
      const params = limit === undefined ? `marker=${next}` : `limit=${limit}&marker=${next}`;
      body.servers_links = [{ rel: 'next', href: `${b}/v2.1/servers${detail ? '/detail' : ''}?${params}` }];
    }
    return body;
  };
  app.get('/v2.1/servers', (req) => list(req, false));
  app.get('/v2.1/servers/detail', (req) => list(req, true));
  app.get<{ Params: { id: string } }>('/v2.1/servers/:id', async (req) => {
    const ctx = need(req);
    return { server: serverFull(baseUrl(req), ctx, await servers.get(ctx, req.params.id)) };
  });
  app.post('/v2.1/servers', { schema: { body: ServerCreate } }, async (req, reply) => {
    const ctx = need(req);
    const body = req.body as {
      server: Record<string, unknown>;
      'OS-SCH-HNT:scheduler_hints'?: Record<string, unknown>;
    };
    const r = await servers.create(ctx, body.server, body['OS-SCH-HNT:scheduler_hints']);
    reply.code(202);
    const rr = body.server.return_reservation_id;
    if (rr === true || rr === 'True' || rr === 'true') return { reservation_id: r.reservationId };
    const first = r.servers[0];
    const b = baseUrl(req);
    void reply.header('Location', `${b}/v2.1/servers/${first.uuid}`);
    return {
      server: {
        id: first.uuid,
        links: links(b, 'servers', first.uuid),
        'OS-DCF:diskConfig': first.diskConfig,
        security_groups: [{ name: 'default' }],
        adminPass: r.adminPass,
      },
    };
  });
  app.put<{ Params: { id: string } }>(
    '/v2.1/servers/:id',
    { schema: { body: ServerUpdate } },
    async (req) => {
      const ctx = need(req);
      const view = await servers.update(
        ctx,
        req.params.id,
        (req.body as { server: Record<string, unknown> }).server,
      );
      return { server: serverShow(baseUrl(req), ctx, view) };
    },
  );
  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/ips', async (req) => {
    return { addresses: (await servers.get(need(req), req.params.id)).addresses ?? {} };
  });
  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/metadata', async (req) => ({
    metadata: (await servers.find(need(req), req.params.id)).metadata,
  }));
  for (const method of ['POST', 'PUT'] as const) {
    app.route<{ Params: { id: string } }>({
      method,
      url: '/v2.1/servers/:id/metadata',
      schema: { body: Metadata },
      handler: async (req) => ({
        metadata: await servers.setMetadata(
          need(req),
          req.params.id,
          (req.body as { metadata: unknown }).metadata,
          method === 'PUT',
        ),
      }),
    });
  }
  app.get<{ Params: { id: string; key: string } }>('/v2.1/servers/:id/metadata/:key', async (req) => {
    const m = (await servers.find(need(req), req.params.id)).metadata;
    if (!(req.params.key in m)) throw notFound(`Metadata item ${req.params.key} was not found.`);
    return { meta: { [req.params.key]: m[req.params.key] } };
  });
  app.put<{ Params: { id: string; key: string } }>('/v2.1/servers/:id/metadata/:key', async (req) => {
    const meta = (req.body as { meta?: Record<string, unknown> } | undefined)?.meta;
    if (!meta || typeof meta !== 'object' || Object.keys(meta).length !== 1 || !(req.params.key in meta)) {
      throw badRequest(`The body must be {"meta": {"${req.params.key}": "<value>"}}.`);
    }
    const m = await servers.setMetadata(need(req), req.params.id, meta, false);
    return { meta: { [req.params.key]: m[req.params.key] } };
  });
  app.delete<{ Params: { id: string; key: string } }>(
    '/v2.1/servers/:id/metadata/:key',
    async (req, reply) => {
      await servers.deleteMetadata(need(req), req.params.id, req.params.key);
      return reply.code(204).send();
    },
  );
  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/os-instance-actions', async (req) => ({
    instanceActions: (await servers.listActions(need(req), req.params.id)).map(actionView),
  }));
  app.get<{ Params: { id: string; rid: string } }>(
    '/v2.1/servers/:id/os-instance-actions/:rid',
    async (req) => {
      const ctx = need(req);
      const a = await servers.getAction(ctx, req.params.id, req.params.rid);
      return { instanceAction: { ...actionView(a), events: a.events.map((e) => eventView(e, ctx)) } };
    },
  );
}
