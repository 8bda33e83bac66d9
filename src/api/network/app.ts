// The Networking v2 API (Neutron's paths and fields) on its own port, catalog type `network`:
// version discovery, extensions, networks, subnets, ports, security groups and rules, routers
// (with interfaces), floating IPs and quotas. Faults are Neutron's {"NeutronError": {…}}.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { baseUrl, fastifyOptions, installAuth, need } from '../common.js';
import { installErrorHandling } from '../errors.js';
import type { NetworkService } from '../../control/network/service.js';
import type { RequestContext } from '../../control/context.js';
import { NeutronError } from '../../control/network/errors.js';
import { QUOTA_DEFAULTS } from '../../control/network/quotas.js';
import { EXTENSIONS } from './extensions.js';
import { listView, pickFields, withTenant } from './views.js';

// Only the version document is open (keystoneauth discovers it before authenticating).
const isDiscovery = (req: FastifyRequest) => req.url.split('?')[0].replace(/\/+$/, '') === '';

type Doc = Record<string, unknown>;

interface Collection {
  /** URL segment and list key (networks, security-groups …) */
  path: string;
  listKey: string;
  member: string;
  list(ctx: RequestContext): Promise<Doc[]>;
  show(ctx: RequestContext, id: string): Promise<Doc>;
  create(ctx: RequestContext, body: unknown): Promise<Doc>;
  update(ctx: RequestContext, id: string, body: unknown): Promise<Doc>;
  remove(ctx: RequestContext, id: string): Promise<void>;
}

