// The server actions of issue 11 on the Compute v2.1 API. The /action, DELETE and metadata
// routes are registered by servers.ts; a preHandler here answers the action names that
// control/server-ops.ts owns (rebuild, shelve, shelveOffload, unshelve, createBackup, lock,
// unlock, os-resetState, forceDelete, restore, changePassword) and the soft delete, and runs
// Nova's lock / state / item-count checks before metadata writes — so servers.ts needs no
// change. GET /servers/{id}/diagnostics is a route of its own.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServerOperations } from '../../control/server-ops.js';
import { baseUrl, need } from '../common.js';
import { serverShow } from './views.js';

const ACTION = '/v2.1/servers/:id/action';
const SERVER = '/v2.1/servers/:id';
const METADATA = '/v2.1/servers/:id/metadata';
const METADATA_KEY = '/v2.1/servers/:id/metadata/:key';

type Params = { id: string; key?: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

export function registerServerActionRoutes(app: FastifyInstance, ops: ServerOperations): void {
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.routeOptions.url;
    const params = req.params as Params;
    if (url === ACTION && req.method === 'POST') {
      const body = req.body;
      if (!isObject(body) || Object.keys(body).length !== 1) return; // servers.ts answers the 400
      const name = Object.keys(body)[0];
      if (!ServerOperations.handles(name)) return;
      const ctx = need(req);
      const r = await ops.action(ctx, params.id, name, body[name]);
      // createBackup: Nova at 2.1 joins the compute application URL with images/<id> (not
      // Glance's URL as createImage does); clients take the id from its last segment.
      if (r.location) void reply.header('Location', `${baseUrl(req)}/v2.1/images/${r.location}`);
      if (r.view) {
        const view = await ops.env.servers.get(ctx, params.id);
        return reply
          .code(r.status)
          .send({ server: { ...serverShow(baseUrl(req), ctx, view), adminPass: r.adminPass } });
      }
      return reply.code(r.status).send();
    }
    if (url === SERVER && req.method === 'DELETE') {
      if (await ops.delete(need(req), params.id)) return reply.code(204).send();
      return;
    }
    if (url === METADATA && (req.method === 'POST' || req.method === 'PUT')) {
      const m = (req.body as { metadata?: unknown } | undefined)?.metadata;
      if (!isObject(m)) return;
      await ops.checkMetadataWrite(
        need(req),
        params.id,
        req.method === 'PUT' ? { replace: m } : { merge: m },
      );
      return;
    }
    if (url === METADATA_KEY && (req.method === 'PUT' || req.method === 'DELETE')) {
      const ctx = need(req);
      if (req.method === 'DELETE') {
        await ops.checkMetadataWrite(ctx, params.id, { deleteKey: params.key });
        return;
      }
      const meta = (req.body as { meta?: unknown } | undefined)?.meta;
      if (!isObject(meta)) return;
      await ops.checkMetadataWrite(ctx, params.id, { merge: meta });
    }
  });

  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/diagnostics', async (req) =>
    ops.diagnostics(need(req), req.params.id),
  );
}
