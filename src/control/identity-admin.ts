// Identity administration (admin only): projects, users, roles and role assignments with
// Keystone's request bodies. Every change that can narrow what a token allows (a revoked
// role, a disabled or deleted user or project, a new password) revokes the affected tokens
// and drops the identity service's cached token contexts, so it takes effect on the next request.
import { verifyPassword, type Project, type Repositories, type Role, type User } from '../db/index.js';
import { IdentityAdminRepo, type Assignment } from '../db/repos/identity-admin.js';
import type { RequestContext } from './context.js';
import { badRequest, conflict, forbidden, notFound, KestrelError } from '../errors/index.js';
import { requireAdmin } from './flavors.js';
import { checkFreeText, checkName } from './text-rules.js';
import { DEFAULT_DOMAIN, type IdentityService } from './identity.js';

type Body = Record<string, unknown>;

/** The one-domain rule, for every place a domain can be named. */
export const ONE_DOMAIN_MESSAGE =
  'Kestrel has exactly one domain, "default" (name "Default"); creating, changing or deleting domains is not supported. Fix: leave domain_id out or set it to "default".';

function envelope(body: unknown, key: string): Body {
  const inner = (body as Body | undefined)?.[key];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) {
    throw badRequest(`The request body must be {"${key}": {…}}.`);
  }
  return inner as Body;
}

function rejectUnknown(b: Body, known: readonly string[], what: string): void {
  const extra = Object.keys(b).filter((k) => !known.includes(k));
  if (extra.length > 0) {
    throw badRequest(
      `Unsupported ${what} attribute(s): ${extra.join(', ')}. Kestrel accepts: ${known.join(', ')}.`,
    );
  }
}

/** Keystone's names: 1 to 255 printable characters, not only whitespace (edges may be spaces). */
function optName(b: Body, what: string): string | undefined {
  const v = b.name;
  if (v === undefined || v === null) return undefined;
  return checkName(`${what}.name`, v, { edges: 'allow' });
}

function optDescription(b: Body, what: string): string | undefined {
  const v = b.description;
  if (v === undefined || v === null) return undefined;
  return checkFreeText(`${what}.description`, v, 65_535);
}