function collections(n: NetworkService): Collection[] {
  const nc = n.nc;
  const docs = async <T>(ctx: RequestContext, kind: Parameters<typeof nc.visibleList>[1]) =>
    (await nc.visibleList<T>(ctx, kind)).map((r) => r.body as Doc);
  const one = async (ctx: RequestContext, kind: Parameters<typeof nc.visible>[1], id: string) =>
    (await nc.visible<{ project_id: string }>(ctx, kind, id)).body as Doc;
  return [
    {
      path: 'networks',
      listKey: 'networks',
      member: 'network',
      list: (c) => docs(c, 'network'),
      show: (c, id) => one(c, 'network', id),
      create: async (c, b) => (await n.networks.create(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.networks.update(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.networks.delete(c, id),
    },
    {
      path: 'subnets',
      listKey: 'subnets',
      member: 'subnet',
      list: (c) => docs(c, 'subnet'),
      show: (c, id) => one(c, 'subnet', id),
      create: async (c, b) => (await n.networks.createSubnet(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.networks.updateSubnet(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.networks.deleteSubnet(c, id),
    },
    {
      path: 'ports',
      listKey: 'ports',
      member: 'port',
      list: (c) => docs(c, 'port'),
      show: (c, id) => one(c, 'port', id),
      create: async (c, b) => (await n.ports.create(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.ports.update(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.ports.delete(c, id),
    },
    {
      path: 'security-groups',
      listKey: 'security_groups',
      member: 'security_group',
      list: async (c) => (await n.securityGroups.list(c)) as unknown as Doc[],
      show: async (c, id) => (await n.securityGroups.show(c, id)) as unknown as Doc,
      create: async (c, b) => (await n.securityGroups.create(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.securityGroups.update(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.securityGroups.delete(c, id),
    },
    {
      path: 'security-group-rules',
      listKey: 'security_group_rules',
      member: 'security_group_rule',
      list: async (c) => (await n.securityGroups.listRules(c)) as unknown as Doc[],
      show: async (c, id) => (await n.securityGroups.showRule(c, id)) as unknown as Doc,
      create: async (c, b) => (await n.securityGroups.createRule(c, b)) as unknown as Doc,
      update: async () => {
        throw new NeutronError(
          'method-not-allowed',
          'HTTPMethodNotAllowed',
          'Security group rules cannot be updated: delete the rule and create a new one.',
        );
      },
      remove: (c, id) => n.securityGroups.deleteRule(c, id),
    },
    {
      path: 'routers',
      listKey: 'routers',
      member: 'router',
      list: (c) => docs(c, 'router'),
      show: (c, id) => one(c, 'router', id),
      create: async (c, b) => (await n.routers.create(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.routers.update(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.routers.delete(c, id),
    },
    {
      path: 'floatingips',
      listKey: 'floatingips',
      member: 'floatingip',
      list: (c) => docs(c, 'floatingip'),
      show: (c, id) => one(c, 'floatingip', id),
      create: async (c, b) => (await n.floatingIps.create(c, b)) as unknown as Doc,
      update: async (c, id, b) => (await n.floatingIps.update(c, id, b)) as unknown as Doc,
      remove: (c, id) => n.floatingIps.delete(c, id),
    },
  ];
}

export function createNetworkApp(d: ApiDeps, network: NetworkService): FastifyInstance {
  const app = Fastify(fastifyOptions(d.logger, d.bodyLimit));
  installErrorHandling(app, 'network');
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-openstack-request-id', String(req.id));
  });
  installAuth(app, d.identity, isDiscovery);

  app.get('/', async (req) => ({
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${baseUrl(req)}/v2.0/` }] }],
  }));
  app.get('/v2.0', async (req) => ({
    resources: [
      'networks',
      'subnets',
      'ports',
      'routers',
      'floatingips',
      'security-groups',
      'security-group-rules',
      'quotas',
    ].map((name) => ({
      name,
      collection: name,
      links: [{ rel: 'self', href: `${baseUrl(req)}/v2.0/${name}` }],
    })),
  }));
  app.get('/v2.0/extensions', async () => ({ extensions: EXTENSIONS }));
  app.get<{ Params: { alias: string } }>('/v2.0/extensions/:alias', async (req, reply) => {
    const e = EXTENSIONS.find((x) => x.alias === req.params.alias);
    if (!e)
      return reply.code(404).send({
        NeutronError: {
          type: 'ExtensionNotFound',
          message: `Extension with alias ${req.params.alias} does not exist.`,
          detail: '',
        },
      });
    return { extension: e };
  });

  for (const c of collections(network)) {
    app.get(`/v2.0/${c.path}`, async (req) => ({ [c.listKey]: listView(req, await c.list(need(req))) }));
    app.get<{ Params: { id: string } }>(`/v2.0/${c.path}/:id`, async (req) => ({
      [c.member]: pickFields(req, withTenant(await c.show(need(req), req.params.id))),
    }));
    app.post(`/v2.0/${c.path}`, async (req, reply) =>
      reply.code(201).send({ [c.member]: withTenant(await c.create(need(req), req.body)) }),
    );
    app.put<{ Params: { id: string } }>(`/v2.0/${c.path}/:id`, async (req) => ({
      [c.member]: withTenant(await c.update(need(req), req.params.id, req.body)),
    }));
    app.delete<{ Params: { id: string } }>(`/v2.0/${c.path}/:id`, async (req, reply) => {
      await c.remove(need(req), req.params.id);
      return reply.code(204).send();
    });
  }

  app.put<{ Params: { id: string } }>('/v2.0/routers/:id/add_router_interface', async (req) =>
    network.routers.addInterface(need(req), req.params.id, req.body),
  );
  app.put<{ Params: { id: string } }>('/v2.0/routers/:id/remove_router_interface', async (req) =>
    network.routers.removeInterface(need(req), req.params.id, req.body),
  );

  app.get('/v2.0/quotas', async (req) => {
    const ctx = need(req);
    return {
      quotas: [
        {
          ...(await network.quotas.show(ctx, ctx.projectId)),
          project_id: ctx.projectId,
          tenant_id: ctx.projectId,
        },
      ],
    };
  });
  app.get<{ Params: { project: string } }>('/v2.0/quotas/:project', async (req) => ({
    quota: await network.quotas.show(need(req), req.params.project),
  }));
  app.get<{ Params: { project: string } }>('/v2.0/quotas/:project/details', async (req) => ({
    quota: await network.quotas.details(need(req), req.params.project),
  }));
  app.get<{ Params: { project: string } }>('/v2.0/quotas/:project/default', async () => ({
    quota: QUOTA_DEFAULTS,
  }));
  app.put<{ Params: { project: string } }>('/v2.0/quotas/:project', async (req) => ({
    quota: await network.quotas.update(need(req), req.params.project, req.body),
  }));
  app.delete<{ Params: { project: string } }>('/v2.0/quotas/:project', async (req, reply) => {
    await network.quotas.reset(need(req), req.params.project);
    return reply.code(204).send();
  });
  return app;
}
