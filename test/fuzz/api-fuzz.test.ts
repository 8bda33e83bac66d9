// API fuzzing: every route of the three APIs (enumerated from fastify's route tree) gets
// seeded, generated bad requests — wrong types, huge and deep bodies, bad JSON, wrong content
// types, odd ids and query strings, missing or bad tokens. Never a 500; every refusal is an
// OpenStack fault body in the API's own envelope.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uploadImage, type Harness } from '../api/harness.js';
import { seeded } from '../recovery/serve-process.js';
import { routesOf, type RouteInfo } from './routes.js';
import { rawRequest } from './raw-http.js';

type Api = 'identity' | 'compute' | 'image';
const HOST = 'kt-fuzz-host';
const SEED = Number(process.env.KESTREL_FUZZ_SEED ?? 20261129);
const CASES_PER_ROUTE = Number(process.env.KESTREL_FUZZ_CASES ?? 12);

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const IDS = [
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-4fff-bfff-ffffffffffff',
  'x',
  '-1',
  '0',
  '99999999999999999999999',
  '1e308',
  'null',
  'true',
  '%00',
  '%2e%2e%2f%2e%2e',
  '%E2%98%83',
  '%F0%9F%92%A5',
  "'%20OR%201=1--",
  'a'.repeat(300),
  'b'.repeat(5000),
  '%ZZ',
  '{}',
  '[]',
];

const SCALARS: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  ' ',
  'x',
  '\u0000',
  'm\u0000n',
  '\u0001\u007f',
  'a\u001b[31m',
  'a\u0085b',
  'a\ud800b',
  'abc\u202efdp.exe',
  ' padded ',
  '💥',
  'a'.repeat(70_000),
  '2026-13-45T99:99:99Z',
  '00000000-0000-0000-0000-000000000000',
  [],
  {},
  [null],
  [{}],
];

/** The resource key a body is usually wrapped in, guessed from the path. */
function wrapperKeys(path: string): string[] {
  const keys = new Set<string>(['auth', 'server', 'metadata', 'meta', 'flavor', 'extra_specs', 'keypair']);
  for (const seg of path.split('/')) {
    if (!seg || seg.startsWith(':')) continue;
    keys.add(seg);
    keys.add(seg.replace(/s$/, ''));
    keys.add(seg.replace(/^os-/, '').replace(/-/g, '_'));
  }
  for (const k of ['user', 'project', 'role', 'domain', 'group', 'image', 'name', 'password', 'identity'])
    keys.add(k);
  return [...keys];
}

const ACTION_NAMES = [
  'os-start',
  'os-stop',
  'reboot',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'createImage',
  'os-getConsoleOutput',
  'lock',
  'unlock',
  'os-resetState',
  'rebuild',
  'resize',
  'shelve',
  'unshelve',
  'rescue',
  'changePassword',
  'addFloatingIp',
  'createBackup',
  'migrate',
  'os-migrateLive',
  'evacuate',
  'trigger_crash_dump',
  'restore',
  'nonsense',
];

function randomValue(r: Rand, depth = 0): unknown {
  const k = r();
  if (depth > 3 || k < 0.5) return pick(r, SCALARS);
  if (k < 0.75) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(r() * 4); i++)
    o[pick(r, [...IDS.slice(0, 4), 'name', 'id', 'type'])] = randomValue(r, depth + 1);
  return o;
}

