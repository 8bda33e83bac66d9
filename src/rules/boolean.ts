// oslo's boolean strings (oslo_utils.strutils.bool_from_string): what Nova accepts as true or
// false in a flavor extra spec or an image property. One reading for the API and the driver.
import { KestrelError } from '../errors/index.js';

const TRUE = new Set(['1', 't', 'true', 'on', 'y', 'yes']);
const FALSE = new Set(['0', 'f', 'false', 'off', 'n', 'no']);

/** true / false for an oslo boolean word (any case, spaces trimmed), undefined for anything else. */
export function osloBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

/** Lenient reading (strict=False): only a true word is true. */
export function isOsloTrue(value: string | undefined): boolean {
  return value !== undefined && osloBool(value) === true;
}

/**
 * Strict reading of an optional value: undefined stays undefined, a word that is not a boolean
 * is refused (a 400 at the API, an unsupported-config fault at the driver), naming `what`.
 */
export function strictOsloBool(value: string | undefined, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  const b = osloBool(value);
  if (b !== undefined) return b;
  throw new KestrelError('unsupported-config', `${what}=${value} is not a boolean.`, {
    fix: 'use true or false (yes/no, on/off, 1/0 also work)',
  });
}
