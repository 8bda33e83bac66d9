// Roles (fixed: admin, member, reader) and role assignments on projects, with Keystone's
// paths: PUT/HEAD/GET/DELETE /v3/projects/{p}/users/{u}/roles/{r},
// GET /v3/projects/{p}/users/{u}/roles, GET /v3/role_assignments.
import type { FastifyInstance } from 'fastify';
import { need, queryOf } from '../common.js';
import { forbidden } from '../../errors/index.js';
import type { AssignmentQuery, IdentityAdminService } from '../../control/identity-admin.js';
import { assignmentView, collectionLinks, roleView } from './admin-views.js';

type GrantParams = { Params: { p: string; u: string; r: string } };
const GRANT = '/v3/projects/:p/users/:u/roles/:r';

/** Keystone's flag parsing: present and not "0"/"false" means true. */
function flag(v: string | string[] | undefined): boolean {
  if (v === undefined) return false;
  const s = (Array.isArray(v) ? v[0] : v).toLowerCase();
  return s !== '0' && s !== 'false';
}

function assignmentQuery(q: Record<string, string | string[] | undefined>): AssignmentQuery {
  const one = (k: string) => {
    const v = q[k];
    return Array.isArray(v) ? v[0] : v;
  };
  // Kestrel has no groups, domain- or system-scoped grants, nor inherited grants.
  const impossible = ['group.id', 'scope.domain.id', 'scope.system', 'scope.OS-INHERIT:inherited_to'].some(
    (k) => q[k] !== undefined,
  );
  return { userId: one('user.id'), projectId: one('scope.project.id'), roleId: one('role.id'), impossible };
}

export function registerAssignmentRoutes(app: FastifyInstance, svc: IdentityAdminService): void {
  app.get<{ Params: { id: string } }>('/v3/roles/:id', async (req) => ({
    role: roleView(req, await svc.getRole(need(req), req.params.id)),
  }));
  const refuseRoles = async () => {
    throw forbidden(
      'Kestrel has exactly three roles, admin, member and reader; creating, changing or deleting roles is not supported.',
    );
  };
  app.post('/v3/roles', refuseRoles);
  app.patch('/v3/roles/:id', refuseRoles);
  app.delete('/v3/roles/:id', refuseRoles);

  app.put<GrantParams>(GRANT, async (req, reply) => {
    await svc.grant(need(req), req.params.p, req.params.u, req.params.r);
    return reply.code(204).send();
  });
  // GET answers the check too; fastify adds HEAD for it (openstack's HEAD check).
  app.get<GrantParams>(GRANT, async (req, reply) => {
    await svc.check(need(req), req.params.p, req.params.u, req.params.r);
    return reply.code(204).send();
  });
  app.delete<GrantParams>(GRANT, async (req, reply) => {
    await svc.revoke(need(req), req.params.p, req.params.u, req.params.r);
    return reply.code(204).send();
  });
  app.get<{ Params: { p: string; u: string } }>('/v3/projects/:p/users/:u/roles', async (req) => {
    const roles = await svc.rolesOn(need(req), req.params.p, req.params.u);
    return { roles: roles.map((r) => roleView(req, r)), links: collectionLinks(req) };
  });

  app.get('/v3/role_assignments', async (req) => {
    const q = queryOf(req);
    const list = await svc.listAssignments(need(req), assignmentQuery(q));
    const names = flag(q.include_names);
    return { role_assignments: list.map((a) => assignmentView(req, a, names)), links: collectionLinks(req) };
  });
}
