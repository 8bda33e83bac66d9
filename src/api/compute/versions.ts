// Compute version discovery (§2.1), unauthenticated, and microversion negotiation (§2.2).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KestrelError, badRequest } from '../../errors/index.js';
import { baseUrl } from '../common.js';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.1';

function v21(base: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2.1/` }],
  };
}
function v20(base: string) {
  return {
    id: 'v2.0',
    status: 'DEPRECATED',
    version: '',
    min_version: '',
    updated: '2025-07-04T12:00:00Z',
    links: [{ rel: 'self', href: `${base}/v2/` }],
  };
}

function detail(v: ReturnType<typeof v21>, mediaVersion: string) {
  return {
    version: {
      ...v,
      links: [...v.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [
        { base: 'application/json', type: `application/vnd.openstack.compute+json;version=${mediaVersion}` },
      ],
    },
  };
}

export function registerVersionRoutes(app: FastifyInstance): void {
  app.get('/', async (req) => {
    const b = baseUrl(req);
    return { versions: [v20(b), v21(b)] };
  });
  app.get('/v2.1', async (req) => detail(v21(baseUrl(req)), '2.1'));
  app.get('/v2', async (req) => detail(v20(baseUrl(req)), '2'));
}

export const isDiscovery = (req: FastifyRequest): boolean => {
  const path = req.url.split('?')[0].replace(/\/+$/, '');
  return path === '' || path === '/v2.1' || path === '/v2';
};

/**
 * Routes that exist from a microversion above the API-wide MAX_VERSION, with the highest one
 * each answers. A request for one of these versions is accepted on that route only; the route
 * checks its own minimum (atLeast). Folds into MAX_VERSION when the API as a whole moves past.
 */
export const ROUTE_MAX_VERSIONS: Record<string, string> = {
  '/v2.1/servers/:id/remote-consoles': '2.6',
};

const minor = (v: string): number => Number(v.split('.')[1]);

/** version ≥ min, both "2.N". */
export const atLeast = (version: string, min: string): boolean => minor(version) >= minor(min);

/** The requested microversion (new header wins over the legacy one); 406 outside [min, max]. */
export function negotiate(req: FastifyRequest): string {
  const routeMax = ROUTE_MAX_VERSIONS[req.routeOptions?.url ?? ''];
  const max = routeMax && minor(routeMax) > minor(MAX_VERSION) ? routeMax : MAX_VERSION;
  const modern = req.headers['openstack-api-version'];
  const legacy = req.headers['x-openstack-nova-api-version'];
  let requested: string | undefined;
  if (typeof modern === 'string') {
    const m = /(?:^|,)\s*compute\s+([^\s,]+)/i.exec(modern);
    if (m) requested = m[1];
  }
  if (requested === undefined && typeof legacy === 'string') requested = legacy.trim();
  if (requested === undefined) return MIN_VERSION;
  if (requested.toLowerCase() === 'latest') return max;
  const m = /^(\d+)\.(\d+)$/.exec(requested);
  if (!m) throw badRequest(`API version string ${requested} format is not valid; use 2.1.`);
  const [maj, min] = [Number(m[1]), Number(m[2])];
  if (maj !== 2 || min < 1 || min > minor(max)) {
    throw new KestrelError(
      'not-acceptable',
      `Version ${requested} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${max}.`,
    );
  }
  return requested;
}
