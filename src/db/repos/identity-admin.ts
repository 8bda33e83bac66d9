// Identity administration over the identity tables of 0001-initial: project and user
// updates and deletes, role lookups, role assignment grant/check/revoke/list, and the token
// revocations those changes imply. The read and create calls stay in identity.ts.
import { hashPassword, projectFromRow, userFromRow, type Project, type Role, type User } from './identity.js';
import { type Db, toInt } from './util.js';

export interface ProjectChanges {
  name?: string;
  description?: string;
  enabled?: boolean;
}

export interface UserChanges {
  name?: string;
  password?: string;
  defaultProjectId?: string | null;
  enabled?: boolean;
}

export interface AssignmentFilter {
  userId?: string;
  projectId?: string;
  roleId?: string;
}

export interface Assignment {
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roleId: string;
  roleName: string;
}

/** What still lives in a project (a project that owns anything cannot be deleted). */
export interface ProjectHoldings {
  servers: number;
  images: number;
}

export class IdentityAdminRepo {
  constructor(private readonly db: Db) {}

  async updateProject(id: string, c: ProjectChanges): Promise<Project | undefined> {
    const set: { name?: string; description?: string; enabled?: number } = {};
    if (c.name !== undefined) set.name = c.name;
    if (c.description !== undefined) set.description = c.description;
    if (c.enabled !== undefined) set.enabled = toInt(c.enabled);
    if (Object.keys(set).length > 0) {
      await this.db.updateTable('projects').set(set).where('id', '=', id).execute();
    }
    const r = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r && projectFromRow(r);
  }

  async projectHoldings(projectId: string): Promise<ProjectHoldings> {
    const servers = await this.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    const images = await this.db
      .selectFrom('images')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('owner', '=', projectId)
      .executeTakeFirstOrThrow();
    return { servers: Number(servers.n), images: Number(images.n) };
  }

  /** Deletes the project, its role assignments and every token scoped to it. */
  async deleteProject(id: string): Promise<boolean> {
    await this.db.deleteFrom('role_assignments').where('project_id', '=', id).execute();
    await this.db.deleteFrom('tokens').where('project_id', '=', id).execute();
    await this.db.deleteFrom('flavor_access').where('project_id', '=', id).execute();
    await this.db
      .updateTable('users')
      .set({ default_project_id: null })
      .where('default_project_id', '=', id)
      .execute();
    const r = await this.db.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async updateUser(id: string, c: UserChanges): Promise<User | undefined> {
    const set: {
      name?: string;
      password_hash?: string;
      default_project_id?: string | null;
      enabled?: number;
    } = {};
    if (c.name !== undefined) set.name = c.name;
    if (c.password !== undefined) set.password_hash = await hashPassword(c.password);
    if (c.defaultProjectId !== undefined) set.default_project_id = c.defaultProjectId;
    if (c.enabled !== undefined) set.enabled = toInt(c.enabled);
    if (Object.keys(set).length > 0) {
      await this.db.updateTable('users').set(set).where('id', '=', id).execute();
    }
    const r = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && userFromRow(r);
  }

  /** Deletes the user, its role assignments, its tokens and its key pairs. */
  async deleteUser(id: string): Promise<boolean> {
    await this.db.deleteFrom('role_assignments').where('user_id', '=', id).execute();
    await this.db.deleteFrom('tokens').where('user_id', '=', id).execute();
    await this.db.deleteFrom('keypairs').where('user_id', '=', id).execute();
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async findRole(by: { id?: string; name?: string }): Promise<Role | undefined> {
    let q = this.db.selectFrom('roles').select(['id', 'name']);
    if (by.id !== undefined) q = q.where('id', '=', by.id);
    if (by.name !== undefined) q = q.where('name', '=', by.name);
    return q.executeTakeFirst();
  }

  async hasAssignment(userId: string, projectId: string, roleId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('role_assignments')
      .select('role_id')
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
    return r !== undefined;
  }

  async unassignRole(userId: string, projectId: string, roleId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('role_assignments')
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listAssignments(f: AssignmentFilter): Promise<Assignment[]> {
    let q = this.db
      .selectFrom('role_assignments as a')
      .innerJoin('roles as r', 'r.id', 'a.role_id')
      .innerJoin('users as u', 'u.id', 'a.user_id')
      .innerJoin('projects as p', 'p.id', 'a.project_id')
      .select([
        'a.user_id as userId',
        'u.name as userName',
        'a.project_id as projectId',
        'p.name as projectName',
        'a.role_id as roleId',
        'r.name as roleName',
      ]);
    if (f.userId !== undefined) q = q.where('a.user_id', '=', f.userId);
    if (f.projectId !== undefined) q = q.where('a.project_id', '=', f.projectId);
    if (f.roleId !== undefined) q = q.where('a.role_id', '=', f.roleId);
    return q.orderBy('u.name').orderBy('p.name').orderBy('r.name').execute();
  }

  /** Revokes every token of the user (on disable or password change), or only those scoped to one project. */
  async revokeTokens(by: { userId?: string; projectId?: string }): Promise<number> {
    if (by.userId === undefined && by.projectId === undefined) return 0;
    let q = this.db.deleteFrom('tokens');
    if (by.userId !== undefined) q = q.where('user_id', '=', by.userId);
    if (by.projectId !== undefined) q = q.where('project_id', '=', by.projectId);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
