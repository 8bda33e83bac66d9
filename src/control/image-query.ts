// The query parameters of GET /v2/images checked as Glance's RequestDeserializer checks them:
// a bad sort key or direction, a non-numeric or negative limit, an unknown visibility or
// member status, a non-boolean os_hidden, a malformed time filter and the v1-only
// changes-since are each a 400 that says what is accepted. Other parameters stay what Glance
// makes of them: filters on image properties.
import { badRequest } from '../errors/index.js';

/** Glance's _available_sort_keys. */
export const IMAGE_SORT_KEYS = [
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'id',
  'created_at',
  'updated_at',
] as const;
const VISIBILITIES = ['public', 'private', 'shared', 'community', 'all'];
const MEMBER_STATUSES = ['accepted', 'pending', 'rejected', 'all'];
const TIME_OPERATORS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const;
type TimeOperator = (typeof TIME_OPERATORS)[number];
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export type ImageQuery = Record<string, string | string[] | undefined>;

export interface TimeFilter {
  field: 'created_at' | 'updated_at';
  op: TimeOperator;
  at: number;
}

export interface ImageListOptions {
  sort: [string, 'asc' | 'desc'][];
  limit?: number;
  marker?: string;
  timeFilters: TimeFilter[];
}

/** The last value of a repeated parameter (what Glance's webob MultiDict.get gives). */
export const lastOf = (q: ImageQuery, k: string): string | undefined => {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
};

function sortKey(k: string): string {
  if (!(IMAGE_SORT_KEYS as readonly string[]).includes(k)) {
    throw badRequest(
      `Invalid sort key: ${k}. It must be one of the following: ${IMAGE_SORT_KEYS.join(', ')}.`,
    );
  }
  return k;
}

function sortDir(d: string): 'asc' | 'desc' {
  if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction: ${d}. Use asc or desc.`);
  return d;
}

function sortOf(q: ImageQuery): ImageListOptions['sort'] {
  const sort = lastOf(q, 'sort');
  const keys = q.sort_key === undefined ? [] : Array.isArray(q.sort_key) ? q.sort_key : [q.sort_key];
  const dirs = q.sort_dir === undefined ? [] : Array.isArray(q.sort_dir) ? q.sort_dir : [q.sort_dir];
  if (sort !== undefined) {
    if (keys.length || dirs.length)
      throw badRequest('The sort parameter cannot be combined with sort_key or sort_dir. Fix: use one form.');
    return sort.split(',').map((part) => {
      const [k, d, ...rest] = part.split(':');
      if (rest.length) throw badRequest(`Invalid sort parameter ${part}: use key or key:asc|desc.`);
      return [sortKey(k.trim()), d === undefined ? 'desc' : sortDir(d.trim())];
    });
  }
  if (dirs.length > Math.max(keys.length, 1))
    throw badRequest('There are more sort_dir than sort_key parameters. Fix: one sort_dir per sort_key.');
  if (keys.length === 0) return [['created_at', dirs.length ? sortDir(dirs[0]) : 'desc']];
  return keys.map((k, i) => [sortKey(k), sortDir(dirs[i] ?? dirs[0] ?? 'desc')]);
}

function timeFilter(field: TimeFilter['field'], v: string): TimeFilter {
  const m = /^(?:([a-z]+):)?(.*)$/.exec(v)!;
  const op = (m[1] ?? 'eq') as TimeOperator;
  const text = m[2];
  if (!TIME_OPERATORS.includes(op))
    throw badRequest(`Invalid operator ${op} for ${field}: use one of ${TIME_OPERATORS.join(', ')}.`);
  const at = Date.parse(text);
  if (!ISO_TIME.test(text) || Number.isNaN(at))
    throw badRequest(`Invalid time format for ${field}: ${text}. Fix: use ISO 8601 (2026-01-31T12:00:00Z).`);
  return { field, op, at };
}

export function compareTime(f: TimeFilter, iso: string): boolean {
  const t = Date.parse(iso);
  switch (f.op) {
    case 'gt':
      return t > f.at;
    case 'gte':
      return t >= f.at;
    case 'lt':
      return t < f.at;
    case 'lte':
      return t <= f.at;
    case 'eq':
      return t === f.at;
    case 'neq':
      return t !== f.at;
  }
}

/** Checks the query as Glance does and returns what list() needs; throws a 400 otherwise. */
export function parseImageListQuery(q: ImageQuery): ImageListOptions {
  if (q['changes-since'] !== undefined)
    throw badRequest(
      'The "changes-since" filter is no longer available on v2. Fix: use updated_at=gte:<time>.',
    );
  const vis = lastOf(q, 'visibility');
  if (vis !== undefined && !VISIBILITIES.includes(vis))
    throw badRequest(`Invalid visibility value: ${vis}. Use one of ${VISIBILITIES.join(', ')}.`);
  const member = lastOf(q, 'member_status');
  if (member !== undefined && !MEMBER_STATUSES.includes(member))
    throw badRequest(`Invalid status: ${member}. member_status is one of ${MEMBER_STATUSES.join(', ')}.`);
  const hidden = lastOf(q, 'os_hidden');
  if (hidden !== undefined && !['true', 'false'].includes(hidden.toLowerCase()))
    throw badRequest(`Invalid value for os_hidden: ${hidden}. Use true or false.`);
  for (const k of ['size_min', 'size_max']) {
    const v = lastOf(q, k);
    if (v !== undefined && !/^\d+$/.test(v)) throw badRequest(`${k} must be a whole number of bytes.`);
  }
  const rawLimit = lastOf(q, 'limit');
  let limit: number | undefined;
  if (rawLimit !== undefined) {
    if (!/^-?\d+$/.test(rawLimit)) throw badRequest(`limit param must be an integer (got ${rawLimit}).`);
    limit = Number(rawLimit);
    if (limit < 0) throw badRequest('limit param must be positive.');
  }
  const timeFilters: TimeFilter[] = [];
  for (const field of ['created_at', 'updated_at'] as const) {
    const v = lastOf(q, field);
    if (v !== undefined) timeFilters.push(timeFilter(field, v));
  }
  return { sort: sortOf(q), limit, marker: lastOf(q, 'marker'), timeFilters };
}
