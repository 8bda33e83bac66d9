// Turning an error into an instance fault (code, message, details). Driver errors carry a
// fix and details (the QEMU log tail); they are kept, secrets never enter them.
import type { Fault } from '../db/index.js';

interface Described {
  message?: unknown;
  fix?: unknown;
  details?: unknown;
  describe?: () => string;
}

/** Message + fix + details of any error, as one text. */
export function describeError(e: unknown): string {
  if (e && typeof e === 'object') {
    const d = e as Described;
    if (typeof d.describe === 'function') return d.describe();
    const parts = [String(d.message ?? e)];
    if (typeof d.fix === 'string' && d.fix) parts.push(`Fix: ${d.fix}`);
    if (typeof d.details === 'string' && d.details) parts.push(d.details);
    return parts.join('\n');
  }
  return String(e);
}

export function faultFrom(e: unknown, context: string): Omit<Fault, 'createdAt'> {
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: 500,
    message: `${context}: ${message}`.slice(0, 4000),
    details: describeError(e).slice(0, 16_000),
  };
}
