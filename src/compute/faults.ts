// Turning an error into an instance fault (code, message, details). A KestrelError keeps its
// status (a refused request is a 4xx fault, not a 500), its fix and its details (the QEMU log
// tail); anything else is a 500. Secrets never enter them; members never read hosts or XML.
import type { Fault } from '../db/index.js';
import { KestrelError } from '../errors/index.js';

/** Message + fix + details of any error, as one text. */
export function describeError(e: unknown): string {
  if (e instanceof KestrelError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Whether an error's message was written for the server's owner (Nova's NovaException with
 * its format_message), so a member may read it: a KestrelError that refuses the request (4xx:
 * the flavor's disk is too small, the image asks for an unknown machine type …) and "no valid
 * host" (whose per-host explanation is in its details). Anything else — a libvirt or QEMU
 * failure, a failed command, a bug — may name hosts, paths, capacities or pieces of the domain
 * XML: members see a short message with the request id, admins the text in `details`.
 */
export function isUserFacing(e: unknown): e is KestrelError {
  return e instanceof KestrelError && (e.status < 500 || e.code === 'no-valid-host');
}

/**
 * The fault of a failed operation: the status of a KestrelError (a refused request is a 4xx
 * fault), a message a member may read, and details with the whole story (the server view
 * shows them only to admins when the status is 5xx).
 */
export function faultFrom(e: unknown, context: string, requestId?: string): Omit<Fault, 'createdAt'> {
  const code = e instanceof KestrelError ? e.status : 500;
  const prefix = context ? `${context}: ` : '';
  const details = `${prefix}${describeError(e)}`.slice(0, 16_000);
  if (isUserFacing(e)) return { code, message: `${prefix}${e.message}`.slice(0, 4000), details };
  return { code, message: internalFaultMessage(context, requestId), details };
}

/** What a member reads of an internal failure: no host, path, capacity or XML, but the request id. */
export function internalFaultMessage(context: string, requestId?: string): string {
  const rid = requestId ? ` (request ${requestId})` : '';
  return `${context || 'The operation failed'}: an internal error occurred${rid}. An administrator can see the cause in this fault's details and the service log.`;
}
