// The Compute v2.1 API as one fastify instance: version headers on every reply (errors
// included), microversion negotiation, auth, fault bodies.
import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { fastifyOptions, installAuth } from '../common.js';
import { installErrorHandling } from '../errors.js';
import { isDiscovery, negotiate, registerVersionRoutes } from './versions.js';
import { registerFlavorRoutes } from './flavors.js';
import { registerServerRoutes } from './servers.js';
import { registerServerActionRoutes } from './server-actions.js';
import { registerMiscRoutes } from './misc.js';

export function createComputeApp(d: ApiDeps): FastifyInstance {
  const app = Fastify(fastifyOptions(d.logger, d.bodyLimit));
  installErrorHandling(app, 'compute');
  app.addHook('onRequest', async (req, reply) => {
    void reply.headers({
      'OpenStack-API-Version': 'compute 2.1',
      'X-OpenStack-Nova-API-Version': '2.1',
      Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
      'x-openstack-request-id': String(req.id),
      'x-compute-request-id': String(req.id),
    });
    if (!isDiscovery(req)) negotiate(req);
  });
  installAuth(app, d.identity, isDiscovery);
  // Actions and deletes may come without a body or with an empty JSON body.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('The request body is not valid JSON.'), { statusCode: 400 }), undefined);
    }
  });
  registerVersionRoutes(app);
  registerFlavorRoutes(app, d.flavors);
  registerServerRoutes(app, d.servers, () => d.endpoints().image);
  registerServerActionRoutes(app, d.serverOps);
  registerMiscRoutes(app, {
    repos: d.repos,
    agents: d.agents,
    keypairs: d.keypairs,
    hostIp: d.hostIp,
    startedAt: d.startedAt,
  });
  return app;
}
