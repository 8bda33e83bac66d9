// /flavors, extra specs and flavor access (§2.5).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { FlavorService } from '../../control/flavors.js';
import { badRequest, notFound } from '../../errors/index.js';
import { baseUrl, need, queryOf } from '../common.js';
import { flavorBrief, flavorFull } from './views.js';
import { osloBool } from '../../rules/boolean.js';

const U = Type.Unknown();
const FlavorCreate = Type.Object(
  {
    flavor: Type.Object(
      {
        name: Type.String(),
        ram: U,
        vcpus: U,
        disk: U,
        id: Type.Optional(Type.Union([Type.String(), Type.Null(), Type.Integer()])),
        'OS-FLV-EXT-DATA:ephemeral': Type.Optional(U),
        swap: Type.Optional(U),
        rxtx_factor: Type.Optional(U),
        'os-flavor-access:is_public': Type.Optional(U),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const ExtraSpecs = Type.Object(
  { extra_specs: Type.Record(Type.String(), U) },
  { additionalProperties: false },
);

const intOf = (v: unknown, what: string): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw badRequest(
      `Invalid input for field/attribute ${what}: ${JSON.stringify(v)} is not a whole number.`,
    );
  return n;
};

function boolParam(v: string | undefined): boolean | null | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'none') return null;
  if (['true', 't', '1', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', 'f', '0', 'no', 'n', 'off'].includes(s)) return false;
  throw badRequest(`is_public must be true, false or none, not ${v}.`);
}

export function registerFlavorRoutes(app: FastifyInstance, flavors: FlavorService): void {
  const list = async (req: import('fastify').FastifyRequest, detail: boolean) => {
    const ctx = need(req);
    const q = queryOf(req);
    const one = (k: string) => {
      const v = q[k];
      return Array.isArray(v) ? v[v.length - 1] : v;
    };
    const num = (k: string) => {
      const v = one(k);
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw badRequest(`Invalid ${k} value: ${v} is not a whole number ≥ 0.`);
      return Number(v);
    };
    const dir = one('sort_dir');
    if (dir !== undefined && dir !== 'asc' && dir !== 'desc')
      throw badRequest('sort_dir must be asc or desc.');
    const limit = num('limit');
    const result = await flavors.list(ctx, {
      isPublic: boolParam(one('is_public')),
      minDisk: num('minDisk'),
      minRam: num('minRam'),
      limit,
      marker: one('marker'),
      sortKey: one('sort_key'),
      sortDir: dir as 'asc' | 'desc' | undefined,
    });
    const b = baseUrl(req);
    const body: Record<string, unknown> = {
      flavors: result.map((f) => (detail ? flavorFull(b, f) : flavorBrief(b, f))),
    };
    if (limit !== undefined && result.length === limit && result.length > 0) {
      const last = result[result.length - 1].id;
      body.flavors_links = [
        {
          rel: 'next',
          href: `${b}/v2.1/flavors${detail ? '/detail' : ''}?limit=${limit}&marker=${encodeURIComponent(last)}`,
        },
      ];
    }
    return body;
  };
  app.get('/v2.1/flavors', (req) => list(req, false));
  app.get('/v2.1/flavors/detail', (req) => list(req, true));
  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req) => ({
    flavor: flavorFull(baseUrl(req), await flavors.get(need(req), req.params.id)),
  }));
  app.post('/v2.1/flavors', { schema: { body: FlavorCreate } }, async (req) => {
    const f = (req.body as { flavor: Record<string, unknown> }).flavor;
    // Nova's parameter_types.boolean: true/false or a boolean word ("True", "false", "1", "on" …).
    const rawPublic = f['os-flavor-access:is_public'];
    const isPublic = typeof rawPublic === 'string' ? osloBool(rawPublic) : rawPublic;
    if (rawPublic !== undefined && typeof isPublic !== 'boolean') {
      throw badRequest(
        `os-flavor-access:is_public must be a boolean (true, false, "True", "false", "1", "0", "yes", "no", "on", "off"), not ${JSON.stringify(rawPublic)}.`,
      );
    }
    const rx = f.rxtx_factor;
    if (rx !== undefined && (typeof rx !== 'number' || !(rx > 0)))
      throw badRequest('rxtx_factor must be a number > 0.');
    const created = await flavors.create(need(req), {
      name: f.name as string,
      ram: intOf(f.ram, 'ram') ?? NaN,
      vcpus: intOf(f.vcpus, 'vcpus') ?? NaN,
      disk: intOf(f.disk, 'disk') ?? NaN,
      id: f.id === undefined || f.id === null ? null : String(f.id),
      ephemeral: intOf(f['OS-FLV-EXT-DATA:ephemeral'], 'OS-FLV-EXT-DATA:ephemeral'),
      swap: intOf(f.swap, 'swap'),
      rxtxFactor: rx as number | undefined,
      isPublic: isPublic as boolean | undefined,
    });
    return { flavor: flavorFull(baseUrl(req), created) };
  });
  app.delete<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req, reply) => {
    await flavors.delete(need(req), req.params.id);
    return reply.code(202).send();
  });
  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id/os-extra_specs', async (req) => ({
    extra_specs: await flavors.extraSpecs(need(req), req.params.id),
  }));
  app.post<{ Params: { id: string } }>(
    '/v2.1/flavors/:id/os-extra_specs',
    { schema: { body: ExtraSpecs } },
    async (req) => {
      const specs = (req.body as { extra_specs: Record<string, unknown> }).extra_specs;
      return { extra_specs: await flavors.setExtraSpecs(need(req), req.params.id, specs) };
    },
  );
  app.get<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req) => {
    const specs = await flavors.extraSpecs(need(req), req.params.id);
    if (!(req.params.key in specs)) {
      throw notFound(`Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
    }
    return { [req.params.key]: specs[req.params.key] };
  });
  app.put<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Object.keys(body).length !== 1 || !(req.params.key in body)) {
      throw badRequest(
        `The body must be {"${req.params.key}": "<value>"}: exactly one key, the same as in the URL.`,
      );
    }
    const set = await flavors.setExtraSpecs(need(req), req.params.id, body);
    return { [req.params.key]: set[req.params.key] };
  });
  app.delete<{ Params: { id: string; key: string } }>(
    '/v2.1/flavors/:id/os-extra_specs/:key',
    async (req, reply) => {
      await flavors.deleteExtraSpec(need(req), req.params.id, req.params.key);
      return reply.code(200).send();
    },
  );
  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id/os-flavor-access', async (req) => ({
    flavor_access: (await flavors.access(need(req), req.params.id)).map((p) => ({
      flavor_id: req.params.id,
      tenant_id: p,
    })),
  }));
  app.post<{ Params: { id: string } }>('/v2.1/flavors/:id/action', async (req) => {
    const body = (req.body ?? {}) as Record<string, { tenant?: unknown } | undefined>;
    const add = body.addTenantAccess;
    const remove = body.removeTenantAccess;
    const arg = add ?? remove;
    if (!arg || typeof arg.tenant !== 'string' || Object.keys(body).length !== 1) {
      throw badRequest(
        'The body must be {"addTenantAccess": {"tenant": ID}} or {"removeTenantAccess": {"tenant": ID}}.',
      );
    }
    const list = await flavors.addAccess(need(req), req.params.id, arg.tenant, add !== undefined);
    return { flavor_access: list.map((p) => ({ flavor_id: req.params.id, tenant_id: p })) };
  });
}
