// What a role allows, checked once per request for every API (identity, compute, image):
//   admin  — everything, in every project;
//   member — reads and writes within its own project (the services scope rows by project);
//   reader — reads of its own project only: any other method is refused here, before a route runs.
// Being a member or admin anywhere in the token's roles lifts the reader restriction.
import type { RequestContext } from './context.js';
import { isReader } from './context.js';
import { forbidden, type KestrelError } from '../errors/index.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Writes a reader may still make because they concern only the caller's own credentials:
 * revoking a token it holds (openstack token revoke) and changing its own password.
 */
function isOwnCredentialChange(ctx: RequestContext, method: string, path: string): boolean {
  if (method === 'DELETE' && path === '/v3/auth/tokens') return true;
  return method === 'POST' && path === `/v3/users/${ctx.userId}/password`;
}

/** The refusal for a write by a reader-only caller, or undefined when the request may go on. */
export function readerWriteRefusal(
  ctx: RequestContext,
  method: string,
  url: string,
): KestrelError | undefined {
  if (!isReader(ctx) || READ_METHODS.has(method.toUpperCase())) return undefined;
  const path = url.split('?')[0].replace(/\/+$/, '');
  if (isOwnCredentialChange(ctx, method.toUpperCase(), path)) return undefined;
  return forbidden(
    `Policy doesn't allow ${method.toUpperCase()} ${path}: user ${ctx.userName} has only the reader role on project ${ctx.projectName}, which allows reading (GET) and nothing else. Fix: ask an administrator for the member role (openstack role add --project ${ctx.projectName} --user ${ctx.userName} member).`,
  );
}
