// Shared API plumbing: request ids, the caller's identity from X-Auth-Token, base URLs,
// and the fastify options every API uses.
import { randomUUID } from 'node:crypto';
import { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { RequestContext } from '../control/context.js';
import type { IdentityService } from '../control/identity.js';
import { badRequest, unauthorized } from '../errors/index.js';
import { utf8Body } from '../control/text-rules.js';
import { frameworkErrorHandler } from './errors.js';
import { protocolErrorHandler } from './protocol-errors.js';
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
    clientErrorHandler: protocolErrorHandler,
  } as FastifyServerOptions;
}

/**
 * The JSON body parser of every API, for application/json and the given JSON media types
 * (Glance's JSON-patch ones). An empty body is no body: Nova and Glance accept a DELETE, an
 * action or a tag PUT that says Content-Type: application/json and sends nothing, and clients
 * do send that. Invalid UTF-8 is a 400, never silently replaced; __proto__ keys are refused
 * (fastify's secure parser).
 */
export function installJsonBody(app: FastifyInstance, mediaTypes: string[] = ['application/json']): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  for (const type of mediaTypes) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (req, raw, done) => {
      let text: string;
      try {
        text = utf8Body(raw as Buffer);
      } catch (err) {
        return done(err as Error, undefined);
      }
      if (text.trim() === '') return done(null, undefined);
      void secureParse(req, text, (err, body) => {
        if (!err) return done(null, body);
        const poisoned = /__proto__|constructor/.test(err.message);
        done(
          poisoned
            ? badRequest('The request body may not contain __proto__ or constructor.prototype keys.')
            : badRequest(
                `The request body is not valid JSON (${type}). Fix: send a well-formed JSON document.`,
              ),
          undefined,
        );
      });
    });
  }
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
