// Reading a Networking v2 request body the way Neutron validates it: the resource key must be
// there, unknown attributes are refused by name, each field has its type, and admin-only
// fields are refused for others — every refusal a 400/403 that names the field and the fix.
import { isIPv4 } from 'node:net';
import { invalidInput, notAuthorized } from './errors.js';

export type Body = Record<string, unknown>;

/** body[member] as an object whose keys are all in allowed (Neutron: "Unrecognized attribute(s)"). */
export function resourceBody(body: unknown, member: string, allowed: readonly string[]): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw invalidInput(`The request body must be a JSON object {"${member}": {...}}.`);
  const inner = (body as Body)[member];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner))
    throw invalidInput(`Resource body required: {"${member}": {...}}.`);
  const unknown = Object.keys(inner).filter((k) => !allowed.includes(k));
  if (unknown.length)
    throw invalidInput(
      `Unrecognized attribute(s) '${unknown.join(', ')}'. Allowed for ${member}: ${allowed.join(', ')}.`,
    );
  return inner as Body;
}

export function optString(b: Body, key: string, max = 255): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidInput(`Invalid input for ${key}: '${String(v)}' is not a string.`);
  if (v.length > max) throw invalidInput(`Invalid input for ${key}: longer than ${max} characters.`);
  return v;
}

/** A nullable string (Neutron lets gateway_ip, remote_ip_prefix … be null). */
export function optNullableString(b: Body, key: string): string | null | undefined {
  if (b[key] === null) return null;
  return optString(b, key);
}

export function optBool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  // Neutron's convert_to_boolean accepts these strings too.
  if (v === 'true' || v === 'True' || v === '1') return true;
  if (v === 'false' || v === 'False' || v === '0') return false;
  throw invalidInput(`Invalid input for ${key}: '${String(v)}' is not a boolean (true or false).`);
}

export function optInt(b: Body, key: string, min: number, max: number): number | null | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (v === null) return null;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw invalidInput(`Invalid input for ${key}: '${String(v)}' is not an integer from ${min} to ${max}.`);
  return n;
}

export function optList<T>(b: Body, key: string, item: (v: unknown, i: number) => T): T[] | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v)) throw invalidInput(`Invalid input for ${key}: expected a list.`);
  return v.map(item);
}

export function ipv4(key: string, v: unknown): string {
  if (typeof v !== 'string' || !isIPv4(v))
    throw invalidInput(`Invalid input for ${key}: '${String(v)}' is not a valid IPv4 address.`);
  return v;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function mac(key: string, v: unknown): string {
  if (typeof v !== 'string' || !MAC.test(v))
    throw invalidInput(`Invalid input for ${key}: '${String(v)}' is not a valid MAC address.`);
  const m = v.toLowerCase();
  const first = parseInt(m.slice(0, 2), 16);
  if (first & 1 || m === '00:00:00:00:00:00')
    throw invalidInput(`Invalid input for ${key}: '${v}' is a multicast or zero MAC address.`);
  return m;
}

/** Admin-only attributes (router:external, shared, binding:host_id …) refused for others. */
export function adminOnly(b: Body, isAdmin: boolean, keys: readonly string[]): void {
  if (isAdmin) return;
  const set = keys.filter((k) => b[k] !== undefined);
  if (set.length)
    throw notAuthorized(
      `(rule:create_${set[0]}) is disallowed by policy: only an admin may set ${set.join(', ')}.`,
    );
}
