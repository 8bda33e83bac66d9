// The Identity v3 API (§1): discovery, tokens, and the read-only project/user/role lookups
// that OSC makes.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { baseUrl, fastifyOptions, installAuth, installJsonBody, need, queryOf } from '../common.js';
import { installErrorHandling } from '../errors.js';
import { notFound, unauthorized } from '../../errors/index.js';
import { requireAdmin } from '../../control/flavors.js';
import { DEFAULT_DOMAIN } from '../../control/identity.js';
import { registerIdentityAdminRoutes } from './admin-routes.js';

function version(req: FastifyRequest) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

const OPEN = new Set(['', '/v3', '/v3/auth/tokens']);
const isOpen = (req: FastifyRequest) => {
  const p = req.url.split('?')[0].replace(/\/+$/, '');
  return OPEN.has(p) && (p !== '/v3/auth/tokens' || req.method === 'POST');
};

export function createIdentityApp(d: ApiDeps): FastifyInstance {
  const app = Fastify(fastifyOptions(d.logger, 64 * 1024));
  installErrorHandling(app, 'identity');
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-openstack-request-id', String(req.id));
  });
  installAuth(app, d.identity, isOpen);
  installJsonBody(app);

  app.get('/', async (req, reply) => reply.code(300).send({ versions: { values: [version(req)] } }));
  app.get('/v3', async (req) => ({ version: version(req) }));

  app.post('/v3/auth/tokens', async (req, reply) => {
    const { token, body } = await d.identity.authenticate(req.body);
    void reply.header('X-Subject-Token', token);
    return reply.code(201).send(body);
  });
  const subject = (req: FastifyRequest) => {
    const ctx = need(req);
    const t = req.headers['x-subject-token'];
    if (typeof t !== 'string') throw unauthorized('X-Subject-Token is required.');
    return { ctx, t };
  };
  // HEAD comes from fastify's automatic HEAD route for this GET.
  app.get('/v3/auth/tokens', async (req, reply) => {
    const { ctx, t } = subject(req);
    const body = await d.identity.tokenInfo(ctx, t);
    if (!body) throw notFound('The token is unknown, revoked or expired.');
    void reply.header('X-Subject-Token', t);
    return body;
  });
  app.delete('/v3/auth/tokens', async (req, reply) => {
    const { ctx, t } = subject(req);
    if (!(await d.identity.revoke(ctx, t))) throw notFound('The token is unknown, revoked or expired.');
    return reply.code(204).send();
  });
  app.get('/v3/auth/catalog', async (req) => {
    need(req);
    return {
      catalog: d.identity.catalog(),
      links: { self: `${baseUrl(req)}/v3/auth/catalog`, next: null, previous: null },
    };
  });

  const projectView = (p: { id: string; name: string; description: string; enabled: boolean }) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    enabled: p.enabled,
    domain_id: DEFAULT_DOMAIN.id,
    parent_id: DEFAULT_DOMAIN.id,
    is_domain: false,
    tags: [],
    links: { self: `/v3/projects/${p.id}` },
  });
  const userView = (u: { id: string; name: string; enabled: boolean; defaultProjectId: string | null }) => ({
    id: u.id,
    name: u.name,
    enabled: u.enabled,
    domain_id: DEFAULT_DOMAIN.id,
    default_project_id: u.defaultProjectId ?? undefined,
    password_expires_at: null,
    links: { self: `/v3/users/${u.id}` },
  });
  const page = (req: FastifyRequest, key: string) => ({
    self: `${baseUrl(req)}/v3/${key}`,
    next: null,
    previous: null,
  });
  app.get('/v3/projects', async (req) => {
    const ctx = need(req);
    const name = queryOf(req).name;
    let all = await d.repos.identity.listProjects();
    if (!ctx.isAdmin) all = all.filter((p) => p.id === ctx.projectId);
    if (typeof name === 'string') all = all.filter((p) => p.name === name);
    const domainId = queryOf(req).domain_id; // one domain: any other id matches nothing
    if (typeof domainId === 'string' && domainId !== DEFAULT_DOMAIN.id) all = [];
    return { projects: all.map(projectView), links: page(req, 'projects') };
  });
  app.get<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    const ctx = need(req);
    const p = await d.repos.identity.findProject({ id: req.params.id });
    if (!p || (!ctx.isAdmin && p.id !== ctx.projectId))
      throw notFound(`Could not find project: ${req.params.id}.`);
    return { project: projectView(p) };
  });
  app.get('/v3/users', async (req) => {
    const ctx = need(req);
    const name = queryOf(req).name;
    let all = await d.repos.identity.listUsers();
    if (!ctx.isAdmin) all = all.filter((u) => u.id === ctx.userId);
    if (typeof name === 'string') all = all.filter((u) => u.name === name);
    return { users: all.map(userView), links: page(req, 'users') };
  });
  app.get<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    const ctx = need(req);
    const u = await d.repos.identity.findUser({ id: req.params.id });
    if (!u || (!ctx.isAdmin && u.id !== ctx.userId)) throw notFound(`Could not find user: ${req.params.id}.`);
    return { user: userView(u) };
  });
  app.get('/v3/roles', async (req) => {
    requireAdmin(need(req), 'identity:list_roles');
    const roleName = queryOf(req).name; // openstack role add … member looks the role up by ?name=
    const roles = (await d.repos.identity.listRoles()).filter(
      (r) => typeof roleName !== 'string' || r.name === roleName,
    );
    return {
      roles: roles.map((r) => ({ ...r, domain_id: null, links: { self: `/v3/roles/${r.id}` } })),
      links: page(req, 'roles'),
    };
  });
  app.get<{ Params: { id: string } }>('/v3/domains/:id', async (req) => {
    need(req);
    if (req.params.id !== DEFAULT_DOMAIN.id) throw notFound(`Could not find domain: ${req.params.id}.`);
    return {
      domain: {
        ...DEFAULT_DOMAIN,
        enabled: true,
        description: 'The default domain',
        links: { self: `/v3/domains/default` },
      },
    };
  });
  app.get('/v3/domains', async (req) => {
    need(req);
    return {
      domains: [{ ...DEFAULT_DOMAIN, enabled: true, description: 'The default domain' }],
      links: page(req, 'domains'),
    };
  });
  registerIdentityAdminRoutes(app, d);
  return app;
}
