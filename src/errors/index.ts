// The one error type of Kestrel. Every failure a user or operator can meet is a KestrelError
// with a stable code from the catalogue (which fixes its HTTP status), a message that says what
// failed and why, and a fix. Areas subclass it only to carry extra facts (an image's findings);
// nothing decides a status but the catalogue.
import { ERROR_CATALOGUE, statusOf, type ErrorCode } from './catalogue.js';

export { ERROR_CATALOGUE, statusOf, type ErrorCode };

export interface ErrorOptions {
  /** What the operator or user can do about it. */
  fix?: string;
  /** Extra diagnostic text for logs and instance faults (a QEMU log tail …; never secrets). */
  details?: string;
  cause?: unknown;
}

export class KestrelError<C extends ErrorCode = ErrorCode> extends Error {
  readonly status: number;
  readonly fix: string;
  readonly details?: string;

  constructor(
    readonly code: C,
    message: string,
    opts: ErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = statusOf(code);
    this.fix = opts.fix ?? '';
    this.details = opts.details;
  }

  /** The message and the fix, as a caller should read them. */
  get userMessage(): string {
    return this.fix ? `${this.message} Fix: ${this.fix}` : this.message;
  }

  /** Message, fix and details as one text (for logs and instance faults). */
  describe(): string {
    return [this.message, this.fix && `Fix: ${this.fix}`, this.details].filter(Boolean).join('\n');
  }
}

export function isKestrelError(e: unknown, code?: ErrorCode): e is KestrelError {
  return e instanceof KestrelError && (code === undefined || e.code === code);
}

/** A thrown value's message, for wrapping it in a KestrelError. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const badRequest = (m: string, opts?: ErrorOptions) => new KestrelError('bad-request', m, opts);
export const notFound = (m: string, opts?: ErrorOptions) => new KestrelError('not-found', m, opts);
export const conflict = (m: string, opts?: ErrorOptions) => new KestrelError('conflict', m, opts);
export const forbidden = (m: string, opts?: ErrorOptions) => new KestrelError('forbidden', m, opts);
export const unauthorized = (m: string, opts?: ErrorOptions) => new KestrelError('unauthorized', m, opts);

/** An error as plain JSON data, to cross a process boundary (the compute agent's transport). */
export interface ErrorJson {
  code: ErrorCode;
  message: string;
  fix?: string;
  details?: string;
}

export function errorToJson(e: unknown): ErrorJson {
  if (e instanceof KestrelError) {
    return { code: e.code, message: e.message, fix: e.fix || undefined, details: e.details };
  }
  return { code: 'internal', message: messageOf(e) };
}

export function errorFromJson(j: ErrorJson): KestrelError {
  const code: ErrorCode = j.code in ERROR_CATALOGUE ? j.code : 'internal';
  return new KestrelError(code, j.message, { fix: j.fix, details: j.details });
}
