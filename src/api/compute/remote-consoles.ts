// POST /v2.1/servers/{id}/remote-consoles (microversion 2.6+): {"remote_console": {"protocol":
// "vnc", "type": "novnc"}} → 200 {"remote_console": {protocol, type, url}}. Below 2.6 the route
// does not exist (404, as Nova); the 2.1 actions os-getVNCConsole / os-getSerialConsole answer
// the same URLs through POST /servers/{id}/action.
import type { FastifyInstance } from 'fastify';
import type { ServerService } from '../../control/servers.js';
import type { ConsoleService } from '../../control/server-consoles.js';
import { notFound } from '../../errors/index.js';
import { need } from '../common.js';
import { atLeast, negotiate } from './versions.js';

export const REMOTE_CONSOLES = '/v2.1/servers/:id/remote-consoles';

export function registerRemoteConsoleRoutes(
  app: FastifyInstance,
  servers: ServerService,
  consoles: ConsoleService | undefined,
): void {
  app.post<{ Params: { id: string } }>(REMOTE_CONSOLES, async (req, reply) => {
    if (!atLeast(negotiate(req), '2.6')) {
      throw notFound(
        'remote-consoles needs microversion 2.6 or later (send OpenStack-API-Version: compute 2.6); at 2.1 use the os-getVNCConsole or os-getSerialConsole action.',
      );
    }
    const ctx = need(req);
    const inst = await servers.find(ctx, req.params.id);
    if (!consoles) throw notFound('This service serves no remote consoles.');
    const { protocol, type } = consoles.checkRemoteConsoleBody(req.body);
    const rc = await consoles.create(inst, protocol, type);
    return reply.code(200).send({ remote_console: rc });
  });
}
