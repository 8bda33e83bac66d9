// The one place errors become OpenStack fault bodies: a KestrelError's status (fixed by its
// code in src/errors/catalogue.ts) picks the fault name, and its message and fix become the
// fault's message, in each API's envelope (Nova's {"badRequest": {…}}, Glance's and Keystone's).
// Bad input is always a 4xx; only a bug is a 500, and its message says where to look without
// leaking internals.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KestrelError } from '../errors/index.js';

/** Nova's fault names by status (§2.3). */
export function faultName(status: number): string {
  switch (status) {
    case 400:
      return 'badRequest';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'itemNotFound';
    case 405:
      return 'badMethod';
    case 409:
      return 'conflictingRequest';
    case 413:
    case 429:
      return 'overLimit';
    case 415:
      return 'badMediaType';
    case 501:
      return 'notImplemented';
    case 503:
      return 'serviceUnavailable';
    default:
      return 'computeFault';
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export interface MappedError {
  status: number;
  message: string;
  /** Neutron's exception type (NetworkNotFound …), for the Networking API's fault body. */
  type?: string;
}

/** Any thrown value → status and a message fit for the caller. */
export function mapError(err: unknown): MappedError {
  if (err instanceof KestrelError) {
    // Networking errors name Neutron's exception type for the NeutronError body.
    const type = (err as { neutronType?: unknown }).neutronType;
    return { status: err.status, message: err.userMessage, ...(typeof type === 'string' ? { type } : {}) };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (fe && fe.validation) {
    return {
      status: 400,
      message: `Invalid input: ${fe.message ?? 'the request does not match the schema'}`,
    };
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const message =
      fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `Unsupported Content-Type: ${fe.message ?? ''}`
        : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'Request body too large.'
          : (fe.message ?? TITLES[status] ?? 'Bad request');
    return { status, message };
  }
  return {
    status: 500,
    message: 'Unexpected error in Kestrel; the service log has the details (search for this request id).',
  };
}

export type FaultStyle = 'compute' | 'image' | 'identity' | 'network';

/** Neutron's fault types by status, for errors that carry no type of their own. */
function neutronType(status: number): string {
  switch (status) {
    case 400:
      return 'HTTPBadRequest';
    case 401:
      return 'HTTPUnauthorized';
    case 403:
      return 'HTTPForbidden';
    case 404:
      return 'HTTPNotFound';
    case 405:
      return 'HTTPMethodNotAllowed';
    case 409:
      return 'HTTPConflict';
    case 413:
      return 'HTTPRequestEntityTooLarge';
    case 415:
      return 'HTTPUnsupportedMediaType';
    case 503:
      return 'HTTPServiceUnavailable';
    default:
      return 'HTTPInternalServerError';
  }
}

export function faultBody(
  style: FaultStyle,
  status: number,
  message: string,
  type?: string,
): Record<string, unknown> {
  switch (style) {
    case 'network':
      return { NeutronError: { type: type ?? neutronType(status), message, detail: '' } };
    case 'compute':
      return { [faultName(status)]: { code: status, message } };
    case 'image':
      return { code: `${status} ${TITLES[status] ?? ''}`.trim(), title: TITLES[status] ?? 'Error', message };
    case 'identity':
      return { error: { code: status, title: TITLES[status] ?? 'Error', message } };
  }
}

export function sendFault(
  reply: FastifyReply,
  style: FaultStyle,
  status: number,
  message: string,
  type?: string,
): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send(faultBody(style, status, message, type));
}

/**
 * Errors fastify raises before routing (a malformed %-escape, a path parameter longer than
 * maxParamLength): rendered in the app's own fault envelope (installErrorHandling records it).
 */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const style = (reply.server as unknown as { faultStyle?: FaultStyle }).faultStyle ?? 'compute';
  const { status, message } = mapError(err);
  // fastify's 414 quotes the whole URL back; say what the limit is instead.
  const shown =
    status === 414
      ? 'A path segment is longer than the 1000 characters this API accepts. Fix: shorten the id or name in the URL.'
      : message;
  void sendFault(reply, style, status, shown);
}

/**
 * What the caller reads of a failure: a 5xx from the host or a bug (libvirt's or QEMU's text,
 * paths, host names) reaches a non-admin as a short message with the request id, as Nova shows
 * members an internal error; admins, refusals (4xx), "not implemented" and "no valid host"
 * (whose message names no host) keep the full message.
 */
function shownTo(req: FastifyRequest, err: unknown, status: number, message: string): string {
  const open =
    status < 500 || status === 501 || (err instanceof KestrelError && err.code === 'no-valid-host');
  if (open || (req as { ctx?: { isAdmin?: boolean } | null }).ctx?.isAdmin) return message;
  return `An internal error occurred (request ${String(req.id)}). An administrator can find the cause in the service log.`;
}

export function installErrorHandling(app: FastifyInstance, style: FaultStyle): void {
  app.decorate('faultStyle', style);
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, message, type } = mapError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status, message }, 'request refused');
    if (status === 401 && style !== 'identity') {
      void reply.header('WWW-Authenticate', 'Keystone uri="identity"');
    }
    return sendFault(reply, style, status, shownTo(req, err, status, message), type);
  });
  app.setNotFoundHandler((req, reply) =>
    sendFault(reply, style, 404, `The resource could not be found: ${req.method} ${req.url.split('?')[0]}`),
  );
}
