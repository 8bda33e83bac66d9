// Identity v3 administration routes (admin only): project and user create/update/delete,
// self-service password change, and the one-domain refusals. Role and assignment routes are
// in admin-assignments.ts. The read-only lookups (GET projects/users/roles/domains lists)
// stay in app.ts; these answer with the same shapes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { baseUrl, need } from '../common.js';
import { forbidden } from '../../errors/index.js';
import { IdentityAdminService, ONE_DOMAIN_MESSAGE } from '../../control/identity-admin.js';
import { collectionLinks, projectView, userView } from './admin-views.js';
import { registerAssignmentRoutes } from './admin-assignments.js';

type IdParams = { Params: { id: string } };

export function registerIdentityAdminRoutes(app: FastifyInstance, d: ApiDeps): IdentityAdminService {
  const svc = new IdentityAdminService(d.repos, d.identity);
  const created = (req: FastifyRequest, kind: string, id: string) => `${baseUrl(req)}/v3/${kind}/${id}`;

  app.post('/v3/projects', async (req, reply) => {
    const p = await svc.createProject(need(req), req.body);
    void reply.header('Location', created(req, 'projects', p.id));
    return reply.code(201).send({ project: projectView(req, p) });
  });
  app.patch<IdParams>('/v3/projects/:id', async (req) => ({
    project: projectView(req, await svc.updateProject(need(req), req.params.id, req.body)),
  }));
  app.delete<IdParams>('/v3/projects/:id', async (req, reply) => {
    await svc.deleteProject(need(req), req.params.id);
    return reply.code(204).send();
  });

  app.post('/v3/users', async (req, reply) => {
    const u = await svc.createUser(need(req), req.body);
    void reply.header('Location', created(req, 'users', u.id));
    return reply.code(201).send({ user: userView(req, u) });
  });
  app.patch<IdParams>('/v3/users/:id', async (req) => ({
    user: userView(req, await svc.updateUser(need(req), req.params.id, req.body)),
  }));
  app.delete<IdParams>('/v3/users/:id', async (req, reply) => {
    await svc.deleteUser(need(req), req.params.id);
    return reply.code(204).send();
  });
  app.post<IdParams>('/v3/users/:id/password', async (req, reply) => {
    await svc.changeOwnPassword(need(req), req.params.id, req.body);
    return reply.code(204).send();
  });

  app.get<IdParams>('/v3/users/:id/projects', async (req) => {
    const list = await svc.projectsOf(need(req), req.params.id);
    return { projects: list.map((p) => projectView(req, p)), links: collectionLinks(req) };
  });
  app.get('/v3/auth/projects', async (req) => {
    const ctx = need(req);
    const list = await svc.projectsOf(ctx, ctx.userId);
    return { projects: list.map((p) => projectView(req, p)), links: collectionLinks(req) };
  });

  // One domain: reads are in app.ts; every change is refused with the reason.
  const refuseDomains = async (req: FastifyRequest) => {
    need(req);
    throw forbidden(ONE_DOMAIN_MESSAGE);
  };
  app.post('/v3/domains', refuseDomains);
  app.patch('/v3/domains/:id', refuseDomains);
  app.delete('/v3/domains/:id', refuseDomains);

  registerAssignmentRoutes(app, svc);
  return svc;
}
