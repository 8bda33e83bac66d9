// The one rule for text a user gives Kestrel to keep — names, descriptions, metadata and
// property keys and values, tags — used by every API (servers, flavors, images, projects, users).
// It follows Nova's parameter_types: a name is made of printable characters (no Unicode
// "other" category — control, format, surrogate, private use, unassigned — and no line or
// paragraph separator) and, where Nova refuses it, does not start or end with whitespace.
// Free text (descriptions, metadata values) may hold tabs and line breaks but no other
// control character. Invalid UTF-8 never gets this far: the body parsers refuse it
// (utf8Body below), where Node would otherwise turn it into U+FFFD without a word.
import { badRequest } from '../errors/index.js';

/** A character that a name may not contain (Nova's _is_printable, inverted). */
const NOT_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;
/** Controls that free text may not contain: C0 (but tab, LF, CR), DEL, C1, lone surrogates. */
const NOT_FREE_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\p{Cs}]/u;
/** Nova's server metadata and flavor extra-spec keys. */
const NOVA_METADATA_KEY = /^[a-zA-Z0-9\-_:. ]{1,255}$/;

function describeChar(s: string, re: RegExp): string | undefined {
  const m = re.exec(s);
  if (!m) return undefined;
  const cp = m[0].codePointAt(0)!;
  const at = [...s.slice(0, m.index)].length + 1;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} at character ${at}`;
}

function invalid(field: string, why: string, fix: string): never {
  throw badRequest(`Invalid input for field/attribute ${field}: ${why}. Fix: ${fix}.`);
}

export interface NameRule {
  /** Longest accepted length in characters (default 255). */
  max?: number;
  /** Leading or trailing whitespace: Nova refuses it (servers, flavors); Keystone and Glance do not. */
  edges?: 'refuse' | 'allow';
}

/** A name: a string of 1 to max printable characters that is not only whitespace. */
export function checkName(field: string, v: unknown, rule: NameRule = {}): string {
  const max = rule.max ?? 255;
  if (typeof v !== 'string') invalid(field, 'it must be a string', `send "${field}": "a name"`);
  if (v.length === 0 || v.length > max)
    invalid(field, `it must be 1 to ${max} characters long (it has ${v.length})`, 'shorten or fill it in');
  const bad = describeChar(v, NOT_PRINTABLE);
  if (bad)
    invalid(
      field,
      `it contains a character that is not printable (${bad})`,
      'use printable characters only (no control, format or private-use characters)',
    );
  if (v.trim() === '') invalid(field, 'it is only whitespace', 'give a name with visible characters');
  if ((rule.edges ?? 'refuse') === 'refuse' && v.trim() !== v)
    invalid(field, 'it starts or ends with whitespace', 'remove the leading and trailing spaces');
  return v;
}

/** Free text (a description, a metadata value): tabs and line breaks allowed, no other control. */
export function checkFreeText(field: string, v: unknown, max = 255): string {
  if (typeof v !== 'string') invalid(field, 'it must be a string', `send "${field}" as a JSON string`);
  if (v.length > max) invalid(field, `it is longer than ${max} characters (${v.length})`, 'shorten it');
  const bad = describeChar(v, NOT_FREE_TEXT);
  if (bad)
    invalid(field, `it contains a control character (${bad})`, 'remove control characters from the text');
  return v;
}

/** A key of server metadata or of flavor extra specs, as Nova's schema allows it. */
export function checkMetadataKey(field: string, k: string): string {
  if (!NOVA_METADATA_KEY.test(k)) {
    const shown = JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k);
    invalid(
      `${field} key ${shown}`,
      'keys are 1 to 255 of the characters a-z A-Z 0-9 - _ : . and space',
      'rename the key',
    );
  }
  return k;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The request body as text; invalid UTF-8 is a 400 rather than silently replaced characters. */
export function utf8Body(body: Buffer | string): string {
  if (typeof body === 'string') return body;
  try {
    return strictUtf8.decode(body);
  } catch {
    throw badRequest('The request body is not valid UTF-8. Fix: send JSON encoded as UTF-8 (RFC 8259 §8.1).');
  }
}
