// Identity v3 (a small Keystone): password and token authentication with project scope,
// opaque random tokens stored hashed, a catalog of the three services, role-based admin.
import { randomUUID } from 'node:crypto';
import type { Repositories, TokenRecord } from '../db/index.js';
import { verifyPassword } from '../db/index.js';
import { badRequest, forbidden, unauthorized } from '../errors/index.js';
import type { RequestContext } from './context.js';

export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

export interface Endpoints {
  identity: string;
  compute: string;
  image: string;
  /** The Networking v2 API, when networking is enabled. */
  network?: string;
  region: string;
}

export interface IssuedToken {
  token: string;
  body: Record<string, unknown>;
}

interface ScopeSpec {
  project?: { id?: string; name?: string; domain?: { id?: string; name?: string } };
  domain?: unknown;
  system?: unknown;
}

const CACHE_MS = 30_000;

type CachedContext = Omit<RequestContext, 'requestId'> & { expiresAt: number };

export class IdentityService {
  private readonly cache = new Map<string, { ctx: CachedContext; until: number }>();

  constructor(
    private readonly repos: Repositories,
    private readonly endpoints: () => Endpoints,
    private readonly ttlSeconds = 12 * 3600,
  ) {}

  private checkDomain(d: { id?: string; name?: string } | undefined, what: string): void {
    if (!d) return;
    if (
      (d.id !== undefined && d.id !== DEFAULT_DOMAIN.id) ||
      (d.name !== undefined && d.name !== DEFAULT_DOMAIN.name)
    ) {
      throw unauthorized(`The ${what} domain must be "Default" (id "default"): Kestrel has one domain.`);
    }
  }