function deep(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

interface Case {
  payload?: string | Buffer;
  contentType?: string;
  query?: string;
  token?: 'admin' | 'member' | 'none' | 'bad';
  label: string;
}

function bodyCase(r: Rand, path: string, real: string[]): Case {
  const keys = wrapperKeys(path);
  const k = Math.floor(r() * 13);
  switch (k) {
    case 12: {
      // Invalid UTF-8 inside a JSON string: refused, never decoded to U+FFFD.
      const key = pick(r, keys);
      return {
        payload: Buffer.concat([
          Buffer.from(`{"${key}": {"name": "m`),
          Buffer.from([pick(r, [0xff, 0xc3, 0xed, 0xf8, 0x80])]),
          Buffer.from('n"}}'),
        ]),
        label: 'invalid UTF-8',
      };
    }
    case 0:
      return { payload: '{"unterminated": ', label: 'bad JSON' };
    case 1:
      return { payload: 'not json at all', contentType: 'text/plain', label: 'text/plain' };
    case 2:
      return {
        payload: Buffer.from([0xff, 0xfe, 0x00, 0x01]),
        contentType: 'application/octet-stream',
        label: 'bytes',
      };
    case 3:
      return { payload: JSON.stringify(deep(2000)), label: 'deep nesting' };
    case 4:
      return {
        payload: JSON.stringify({ [pick(r, keys)]: 'x'.repeat(2 * 1024 * 1024) }),
        label: 'oversized body',
      };
    case 5:
      return { payload: JSON.stringify(pick(r, SCALARS)), label: 'scalar body' };
    case 6:
      return { payload: '', contentType: 'application/json', label: 'empty body' };
    case 7: {
      const name = pick(r, ACTION_NAMES);
      return { payload: JSON.stringify({ [name]: randomValue(r) }), label: `action ${name}` };
    }
    case 8:
      return {
        payload: JSON.stringify([
          {
            op: pick(r, ['add', 'replace', 'remove', 'move', 'x']),
            path: pick(r, ['/name', '/', '', '/x/y', 5]),
            value: randomValue(r),
          },
        ]),
        contentType: pick(r, [
          'application/openstack-images-v2.1-json-patch',
          'application/json-patch+json',
          'application/json',
        ]),
        label: 'json patch',
      };
    default: {
      const key = pick(r, keys);
      const inner: Record<string, unknown> = {};
      for (let i = 0; i < 1 + Math.floor(r() * 5); i++) {
        inner[
          pick(r, [
            'name',
            'id',
            'imageRef',
            'flavorRef',
            'ram',
            'vcpus',
            'disk',
            'password',
            'min_count',
            'max_count',
            'metadata',
            'networks',
            'type',
            'length',
            'state',
            'visibility',
            'disk_format',
            'container_format',
            'domain',
            'identity',
            'methods',
            'scope',
            'public_key',
            'key_type',
            'enabled',
            'description',
          ])
        ] = randomValue(r);
      }
      // Half the time the references are real, so validation goes past the lookups.
      if (r() < 0.5)
        Object.assign(inner, { name: 'kt-fuzz', imageRef: real[1], flavorRef: '1' }, { ...inner });
      return {
        payload: JSON.stringify({ [key]: r() < 0.8 ? inner : randomValue(r) }),
        label: `wrapped ${key}`,
      };
    }
  }
}

const QUERIES = [
  'limit=-1',
  'limit=abc',
  'limit=99999999999999999999',
  'marker=x',
  'marker=00000000-0000-0000-0000-000000000000',
  'sort_key=%00&sort_dir=sideways',
  'changes-since=yesterday',
  'name=(%5B',
  'status=%F0%9F%92%A5',
  'all_tenants=maybe',
  'limit=1&limit=2&limit=x',
  'a[b][c]=1',
  'min_ram=-5&minDisk=z',
  'user_id=' + 'u'.repeat(3000),
];

describe('API fuzzing: no 500, always a fault body', { timeout: 600_000 }, () => {
  let h: Harness;
  const routes: Record<Api, RouteInfo[]> = { identity: [], compute: [], image: [] };
  const failures: string[] = [];
  let sent = 0;
  const statuses: Record<string, number> = {};
  /** Ids that exist (a server, its image, a flavor, a project): requests get past the lookups. */
  const real: string[] = [];

  before(async () => {
    h = await startHarness({ hostName: HOST });
    const image = await uploadImage(h, h.admin, 'kt-fuzz-img', undefined, { visibility: 'public' });
    const boot = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-fuzz-vm', imageRef: image, flavorRef: '1' } },
    });
    const serverId = (boot.body as { server: { id: string } }).server.id;
    await h.waitFor(h.member, serverId, (s) => s.status === 'ACTIVE');
    real.push(serverId, image, '1', h.memberProjectId, 'default', 'admin', 'member');
    // Two failed servers of the member, whose faults must not show hosts, capacities or XML:
    // one that no host can hold, one whose build fails inside "libvirt".
    const huge = await h.call('compute', 'POST', '/v2.1/flavors', {
      token: h.admin,
      body: { flavor: { name: 'kt-fuzz-huge', ram: 1_000_000_000, vcpus: 1, disk: 1, id: 'kt-fuzz-huge' } },
    });
    assert.equal(huge.status, 200, huge.text);
    const spawn = h.driver.spawn.bind(h.driver);
    h.driver.spawn = async () => {
      throw new Error(`virDomainDefineXMLFlags: XML error: Premature end of data <kestrel:name>x on ${HOST}`);
    };
    for (const flavorRef of ['kt-fuzz-huge', '1']) {
      const failed = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'kt-fuzz-failed', imageRef: image, flavorRef } },
      });
      const id = (failed.body as { server: { id: string } }).server.id;
      await h.waitFor(h.member, id, (s) => s.status === 'ERROR');
    }
    h.driver.spawn = spawn;
    for (const api of ['identity', 'compute', 'image'] as Api[])
      routes[api] = await routesOf(h.core.apps[api]);
  });
  after(() => h?.close());

  test('the route tree was read (every API has routes)', () => {
    for (const api of ['identity', 'compute', 'image'] as Api[]) {
      assert.ok(routes[api].length > 3, `${api}: ${routes[api].length} routes`);
    }
    assert.ok(routes.compute.some((r) => r.path.includes('/servers/:')));
  });

  function checkFault(api: Api, status: number, text: string): string | undefined {
    if (status >= 500 && status !== 501 && status !== 503) return `status ${status}`;
    if (status < 400) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `status ${status} with a non-JSON body: ${text.slice(0, 120)}`;
    }
    const o = body as Record<string, unknown>;
    if (api === 'identity') {
      const e = o.error as { code?: unknown; message?: unknown } | undefined;
      if (!e || e.code !== status || typeof e.message !== 'string')
        return `not a Keystone error body: ${text.slice(0, 200)}`;
      return undefined;
    }
    if (api === 'image') {
      if (typeof o.message !== 'string' || typeof o.code !== 'string' || !o.code.startsWith(String(status)))
        return `not a Glance error body: ${text.slice(0, 200)}`;
      return undefined;
    }
    const keys = Object.keys(o);
    const inner = o[keys[0]] as { code?: unknown; message?: unknown } | undefined;
    if (keys.length !== 1 || !inner || inner.code !== status || typeof inner.message !== 'string')
      return `not a Nova fault body: ${text.slice(0, 200)}`;
    return undefined;
  }

  for (const api of ['identity', 'compute', 'image'] as Api[]) {
    test(`${api}: every route, every method, ${CASES_PER_ROUTE} generated cases each`, async (t) => {
      const r = seeded(SEED + api.length);
      for (const route of routes[api]) {
        for (const method of route.methods.filter((m) => m !== 'HEAD' && m !== 'OPTIONS')) {
          for (let i = 0; i < CASES_PER_ROUTE; i++) {
            const url = route.path
              .replace(/:[A-Za-z_]+(?:\|:[A-Za-z_]+)*/g, () =>
                method !== 'DELETE' && r() < 0.4 ? pick(r, real) : pick(r, IDS),
              )
              .replace(/\*$/, () => pick(r, IDS));
            const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
            const c: Case = hasBody ? bodyCase(r, route.path, real) : { label: 'no body' };
            if (r() < 0.4) c.query = pick(r, QUERIES);
            const tk = r();
            c.token = tk < 0.7 ? 'admin' : tk < 0.85 ? 'member' : tk < 0.95 ? 'none' : 'bad';
            const headers: Record<string, string> = {};
            const token =
              c.token === 'admin'
                ? h.admin
                : c.token === 'member'
                  ? h.member
                  : c.token === 'bad'
                    ? 'gAAAA' + 'x'.repeat(200)
                    : undefined;
            if (token) headers['x-auth-token'] = token;
            if (c.payload !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
            if (r() < 0.1)
              headers['openstack-api-version'] = pick(r, [
                'compute 2.999',
                'compute x',
                'compute 2.1',
                'volume 3.0',
                '',
              ]);
            if (r() < 0.05) headers['x-openstack-nova-api-version'] = pick(r, ['2.1000', 'latest', 'abc']);
            const fullUrl = c.query ? `${url}?${c.query}` : url;
            sent++;
            let res;
            try {
              res = await h.core.apps[api].inject({
                method: method as 'GET',
                url: fullUrl,
                headers,
                payload: c.payload,
              });
            } catch (e) {
              failures.push(`${api} ${method} ${fullUrl} [${c.label}]: inject threw ${(e as Error).message}`);
              continue;
            }
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            const bad = checkFault(api, res.statusCode, res.body);
            if (bad)
              failures.push(
                `${api} ${method} ${route.path} → ${fullUrl.slice(0, 100)} [${c.label}, token ${c.token}]: ${bad.slice(0, 220)}`,
              );
          }
        }
      }
      t.diagnostic(`${api}: ${routes[api].length} routes`);
    });
  }

  /** Seeded malformed HTTP/1.1 requests: request lines, header bytes, lengths, sizes. */
  function rawCase(r: Rand, token: string): { label: string; data: string | Buffer } {
    const path = pick(r, ['/', '/v2.1/servers', '/v2/images', '/v3/auth/tokens', '/x']);
    const k = Math.floor(r() * 8);
    switch (k) {
      case 0: {
        const junk = Buffer.from(
          Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * 256)),
        );
        return { label: 'random bytes', data: Buffer.concat([junk, Buffer.from('\r\n\r\n')]) };
      }
      case 1:
        return {
          label: 'bad request line',
          data: `${pick(r, ['GE T', 'GET\u0001', '', 'G'.repeat(100)])} ${path} ${pick(r, ['HTTP/9', 'HTTP/1.1 x', 'FTP/1.0', ''])}\r\n\r\n`,
        };
      case 2:
        return {
          label: 'bad Content-Length',
          data: `POST ${path} HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: ${pick(r, ['-1', '1e3', '0x10', 'abc', '2, 3', '99999999999999999999'])}\r\n\r\n{}`,
        };
      case 3:
        return {
          label: 'CL + TE',
          data: `POST ${path} HTTP/1.1\r\nHost: k\r\nContent-Length: 4\r\nTransfer-Encoding: ${pick(r, ['chunked', 'chunked, identity', 'gzip', 'x'])}\r\n\r\n0\r\n\r\n`,
        };
      case 4:
        return {
          label: 'control character in a header',
          data: `GET ${path} HTTP/1.1\r\nHost: k\r\nX-Auth-Token: ${token}\r\n${pick(r, ['Content-Type', 'X-Bad\u0001', 'X\u0000'])}: ${pick(r, ['a\u0001b', ';;;\u0000', 'x'])}\r\n\r\n`,
        };
      case 5:
        return {
          label: 'oversized header',
          data: `GET ${path} HTTP/1.1\r\nHost: k\r\nX-Big: ${'a'.repeat(pick(r, [17, 64, 200]) * 1024)}\r\n\r\n`,
        };
      case 6:
        return {
          label: 'bad chunked body',
          data: `POST ${path} HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${pick(r, ['zz', '-1', 'ffffffffffffffff'])}\r\n{}\r\n0\r\n\r\n`,
        };
      default:
        return {
          label: 'garbage Content-Type',
          data: `POST ${path} HTTP/1.1\r\nHost: k\r\nX-Auth-Token: ${token}\r\nContent-Type: ${pick(r, ['garbage', ';;;', 'application/json; charset=klingon', '*/*', 'multipart/form-data'])}\r\nContent-Length: 2\r\n\r\n{}`,
        };
    }
  }

  test("protocol level (raw sockets): malformed HTTP gets the API's own fault envelope", async (t) => {
    const r = seeded(SEED + 7);
    for (const api of ['identity', 'compute', 'image'] as Api[]) {
      await h.core.apps[api].listen({ host: '127.0.0.1', port: 0 });
      const port = (h.core.apps[api].server.address() as { port: number }).port;
      for (let i = 0; i < CASES_PER_ROUTE * 3; i++) {
        const c = rawCase(r, h.member);
        sent++;
        const res = await rawRequest(port, c.data);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const bad = res.status === 0 ? 'no answer at all' : checkFault(api, res.status, res.text);
        if (bad) failures.push(`${api} raw [${c.label}]: ${bad.slice(0, 220)}`);
      }
    }
    t.diagnostic(`raw requests sent to each API: ${CASES_PER_ROUTE * 3}`);
  });

  test('no fault a member can read names a host, a capacity or a piece of XML', async () => {
    const detail = await h.call('compute', 'GET', '/v2.1/servers/detail', { token: h.member });
    const servers = (detail.body as { servers: { id: string; fault?: unknown }[] }).servers;
    const failed = servers.filter((s) => s.fault !== undefined);
    assert.ok(failed.length >= 2, `the member has failed servers: ${detail.text.slice(0, 300)}`);
    const texts = [detail.text];
    for (const s of servers) {
      texts.push((await h.call('compute', 'GET', `/v2.1/servers/${s.id}`, { token: h.member })).text);
      const actions = await h.call('compute', 'GET', `/v2.1/servers/${s.id}/os-instance-actions`, {
        token: h.member,
      });
      texts.push(actions.text);
      for (const a of (actions.body as { instanceActions: { request_id: string }[] }).instanceActions) {
        const one = await h.call(
          'compute',
          'GET',
          `/v2.1/servers/${s.id}/os-instance-actions/${a.request_id}`,
          { token: h.member },
        );
        texts.push(one.text);
      }
    }
    for (const text of texts) {
      assert.doesNotMatch(text, new RegExp(HOST), 'no host name');
      assert.doesNotMatch(text, /<[a-z:]+>|Premature end|MEMORY_MB|1000000000/i, 'no XML, no capacity');
    }
  });

  test('no request got a 500 or a body outside the fault envelope', (t) => {
    t.diagnostic(
      `FUZZ ${JSON.stringify({ seed: SEED, requests: sent, failures: failures.length, statuses })}`,
    );
    // One line per distinct problem (route, method and the first words of what was wrong).
    const distinct = new Map<string, string>();
    for (const f of failures) distinct.set(f.replace(/ → .*?\]: /, ' ').slice(0, 140), f);
    assert.deepEqual([...distinct.values()].slice(0, 30), [], `${failures.length} bad answers of ${sent}`);
  });
});
