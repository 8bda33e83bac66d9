// POST /servers/{id}/action, DELETE /servers/{id} and GET /servers/{id}/diagnostics. Every
// action goes through control's action table (control/server-action-table.ts), every delete
// through its one delete path; this module only turns their outcome into the reply.
import type { FastifyInstance } from 'fastify';
import type { ServerOperations } from '../../control/server-ops.js';
import { baseUrl, need } from '../common.js';
import { serverShow } from './views.js';

export function registerServerActionRoutes(
  app: FastifyInstance,
  ops: ServerOperations,
  imageEndpoint: () => string,
): void {
  app.post<{ Params: { id: string } }>('/v2.1/servers/:id/action', async (req, reply) => {
    const ctx = need(req);
    const r = await ops.action(ctx, req.params.id, req.body);
    switch (r.kind) {
      case 'accepted':
        return reply.code(202).send();
      case 'console-output':
        return reply.code(200).send({ output: r.output });
      case 'remote-console':
        return reply.code(200).send({ console: r.console });
      case 'snapshot':
        void reply.header('Location', `${imageEndpoint()}/v2/images/${r.imageId}`);
        return reply.code(202).send();
      case 'backup':
        // Nova at 2.1 joins the compute application URL with images/<id> (not Glance's URL as
        // createImage does); clients take the id from its last segment.
        if (r.imageId) void reply.header('Location', `${baseUrl(req)}/v2.1/images/${r.imageId}`);
        return reply.code(202).send();
      case 'rebuilt': {
        const view = await ops.env.servers.get(ctx, req.params.id);
        return reply
          .code(202)
          .send({ server: { ...serverShow(baseUrl(req), ctx, view), adminPass: r.adminPass } });
      }
    }
  });

  app.delete<{ Params: { id: string } }>('/v2.1/servers/:id', async (req, reply) => {
    await ops.delete(need(req), req.params.id);
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/diagnostics', async (req) =>
    ops.diagnostics(need(req), req.params.id),
  );
}