  /** POST /v3/auth/tokens. Any failure to authenticate is a 401 that does not say which part was wrong. */
  async authenticate(auth: unknown): Promise<IssuedToken> {
    const a = (auth as { auth?: Record<string, unknown> } | undefined)?.auth;
    if (!a || typeof a !== 'object') throw badRequest('The request body must be {"auth": {"identity": …}}.');
    const identity = a.identity as { methods?: unknown; password?: unknown; token?: unknown } | undefined;
    const methods = identity?.methods;
    if (!identity || !Array.isArray(methods) || methods.length === 0) {
      throw badRequest('auth.identity.methods must list "password" or "token".');
    }
    let userId: string;
    let fromToken: TokenRecord | undefined;
    if (methods.includes('password')) {
      const u = (identity.password as { user?: Record<string, unknown> } | undefined)?.user;
      if (!u || typeof u.password !== 'string')
        throw badRequest('auth.identity.password.user.password is required.');
      let user;
      if (typeof u.id === 'string') user = await this.repos.identity.findUser({ id: u.id });
      else if (typeof u.name === 'string') {
        this.checkDomain(u.domain as { id?: string; name?: string } | undefined, 'user');
        user = await this.repos.identity.findUser({ name: u.name, domainId: DEFAULT_DOMAIN.id });
      } else throw badRequest('auth.identity.password.user needs an id, or a name and a domain.');
      // Verify even for unknown users so the timing does not reveal which names exist.
      const ok = await verifyPassword(
        u.password,
        user?.passwordHash ??
          'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      );
      if (!user || !ok || !user.enabled)
        throw unauthorized('The request you have made requires authentication.');
      userId = user.id;
    } else if (methods.includes('token')) {
      const t = (identity.token as { id?: unknown } | undefined)?.id;
      if (typeof t !== 'string') throw badRequest('auth.identity.token.id is required.');
      fromToken = await this.repos.identity.findToken(t);
      if (!fromToken) throw unauthorized('The token is unknown, revoked or expired.');
      userId = fromToken.userId;
    } else {
      throw badRequest(
        `Unsupported authentication method ${JSON.stringify(methods)}; use "password" or "token".`,
      );
    }
    const user = (await this.repos.identity.findUser({ id: userId }))!;
    const projectId = await this.resolveScope(a.scope, user.defaultProjectId, fromToken);
    const { token, record } = await this.repos.identity.issueToken({
      userId,
      projectId,
      methods: methods.filter((m): m is string => typeof m === 'string'),
      ttlSeconds: fromToken
        ? Math.max(1, Math.floor((Date.parse(fromToken.expiresAt) - Date.now()) / 1000))
        : this.ttlSeconds,
    });
    return { token, body: await this.tokenBody(record) };
  }

  private async resolveScope(
    scope: unknown,
    defaultProjectId: string | null,
    fromToken: TokenRecord | undefined,
  ): Promise<string | null> {
    let projectId: string | null = null;
    if (scope === undefined || scope === 'unscoped') {
      projectId = fromToken?.projectId ?? defaultProjectId;
      if (scope === 'unscoped') return null;
    } else if (typeof scope === 'object' && scope !== null) {
      const s = scope as ScopeSpec;
      if (s.project) {
        let p;
        if (s.project.id) p = await this.repos.identity.findProject({ id: s.project.id });
        else if (s.project.name) {
          this.checkDomain(s.project.domain, 'project');
          p = await this.repos.identity.findProject({ name: s.project.name, domainId: DEFAULT_DOMAIN.id });
        } else throw badRequest('scope.project needs an id, or a name and a domain.');
        if (!p || !p.enabled) throw unauthorized('The project in the scope is unknown or disabled.');
        projectId = p.id;
      } else if (s.domain || s.system) {
        throw unauthorized(
          'Kestrel issues project-scoped tokens only. Fix: scope to a project (--os-project-name).',
        );
      } else throw badRequest('scope must name a project.');
    } else throw badRequest('scope must be an object or "unscoped".');
    return projectId;
  }

  private async userRoles(userId: string, projectId: string | null): Promise<{ id: string; name: string }[]> {
    return projectId ? this.repos.identity.rolesOf(userId, projectId) : [];
  }

  async tokenBody(record: TokenRecord): Promise<Record<string, unknown>> {
    const user = (await this.repos.identity.findUser({ id: record.userId }))!;
    const project = record.projectId
      ? await this.repos.identity.findProject({ id: record.projectId })
      : undefined;
    const roles = await this.userRoles(record.userId, record.projectId);
    if (project && roles.length === 0) {
      throw unauthorized(`User ${user.name} has no role on project ${project.name}.`);
    }
    const body: Record<string, unknown> = {
      methods: record.methods,
      expires_at: toKeystoneTime(record.expiresAt),
      issued_at: toKeystoneTime(record.issuedAt),
      audit_ids: [record.auditId],
      user: { id: user.id, name: user.name, domain: { ...DEFAULT_DOMAIN }, password_expires_at: null },
    };
    if (project) {
      body.project = { id: project.id, name: project.name, domain: { ...DEFAULT_DOMAIN } };
      body.is_domain = false;
      body.roles = roles.map((r) => ({ id: r.id, name: r.name }));
      body.catalog = this.catalog();
    }
    return { token: body };
  }

  catalog(): unknown[] {
    const e = this.endpoints();
    const svc = (type: string, name: string, url: string) => ({
      id: `kestrel-${type}`,
      type,
      name,
      endpoints: ['public', 'internal', 'admin'].map((iface) => ({
        id: `kestrel-${type}-${iface}`,
        interface: iface,
        region: e.region,
        region_id: e.region,
        url,
      })),
    });
    return [
      svc('identity', 'keystone', e.identity),
      svc('compute', 'nova', e.compute),
      svc('image', 'glance', e.image),
      ...(e.network ? [svc('network', 'neutron', e.network)] : []),
    ];
  }

  /** The caller behind X-Auth-Token, or undefined (missing, unknown, revoked, expired, unscoped). */
  async contextFor(token: string | undefined, requestId: string): Promise<RequestContext | undefined> {
    if (!token) return undefined;
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now && hit.ctx.expiresAt > now) return { ...hit.ctx, requestId };
    const rec = await this.repos.identity.findToken(token);
    if (!rec || !rec.projectId) return undefined;
    const [user, project, roles] = await Promise.all([
      this.repos.identity.findUser({ id: rec.userId }),
      this.repos.identity.findProject({ id: rec.projectId }),
      this.repos.identity.rolesOf(rec.userId, rec.projectId),
    ]);
    if (!user || !user.enabled || !project || !project.enabled || roles.length === 0) return undefined;
    const names = roles.map((r) => r.name);
    const ctx: CachedContext = {
      userId: user.id,
      userName: user.name,
      projectId: project.id,
      projectName: project.name,
      roles: names,
      isAdmin: names.includes('admin'),
      expiresAt: Date.parse(rec.expiresAt),
    };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { ctx, until: now + CACHE_MS });
    return { ...ctx, requestId };
  }

  /**
   * The body of a token the caller may inspect (GET/HEAD /v3/auth/tokens), or undefined when it
   * is unknown, revoked or expired. Keystone's identity:validate_token policy: the token's own
   * user or an admin; anyone else gets a 403, so a token is never shown to another user.
   */
  async tokenInfo(ctx: RequestContext, token: string): Promise<Record<string, unknown> | undefined> {
    const rec = await this.repos.identity.findToken(token);
    if (!rec) return undefined;
    this.checkTokenSubject(ctx, rec, 'identity:validate_token');
    return this.tokenBody(rec);
  }

  private checkTokenSubject(ctx: RequestContext, rec: TokenRecord, rule: string): void {
    if (ctx.isAdmin || rec.userId === ctx.userId) return;
    throw forbidden(
      `You are not authorized to perform the requested action: ${rule}. Only the token's own user or an admin may inspect or revoke a token.`,
    );
  }
  /** Drops every cached token context (identity administration calls this after each change). */
  forgetCachedContexts(): void {
    this.cache.clear();
  }

  /** Revokes a token (DELETE /v3/auth/tokens): identity:revoke_token, the same rule as validation. */
  async revoke(ctx: RequestContext, token: string): Promise<boolean> {
    const rec = await this.repos.identity.findToken(token);
    if (!rec) return false;
    this.checkTokenSubject(ctx, rec, 'identity:revoke_token');
    this.cache.delete(token);
    return this.repos.identity.revokeToken(token);
  }
}

/** Keystone's timestamp form: 2030-01-01T00:00:00.000000Z. */
export function toKeystoneTime(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

export const newRequestId = (): string => `req-${randomUUID()}`;
