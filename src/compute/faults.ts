// Turning an error into an instance fault (code, message, details). A KestrelError keeps its
// status (a refused request is a 4xx fault, not a 500), its fix and its details (the QEMU log
// tail); anything else is a 500. Secrets never enter them.
import type { Fault } from '../db/index.js';
import { KestrelError } from '../errors/index.js';

/** Message + fix + details of any error, as one text. */
export function describeError(e: unknown): string {
  if (e instanceof KestrelError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

export function faultFrom(e: unknown, context: string): Omit<Fault, 'createdAt'> {
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: e instanceof KestrelError ? e.status : 500,
    message: `${context}: ${message}`.slice(0, 4000),
    details: describeError(e).slice(0, 16_000),
  };
}
