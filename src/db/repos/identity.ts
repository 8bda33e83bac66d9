// Identity: projects, users (scrypt password hashes), roles, role assignments, tokens (stored
// as sha256 of the opaque token, so a database leak yields no usable token).
import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ProjectTable, UserTable } from '../schema.js';
import { type Db, nowIso, toBool } from './util.js';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  opts: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export interface Project {
  id: string;
  name: string;
  domainId: string;
  description: string;
  enabled: boolean;
}
export interface User {
  id: string;
  name: string;
  domainId: string;
  defaultProjectId: string | null;
  enabled: boolean;
}
export interface Role {
  id: string;
  name: string;
}
export interface TokenRecord {
  userId: string;
  projectId: string | null;
  methods: string[];
  auditId: string;
  issuedAt: string;
  expiresAt: string;
}

// scrypt with N=2^15, r=8 uses 32 MiB per hash: memory-hard, ~50 ms here.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, {
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    maxmem: 128 * SCRYPT.N * SCRYPT.r * 2,
  });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const got = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A projects row as the API's Project. */
export function projectFromRow(r: ProjectTable): Project {
  return {
    id: r.id,
    name: r.name,
    domainId: r.domain_id,
    description: r.description,
    enabled: toBool(r.enabled),
  };
}

/** A users row as the API's User (without the password hash). */
export function userFromRow(r: Omit<UserTable, 'password_hash' | 'created_at'>): User {
  return {
    id: r.id,
    name: r.name,
    domainId: r.domain_id,
    defaultProjectId: r.default_project_id,
    enabled: toBool(r.enabled),
  };
}

export class IdentityRepo {
  constructor(private readonly db: Db) {}

  async createProject(p: {
    name: string;
    domainId?: string;
    description?: string;
    id?: string;
  }): Promise<Project> {
    const row = {
      id: p.id ?? randomUUID().replace(/-/g, ''),
      name: p.name,
      domain_id: p.domainId ?? 'default',
      description: p.description ?? '',
      enabled: 1,
      created_at: nowIso(),
    };
    await this.db.insertInto('projects').values(row).execute();
    return projectFromRow(row);
  }

  async findProject(by: { id?: string; name?: string; domainId?: string }): Promise<Project | undefined> {
    let q = this.db.selectFrom('projects').selectAll();
    if (by.id !== undefined) q = q.where('id', '=', by.id);
    if (by.name !== undefined) q = q.where('name', '=', by.name);
    if (by.domainId !== undefined) q = q.where('domain_id', '=', by.domainId);
    const r = await q.executeTakeFirst();
    return r && projectFromRow(r);
  }

  async listProjects(): Promise<Project[]> {
    const rows = await this.db.selectFrom('projects').selectAll().orderBy('name').execute();
    return rows.map((r) => projectFromRow(r));
  }

  async createUser(u: {
    name: string;
    password: string;
    domainId?: string;
    defaultProjectId?: string;
    id?: string;
  }): Promise<User> {
    const row = {
      id: u.id ?? randomUUID().replace(/-/g, ''),
      name: u.name,
      domain_id: u.domainId ?? 'default',
      password_hash: await hashPassword(u.password),
      default_project_id: u.defaultProjectId ?? null,
      enabled: 1,
      created_at: nowIso(),
    };
    await this.db.insertInto('users').values(row).execute();
    return userFromRow(row);
  }

  async setPassword(userId: string, password: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ password_hash: await hashPassword(password) })
      .where('id', '=', userId)
      .execute();
  }

  /** The user and its stored hash (for password checks). */
  async findUser(by: {
    id?: string;
    name?: string;
    domainId?: string;
  }): Promise<(User & { passwordHash: string }) | undefined> {
    let q = this.db.selectFrom('users').selectAll();
    if (by.id !== undefined) q = q.where('id', '=', by.id);
    if (by.name !== undefined) q = q.where('name', '=', by.name);
    if (by.domainId !== undefined) q = q.where('domain_id', '=', by.domainId);
    const r = await q.executeTakeFirst();
    return r && { ...userFromRow(r), passwordHash: r.password_hash };
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map((r) => userFromRow(r));
  }

  async ensureRole(name: string): Promise<Role> {
    const existing = await this.db
      .selectFrom('roles')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) return existing;
    const role = { id: randomUUID().replace(/-/g, ''), name };
    await this.db
      .insertInto('roles')
      .values(role)
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return (await this.db
      .selectFrom('roles')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow()) as Role;
  }

  async listRoles(): Promise<Role[]> {
    return this.db.selectFrom('roles').selectAll().orderBy('name').execute();
  }

  async assignRole(userId: string, projectId: string, roleId: string): Promise<void> {
    await this.db
      .insertInto('role_assignments')
      .values({ user_id: userId, project_id: projectId, role_id: roleId })
      .onConflict((oc) => oc.columns(['user_id', 'project_id', 'role_id']).doNothing())
      .execute();
  }

  async rolesOf(userId: string, projectId: string): Promise<Role[]> {
    return this.db
      .selectFrom('role_assignments as a')
      .innerJoin('roles as r', 'r.id', 'a.role_id')
      .select(['r.id', 'r.name'])
      .where('a.user_id', '=', userId)
      .where('a.project_id', '=', projectId)
      .orderBy('r.name')
      .execute();
  }

  /** Stores a new token and returns the opaque string (shown once, stored only as a hash). */
  async issueToken(
    t: Omit<TokenRecord, 'auditId' | 'issuedAt' | 'expiresAt'> & { ttlSeconds: number },
  ): Promise<{
    token: string;
    record: TokenRecord;
  }> {
    const token = randomBytes(32).toString('base64url');
    const issued = new Date();
    const record: TokenRecord = {
      userId: t.userId,
      projectId: t.projectId,
      methods: t.methods,
      auditId: randomBytes(16).toString('base64url'),
      issuedAt: issued.toISOString(),
      expiresAt: new Date(issued.getTime() + t.ttlSeconds * 1000).toISOString(),
    };
    await this.db
      .insertInto('tokens')
      .values({
        token_hash: hashToken(token),
        user_id: record.userId,
        project_id: record.projectId,
        methods: record.methods.join(','),
        audit_id: record.auditId,
        issued_at: record.issuedAt,
        expires_at: record.expiresAt,
      })
      .execute();
    return { token, record };
  }

  /** The token's record, or undefined when unknown, revoked or expired. */
  async findToken(token: string, now = new Date()): Promise<TokenRecord | undefined> {
    const r = await this.db
      .selectFrom('tokens')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!r || Date.parse(r.expires_at) <= now.getTime()) return undefined;
    return {
      userId: r.user_id,
      projectId: r.project_id,
      methods: r.methods.split(','),
      auditId: r.audit_id,
      issuedAt: r.issued_at,
      expiresAt: r.expires_at,
    };
  }

  async revokeToken(token: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('tokens')
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async purgeExpiredTokens(now = new Date()): Promise<number> {
    const r = await this.db
      .deleteFrom('tokens')
      .where('expires_at', '<=', now.toISOString())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
