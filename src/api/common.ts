// Shared API plumbing: request ids, the caller's identity from X-Auth-Token, base URLs,
// and the fastify options every API uses.
import { randomUUID } from 'node:crypto';
import { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { RequestContext } from '../control/context.js';
import type { IdentityService } from '../control/identity.js';
import { unauthorized } from '../errors/index.js';
import { frameworkErrorHandler } from './errors.js';
import { readerWriteRefusal } from '../control/identity-admin-policy.js';
import type { Logger } from '../util/log.js';

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext | null;
    requestId: string;
  }
}

export function fastifyOptions(logger: Logger | undefined, bodyLimit: number): FastifyServerOptions {
  return {
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    genReqId: () => `req-${randomUUID()}`,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    // OpenStack clients send long ids and names in paths (find-by-name GETs).
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1000 },
    frameworkErrors: frameworkErrorHandler,
  } as FastifyServerOptions;
}

/** Resolves X-Auth-Token for every request; routes that need a caller use need(). */
export function installAuth(
  app: FastifyInstance,
  identity: IdentityService,
  open: (req: FastifyRequest) => boolean,
): void {
  app.decorateRequest('ctx', null);
  app.decorateRequest('requestId', '');
  app.addHook('onRequest', async (req) => {
    req.requestId = String(req.id);
    if (open(req)) return;
    const token = req.headers['x-auth-token'];
    const ctx = await identity.contextFor(typeof token === 'string' ? token : undefined, req.requestId);
    if (!ctx) {
      throw unauthorized(
        token
          ? 'The token is unknown, revoked or expired. Fix: authenticate again (openstack token issue).'
          : 'Authentication required: send X-Auth-Token (get one with POST /v3/auth/tokens).',
      );
    }
    req.ctx = ctx;
    // The reader role may look, not change (Keystone's default roles: reader ⊂ member ⊂ admin);
    // it may still revoke its own token and change its own password.
    const refusal = readerWriteRefusal(ctx, req.method, req.url);
    if (refusal) throw refusal;
  });
}

export function need(req: FastifyRequest): RequestContext {
  if (!req.ctx) throw unauthorized('Authentication required.');
  return req.ctx;
}

/** scheme://host[:port] as the client addressed us (links are built from it). */
export function baseUrl(req: FastifyRequest): string {
  const host = req.headers.host ?? `${req.hostname}`;
  return `${req.protocol}://${host}`;
}

export function queryOf(req: FastifyRequest): Record<string, string | string[] | undefined> {
  return (req.query ?? {}) as Record<string, string | string[] | undefined>;
}

/** Nova's timestamps: 2024-01-01T00:00:00Z. */
export function novaTime(iso: string | null): string | null {
  return iso === null ? null : iso.replace(/\.\d+Z$/, 'Z');
}

/** launched_at style: 2024-01-01T00:00:04.000000 (no zone, microseconds). */
export function novaMicros(iso: string | null): string | null {
  if (iso === null) return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}` : iso;
}