function optBool(b: Body, key: string, what: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${what}.${key} must be true or false.`);
  return v;
}

function checkDomainId(b: Body): void {
  const d = b.domain_id;
  if (d !== undefined && d !== null && d !== DEFAULT_DOMAIN.id) throw forbidden(ONE_DOMAIN_MESSAGE);
}

/** tags and options are accepted only empty: Kestrel stores neither. */
function checkEmptyExtras(b: Body, what: string): void {
  const tags = b.tags;
  if (tags !== undefined && tags !== null && !(Array.isArray(tags) && tags.length === 0)) {
    throw badRequest(`${what}.tags: Kestrel does not store tags. Fix: create the ${what} without tags.`);
  }
  const opts = b.options;
  if (opts !== undefined && opts !== null && !(typeof opts === 'object' && Object.keys(opts).length === 0)) {
    throw badRequest(`${what}.options: Kestrel supports no ${what} options.`);
  }
}

function checkPassword(p: unknown, what: string): string {
  if (typeof p !== 'string' || p.length === 0) {
    throw badRequest(`${what} must be a non-empty string (openstack user create --password …).`);
  }
  if (p.length > 4096) throw badRequest(`${what} is longer than 4096 characters.`);
  return p;
}

export interface AssignmentQuery {
  userId?: string;
  projectId?: string;
  roleId?: string;
  /** A filter Kestrel has no assignments for (groups, domain or system scope): the answer is empty. */
  impossible: boolean;
}

export class IdentityAdminService {
  readonly admin: IdentityAdminRepo;

  constructor(
    private readonly repos: Repositories,
    private readonly identity: IdentityService,
  ) {
    this.admin = new IdentityAdminRepo(repos.db);
  }

  /** Token contexts are cached for a few seconds; any change here must be seen at once. */
  private changed(): void {
    this.identity.forgetCachedContexts();
  }

  async project(id: string): Promise<Project> {
    const p = await this.repos.identity.findProject({ id });
    if (!p) throw notFound(`Could not find project: ${id}.`);
    return p;
  }

  async user(id: string): Promise<User> {
    const u = await this.repos.identity.findUser({ id });
    if (!u) throw notFound(`Could not find user: ${id}.`);
    return {
      id: u.id,
      name: u.name,
      domainId: u.domainId,
      defaultProjectId: u.defaultProjectId,
      enabled: u.enabled,
    };
  }

  /** A role by id, or by name (names are unique), for the CLI's and curl's convenience. */
  async role(idOrName: string): Promise<Role> {
    const r =
      (await this.admin.findRole({ id: idOrName })) ?? (await this.admin.findRole({ name: idOrName }));
    if (!r) throw notFound(`Could not find role: ${idOrName}. The roles are admin, member and reader.`);
    return r;
  }

  async getRole(ctx: RequestContext, idOrName: string): Promise<Role> {
    requireAdmin(ctx, 'identity:get_role');
    return this.role(idOrName);
  }

  // ---- projects -------------------------------------------------------------------------

  async createProject(ctx: RequestContext, body: unknown): Promise<Project> {
    requireAdmin(ctx, 'identity:create_project');
    const b = envelope(body, 'project');
    rejectUnknown(
      b,
      ['name', 'description', 'enabled', 'domain_id', 'parent_id', 'is_domain', 'tags', 'options'],
      'project',
    );
    if (b.is_domain === true) throw forbidden(ONE_DOMAIN_MESSAGE);
    checkDomainId(b);
    if (b.parent_id !== undefined && b.parent_id !== null && b.parent_id !== DEFAULT_DOMAIN.id) {
      throw badRequest('project.parent_id: Kestrel has no project hierarchy. Fix: leave parent_id out.');
    }
    checkEmptyExtras(b, 'project');
    const name = optName(b, 'project');
    if (name === undefined) throw badRequest('project.name is required.');
    const description = optDescription(b, 'project') ?? '';
    const enabled = optBool(b, 'enabled', 'project') ?? true;
    if (await this.repos.identity.findProject({ name, domainId: DEFAULT_DOMAIN.id })) {
      throw conflict(
        `Conflict occurred attempting to store project - a project named ${name} already exists in domain default.`,
      );
    }
    const p = await this.repos.identity.createProject({ name, description });
    if (!enabled) return (await this.admin.updateProject(p.id, { enabled }))!;
    return p;
  }

  async updateProject(ctx: RequestContext, id: string, body: unknown): Promise<Project> {
    requireAdmin(ctx, 'identity:update_project');
    const b = envelope(body, 'project');
    rejectUnknown(b, ['name', 'description', 'enabled', 'domain_id', 'tags', 'options'], 'project');
    checkDomainId(b);
    checkEmptyExtras(b, 'project');
    const current = await this.project(id);
    const name = optName(b, 'project');
    if (name !== undefined && name !== current.name) {
      if (await this.repos.identity.findProject({ name, domainId: DEFAULT_DOMAIN.id })) {
        throw conflict(
          `Conflict occurred attempting to update project ${id} - a project named ${name} already exists.`,
        );
      }
    }
    const enabled = optBool(b, 'enabled', 'project');
    if (enabled === false && id === ctx.projectId) {
      throw conflict(
        `Refusing to disable project ${current.name}: your own token is scoped to it. Fix: act from another admin project.`,
      );
    }
    const p = await this.admin.updateProject(id, {
      name,
      description: optDescription(b, 'project'),
      enabled,
    });
    if (enabled === false) await this.admin.revokeTokens({ projectId: id });
    this.changed();
    return p!;
  }

  async deleteProject(ctx: RequestContext, id: string): Promise<void> {
    requireAdmin(ctx, 'identity:delete_project');
    const p = await this.project(id);
    if (id === ctx.projectId) {
      throw conflict(
        `Refusing to delete project ${p.name}: your own token is scoped to it. Fix: act from another admin project.`,
      );
    }
    const held = await this.admin.projectHoldings(id);
    if (held.servers > 0 || held.images > 0) {
      throw conflict(
        `Project ${p.name} (${id}) still owns ${held.servers} server(s) and ${held.images} image(s). Fix: delete them first (openstack server list --all-projects --project ${id}; openstack image list --owner ${id}), then delete the project.`,
      );
    }
    await this.admin.deleteProject(id);
    this.changed();
  }

  // ---- users ----------------------------------------------------------------------------

  private async checkDefaultProject(b: Body): Promise<string | null | undefined> {
    const v = b.default_project_id;
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (typeof v !== 'string') throw badRequest('user.default_project_id must be a project id.');
    if (!(await this.repos.identity.findProject({ id: v }))) {
      throw badRequest(`user.default_project_id: could not find project ${v}.`);
    }
    return v;
  }

  /** Kestrel stores no e-mail or description for users; say so rather than drop them. */
  private checkUnstored(b: Body): void {
    for (const k of ['email', 'description']) {
      if (b[k] !== undefined && b[k] !== null && b[k] !== '') {
        throw badRequest(`user.${k}: Kestrel does not store a user's ${k}. Fix: leave --${k} out.`);
      }
    }
  }

  /** The `user` object of a create or update, with the checks both make. */
  private userBody(body: unknown): Body {
    const b = envelope(body, 'user');
    rejectUnknown(
      b,
      ['name', 'password', 'default_project_id', 'domain_id', 'enabled', 'description', 'email', 'options'],
      'user',
    );
    checkDomainId(b);
    checkEmptyExtras(b, 'user');
    this.checkUnstored(b);
    return b;
  }

  async createUser(ctx: RequestContext, body: unknown): Promise<User> {
    requireAdmin(ctx, 'identity:create_user');
    const b = this.userBody(body);
    const name = optName(b, 'user');
    if (name === undefined) throw badRequest('user.name is required.');
    const password = checkPassword(b.password, 'user.password');
    const defaultProjectId = (await this.checkDefaultProject(b)) ?? undefined;
    const enabled = optBool(b, 'enabled', 'user') ?? true;
    if (await this.repos.identity.findUser({ name, domainId: DEFAULT_DOMAIN.id })) {
      throw conflict(
        `Conflict occurred attempting to store user - a user named ${name} already exists in domain default.`,
      );
    }
    const u = await this.repos.identity.createUser({ name, password, defaultProjectId });
    if (!enabled) return (await this.admin.updateUser(u.id, { enabled }))!;
    return u;
  }

  async updateUser(ctx: RequestContext, id: string, body: unknown): Promise<User> {
    requireAdmin(ctx, 'identity:update_user');
    const b = this.userBody(body);
    const current = await this.user(id);
    const name = optName(b, 'user');
    if (name !== undefined && name !== current.name) {
      if (await this.repos.identity.findUser({ name, domainId: DEFAULT_DOMAIN.id })) {
        throw conflict(
          `Conflict occurred attempting to update user ${id} - a user named ${name} already exists.`,
        );
      }
    }
    const password = b.password === undefined ? undefined : checkPassword(b.password, 'user.password');
    const enabled = optBool(b, 'enabled', 'user');
    if (enabled === false) await this.refuseLosingLastAdmin(id, `disable user ${current.name}`);
    const u = await this.admin.updateUser(id, {
      name,
      password,
      enabled,
      defaultProjectId: await this.checkDefaultProject(b),
    });
    // Keystone revokes a user's tokens when it is disabled or its password changes.
    if (enabled === false || password !== undefined) await this.admin.revokeTokens({ userId: id });
    this.changed();
    return u!;
  }

  async deleteUser(ctx: RequestContext, id: string): Promise<void> {
    requireAdmin(ctx, 'identity:delete_user');
    const u = await this.user(id);
    if (id === ctx.userId) {
      throw conflict(`Refusing to delete user ${u.name}: it is the user you are authenticated as.`);
    }
    await this.refuseLosingLastAdmin(id, `delete user ${u.name}`);
    await this.admin.deleteUser(id);
    this.changed();
  }

  /** POST /v3/users/{id}/password: a user changes its own password, proving the old one. */
  async changeOwnPassword(ctx: RequestContext, id: string, body: unknown): Promise<void> {
    if (id !== ctx.userId) {
      throw forbidden(`Users change only their own password; use PATCH /v3/users/${id} as an admin instead.`);
    }
    const b = envelope(body, 'user');
    const original = checkPassword(b.original_password, 'user.original_password');
    const password = checkPassword(b.password, 'user.password');
    const u = await this.repos.identity.findUser({ id });
    if (!u || !(await verifyPassword(original, u.passwordHash))) {
      throw new KestrelError('unauthorized', 'The original password is not correct.');
    }
    await this.admin.updateUser(id, { password });
    await this.admin.revokeTokens({ userId: id });
    this.changed();
  }

  // ---- role assignments -----------------------------------------------------------------

  private async triple(p: string, u: string, r: string) {
    const [project, user, role] = [await this.project(p), await this.user(u), await this.role(r)];
    return { project, user, role };
  }

  async grant(ctx: RequestContext, p: string, u: string, r: string): Promise<void> {
    requireAdmin(ctx, 'identity:create_grant');
    const t = await this.triple(p, u, r);
    await this.repos.identity.assignRole(t.user.id, t.project.id, t.role.id);
    this.changed();
  }

  async check(ctx: RequestContext, p: string, u: string, r: string): Promise<void> {
    requireAdmin(ctx, 'identity:check_grant');
    const t = await this.triple(p, u, r);
    if (!(await this.admin.hasAssignment(t.user.id, t.project.id, t.role.id))) {
      throw notFound(`User ${t.user.name} has no role ${t.role.name} on project ${t.project.name}.`);
    }
  }

  async revoke(ctx: RequestContext, p: string, u: string, r: string): Promise<void> {
    requireAdmin(ctx, 'identity:revoke_grant');
    const t = await this.triple(p, u, r);
    if (t.role.name === 'admin') {
      await this.refuseLosingLastAdmin(t.user.id, `revoke the admin role of ${t.user.name}`, t.project.id);
    }
    if (!(await this.admin.unassignRole(t.user.id, t.project.id, t.role.id))) {
      throw notFound(`User ${t.user.name} has no role ${t.role.name} on project ${t.project.name}.`);
    }
    // A token keeps working with the roles that remain; with none left it is revoked.
    if ((await this.repos.identity.rolesOf(t.user.id, t.project.id)).length === 0) {
      await this.admin.revokeTokens({ userId: t.user.id, projectId: t.project.id });
    }
    this.changed();
  }

  async rolesOn(ctx: RequestContext, p: string, u: string): Promise<Role[]> {
    requireAdmin(ctx, 'identity:list_grants');
    const [project, user] = [await this.project(p), await this.user(u)];
    return this.repos.identity.rolesOf(user.id, project.id);
  }

  /** GET /v3/users/{id}/projects and /v3/auth/projects: the enabled projects where the user has a role. */
  async projectsOf(ctx: RequestContext, userId: string): Promise<Project[]> {
    if (userId !== ctx.userId) requireAdmin(ctx, 'identity:list_user_projects');
    await this.user(userId);
    const ids = new Set((await this.admin.listAssignments({ userId })).map((a) => a.projectId));
    const out: Project[] = [];
    for (const id of ids) {
      const p = await this.repos.identity.findProject({ id });
      if (p?.enabled) out.push(p);
    }
    return out.sort((x, y) => x.name.localeCompare(y.name));
  }

  async listAssignments(ctx: RequestContext, q: AssignmentQuery): Promise<Assignment[]> {
    requireAdmin(ctx, 'identity:list_role_assignments');
    if (q.impossible) return [];
    return this.admin.listAssignments({ userId: q.userId, projectId: q.projectId, roleId: q.roleId });
  }

  /** Never leave the service without an enabled user holding the admin role somewhere. */
  private async refuseLosingLastAdmin(userId: string, what: string, onlyProject?: string): Promise<void> {
    const adminRole = await this.admin.findRole({ name: 'admin' });
    if (!adminRole) return;
    const holders = await this.admin.listAssignments({ roleId: adminRole.id });
    const remaining = [];
    for (const a of holders) {
      if (a.userId === userId && (onlyProject === undefined || a.projectId === onlyProject)) continue;
      const u = await this.repos.identity.findUser({ id: a.userId });
      if (u?.enabled) remaining.push(a);
    }
    if (remaining.length === 0) {
      throw conflict(
        `Refusing to ${what}: no other enabled user would keep the admin role, and nobody could administer Kestrel. Fix: grant admin to another user first.`,
      );
    }
  }
}
