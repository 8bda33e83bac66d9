// Networking v2 views: the stored documents with tenant_id beside project_id (older clients
// read it), filtered by the query the way Neutron filters lists (any field, repeated values
// are alternatives) and trimmed to `fields=` when asked.
import type { FastifyRequest } from 'fastify';
import { queryOf } from '../common.js';

const NOT_FILTERS = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse', 'verbose']);

export function withTenant<T extends { project_id?: string }>(doc: T): T & { tenant_id?: string } {
  return doc.project_id === undefined ? doc : { ...doc, tenant_id: doc.project_id };
}

function matches(value: unknown, wanted: string[]): boolean {
  if (Array.isArray(value)) return value.some((v) => matches(v, wanted));
  if (value === null || value === undefined) return wanted.includes('') || wanted.includes('None');
  if (typeof value === 'boolean') return wanted.some((w) => w.toLowerCase() === String(value));
  if (typeof value === 'object') return false;
  return wanted.includes(String(value));
}

/** Neutron's list: filters on any field, `fields=` to pick fields. */
export function listView<T extends Record<string, unknown>>(
  req: FastifyRequest,
  docs: T[],
): Record<string, unknown>[] {
  const q = queryOf(req);
  let out = docs.map((d) => withTenant(d) as Record<string, unknown>);
  for (const [k, raw] of Object.entries(q)) {
    if (NOT_FILTERS.has(k) || raw === undefined) continue;
    const wanted = Array.isArray(raw) ? raw : [raw];
    if (k === 'fixed_ips') {
      // ?fixed_ips=ip_address=10.0.0.5 or subnet_id=…
      out = out.filter((d) =>
        wanted.every((w) => {
          const [fk, fv] = w.split('=', 2);
          return ((d.fixed_ips as Record<string, string>[] | undefined) ?? []).some((f) => f[fk] === fv);
        }),
      );
      continue;
    }
    out = out.filter((d) => k in d && matches(d[k], wanted));
  }
  return out.map((d) => pickFields(req, d));
}

export function pickFields(req: FastifyRequest, doc: Record<string, unknown>): Record<string, unknown> {
  const f = queryOf(req).fields;
  if (!f) return doc;
  const keep = new Set((Array.isArray(f) ? f : [f]).flatMap((x) => x.split(',')));
  return Object.fromEntries(Object.entries(doc).filter(([k]) => keep.has(k)));
}
