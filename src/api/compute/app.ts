// The Compute v2.1 API as one fastify instance: version headers on every reply (errors
// included), microversion negotiation, auth, fault bodies.
import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { fastifyOptions, installAuth, installJsonBody } from '../common.js';
import { installErrorHandling } from '../errors.js';
import { MAX_VERSION, isDiscovery, negotiate, registerVersionRoutes } from './versions.js';
import { registerRemoteConsoleRoutes } from './remote-consoles.js';
import { registerFlavorRoutes } from './flavors.js';
import { registerServerRoutes } from './servers.js';
import { registerServerActionRoutes } from './server-actions.js';
import { registerMiscRoutes } from './misc.js';
import { registerComputeImageRoutes } from './images.js';

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
    if (!isDiscovery(req)) {
      const v = negotiate(req);
      if (v !== MAX_VERSION)
        void reply.headers({ 'OpenStack-API-Version': `compute ${v}`, 'X-OpenStack-Nova-API-Version': v });
    }
  });
  installAuth(app, d.identity, isDiscovery);
  installJsonBody(app);
  registerVersionRoutes(app);
  registerFlavorRoutes(app, d.flavors);
  registerServerRoutes(app, d.servers);
  registerServerActionRoutes(app, d.serverOps, () => d.endpoints().image);
  registerComputeImageRoutes(app, d.images, () => d.endpoints().image);
  registerRemoteConsoleRoutes(app, d.servers, d.consoles);
  registerMiscRoutes(app, {
    repos: d.repos,
    keypairs: d.keypairs,
    hostIp: d.hostIp,
    serviceDownTime: d.serviceDownTime ?? 60,
    startedAt: d.startedAt,
  });
  return app;
}
