// Keystone's JSON shapes for projects, users, roles and role assignments (the same shapes the
// read-only lookups in app.ts return).
import type { FastifyRequest } from 'fastify';
import type { Project, Role, User } from '../../db/index.js';
import type { Assignment } from '../../db/repos/identity-admin.js';
import { DEFAULT_DOMAIN } from '../../control/identity.js';
import { baseUrl } from '../common.js';

export const projectView = (req: FastifyRequest, p: Project) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  enabled: p.enabled,
  domain_id: DEFAULT_DOMAIN.id,
  parent_id: DEFAULT_DOMAIN.id,
  is_domain: false,
  tags: [],
  options: {},
  links: { self: `${baseUrl(req)}/v3/projects/${p.id}` },
});

export const userView = (req: FastifyRequest, u: User) => ({
  id: u.id,
  name: u.name,
  enabled: u.enabled,
  domain_id: DEFAULT_DOMAIN.id,
  default_project_id: u.defaultProjectId ?? undefined,
  password_expires_at: null,
  options: {},
  links: { self: `${baseUrl(req)}/v3/users/${u.id}` },
});

const ROLE_DESCRIPTIONS: Record<string, string> = {
  admin: 'Everything, in every project.',
  member: 'Reads and writes within its project.',
  reader: 'Reads within its project; every write is refused.',
};

export const roleView = (req: FastifyRequest, r: Role) => ({
  id: r.id,
  name: r.name,
  domain_id: null,
  description: ROLE_DESCRIPTIONS[r.name] ?? null,
  options: {},
  links: { self: `${baseUrl(req)}/v3/roles/${r.id}` },
});

export function assignmentView(req: FastifyRequest, a: Assignment, includeNames: boolean) {
  const domain = { id: DEFAULT_DOMAIN.id, name: DEFAULT_DOMAIN.name };
  return {
    role: includeNames ? { id: a.roleId, name: a.roleName } : { id: a.roleId },
    user: includeNames ? { id: a.userId, name: a.userName, domain } : { id: a.userId },
    scope: {
      project: includeNames ? { id: a.projectId, name: a.projectName, domain } : { id: a.projectId },
    },
    links: {
      assignment: `${baseUrl(req)}/v3/projects/${a.projectId}/users/${a.userId}/roles/${a.roleId}`,
    },
  };
}

export const collectionLinks = (req: FastifyRequest) => ({
  self: `${baseUrl(req)}${req.url}`,
  next: null,
  previous: null,
});
