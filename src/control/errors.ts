// Errors the service raises, each with a stable code. src/api/errors.ts maps every code to
// one HTTP status and fault body in one table; nothing else decides statuses.
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'not_acceptable'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'over_quota'
  | 'no_valid_host'
  | 'not_implemented'
  | 'unavailable'
  | 'internal';

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra detail for logs and instance faults (never secrets). */
    readonly details?: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const badRequest = (m: string) => new ServiceError('bad_request', m);
export const notFound = (m: string) => new ServiceError('not_found', m);
export const conflict = (m: string) => new ServiceError('conflict', m);
export const forbidden = (m: string) => new ServiceError('forbidden', m);
export const unauthorized = (m: string) => new ServiceError('unauthorized', m);
