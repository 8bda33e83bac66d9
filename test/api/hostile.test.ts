// What a hostile user tried, one test per finding with the exact request: control characters
// and invalid UTF-8 in names (every API that stores a name), another user's token, faults that
// told members about hosts and libvirt, protocol errors outside the OpenStack envelope, and
// image list parameters that Glance refuses.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uploadImage, type Harness, type Reply } from './harness.js';
import { rawRequest } from '../fuzz/raw-http.js';

type Api = 'identity' | 'compute' | 'image';

/** The message of a fault body of any of the three envelopes. */
function faultMessage(api: Api, body: unknown): string {
  const o = body as Record<string, unknown>;
  if (api === 'identity') return String((o.error as { message?: unknown }).message);
  if (api === 'image') return String(o.message);
  return String((Object.values(o)[0] as { message?: unknown }).message);
}

function assertRefused(api: Api, r: Reply, field: RegExp, label: string): void {
  assert.equal(r.status, 400, `${label}: ${r.status} ${r.text}`);
  const m = faultMessage(api, r.body);
  assert.match(m, field, `${label}: the message names the field: ${m}`);
}

/** Each class of character a name may not hold; `control`: free text (values) may not either. */
const BAD_NAMES: [string, string, { control: boolean }][] = [
  ['NUL', 'm\u0000n', { control: true }],
  ['SOH and DEL', '\u0001\u007f', { control: true }],
  ['escape', 'a\u001b[31mred', { control: true }],
  ['line break', 'two\nlines', { control: false }],
  ['C1 control', 'a\u0085b', { control: true }],
  ['lone surrogate', 'a\ud800b', { control: true }],
  ['bidi override', 'abc\u202efdp.exe', { control: false }],
  ['zero width space', 'a\u200bb', { control: false }],
  ['line separator', 'a\u2028b', { control: false }],
  ['private use', 'a\ue000b', { control: false }],
];

describe('hostile input: names, descriptions, metadata (one rule for every API)', () => {
  let h: Harness;
  let image: string;
  let server: string;
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-hostile-' });
    image = await uploadImage(h, h.admin, 'kt-hostile-img', undefined, { visibility: 'public' });
    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-hostile-vm', imageRef: image, flavorRef: '1' } },
    });
    server = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.member, server, (s) => s.status === 'ACTIVE');
  });
  after(() => h?.close());

  test('POST /servers with name "m\\u0000n" (the finding): 400 naming the field, nothing built', async () => {
    const r = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'm\u0000n', imageRef: image, flavorRef: '1' } },
    });
    assertRefused('compute', r, /field\/attribute name: .*not printable \(U\+0000 at character 2\)/, 'NUL');
    assert.deepEqual(Object.keys(r.body as object), ['badRequest']);
    const list = await h.call('compute', 'GET', '/v2.1/servers', { token: h.member });
    assert.equal((list.body as { servers: unknown[] }).servers.length, 1, 'no server was created');
  });

  test('every non-printable class is refused in every place a name is stored', async () => {
    for (const [label, bad, { control }] of BAD_NAMES) {
      const cases: [Api, string, string, unknown, string, RegExp][] = [
        [
          'compute',
          'POST',
          '/v2.1/servers',
          { server: { name: bad, imageRef: image, flavorRef: '1' } },
          h.member,
          /attribute name:/,
        ],
        ['compute', 'PUT', `/v2.1/servers/${server}`, { server: { name: bad } }, h.member, /attribute name:/],
        [
          'compute',
          'POST',
          `/v2.1/servers/${server}/action`,
          { rebuild: { imageRef: image, name: bad } },
          h.member,
          /attribute name:/,
        ],
        [
          'compute',
          'POST',
          `/v2.1/servers/${server}/action`,
          { createImage: { name: bad } },
          h.member,
          /createImage\.name/,
        ],
        [
          'compute',
          'POST',
          '/v2.1/flavors',
          { flavor: { name: bad, ram: 64, vcpus: 1, disk: 1 } },
          h.admin,
          /attribute name:/,
        ],
        [
          'compute',
          'POST',
          `/v2.1/servers/${server}/metadata`,
          { metadata: { [`k${bad}`]: 'v' } },
          h.member,
          /metadata key/,
        ],
        [
          'compute',
          'POST',
          '/v2.1/flavors/1/os-extra_specs',
          { extra_specs: { [`k${bad}`]: 'v' } },
          h.admin,
          /extra_specs key/,
        ],
        [
          'image',
          'POST',
          '/v2/images',
          { name: bad, disk_format: 'raw', container_format: 'bare' },
          h.member,
          /attribute name:/,
        ],
        ['image', 'POST', '/v2/images', { name: 'ok', [`p${bad}`]: 'v' }, h.member, /property name/],
        ['image', 'POST', '/v2/images', { name: 'ok', tags: [bad] }, h.member, /attribute tags/],
        ['identity', 'POST', '/v3/projects', { project: { name: bad } }, h.admin, /project\.name/],
        ['identity', 'POST', '/v3/users', { user: { name: bad, password: 'x' } }, h.admin, /user\.name/],
      ];
      if (control) {
        cases.push(
          [
            'compute',
            'POST',
            `/v2.1/servers/${server}/metadata`,
            { metadata: { k: bad } },
            h.member,
            /metadata\.k/,
          ],
          ['image', 'POST', '/v2/images', { name: 'ok', p: bad }, h.member, /property p/],
          [
            'identity',
            'POST',
            '/v3/projects',
            { project: { name: 'kt-p', description: bad } },
            h.admin,
            /project\.description/,
          ],
        );
      }
      for (const [api, method, url, body, token, field] of cases) {
        const r = await h.call(api, method, url, { token, body });
        assertRefused(api, r, field, `${label}: ${method} ${url}`);
      }
      const patch = await h.call('image', 'PATCH', `/v2/images/${image}`, {
        token: h.admin,
        payload: JSON.stringify([{ op: 'replace', path: '/name', value: bad }]),
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      });
      assertRefused('image', patch, /attribute name:/, `${label}: image PATCH`);
    }
    const shown = await h.call('compute', 'GET', `/v2.1/servers/${server}`, { token: h.member });
    assert.equal(
      (shown.body as { server: { name: string } }).server.name,
      'kt-hostile-vm',
      'nothing was renamed',
    );
  });

  test('free text: line breaks and tabs allowed in descriptions and metadata values, controls not', async () => {
    const ok = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'kt-hostile-p', description: 'line one\n\tline two' } },
    });
    assert.equal(ok.status, 201, ok.text);
    const bad = await h.call('identity', 'POST', '/v3/projects', {
      token: h.admin,
      body: { project: { name: 'kt-hostile-q', description: 'a\u0000b' } },
    });
    assertRefused(
      'identity',
      bad,
      /project\.description: it contains a control character \(U\+0000/,
      'description',
    );
    const meta = await h.call('compute', 'POST', `/v2.1/servers/${server}/metadata`, {
      token: h.member,
      body: { metadata: { note: 'multi\nline', 'a.b:c-d_e f': 'x' } },
    });
    assert.equal(meta.status, 200, meta.text);
  });

  test('leading or trailing whitespace: refused where Nova refuses it (servers, flavors), kept elsewhere', async () => {
    const padded = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: ' padded ', imageRef: image, flavorRef: '1' } },
    });
    assertRefused('compute', padded, /starts or ends with whitespace/, 'server name');
    const flavor = await h.call('compute', 'POST', '/v2.1/flavors', {
      token: h.admin,
      body: { flavor: { name: 'kt.pad ', ram: 64, vcpus: 1, disk: 1 } },
    });
    assertRefused('compute', flavor, /starts or ends with whitespace/, 'flavor name');
    const spaced = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'spaces in the middle', imageRef: image, flavorRef: '1' } },
    });
    assert.equal(spaced.status, 202, spaced.text);
    const img = await h.call('image', 'POST', '/v2/images', {
      token: h.member,
      body: { name: ' glance keeps spaces ' },
    });
    assert.equal(img.status, 201, img.text);
    const unicode = await h.call('compute', 'PUT', `/v2.1/servers/${server}`, {
      token: h.member,
      body: { server: { name: 'serveur-é-中文-💥' } },
    });
    assert.equal(unicode.status, 200, unicode.text);
  });

  test('invalid UTF-8 in a body is a 400 on every API, never turned into U+FFFD', async () => {
    const bytes = (json: string) =>
      Buffer.concat([
        Buffer.from(json.split('@')[0]),
        Buffer.from([0xff, 0xc3]),
        Buffer.from(json.split('@')[1]),
      ]);
    const cases: [Api, string, string, Buffer, string][] = [
      [
        'compute',
        'POST',
        '/v2.1/servers',
        bytes(`{"server": {"name": "m@n", "imageRef": "${image}", "flavorRef": "1"}}`),
        h.member,
      ],
      ['image', 'POST', '/v2/images', bytes('{"name": "m@n"}'), h.member],
      ['identity', 'POST', '/v3/projects', bytes('{"project": {"name": "m@n"}}'), h.admin],
    ];
    for (const [api, method, url, payload, token] of cases) {
      const r = await h.call(api, method, url, {
        token,
        payload,
        headers: { 'content-type': 'application/json' },
      });
      assertRefused(api, r, /not valid UTF-8/, `${api} ${url}`);
    }
    const patch = await h.call('image', 'PATCH', `/v2/images/${image}`, {
      token: h.admin,
      payload: bytes('[{"op": "replace", "path": "/name", "value": "m@n"}]'),
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    });
    assertRefused('image', patch, /not valid UTF-8/, 'image PATCH');
  });
});

describe("hostile input: another user's token (Keystone's validate/revoke policy)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-hostile-' });
  });
  after(() => h?.close());

  test('GET, HEAD and DELETE /v3/auth/tokens with X-Subject-Token of another user: 403, the token lives on', async () => {
    for (const method of ['GET', 'HEAD', 'DELETE']) {
      const r = await h.call('identity', method, '/v3/auth/tokens', {
        token: h.member,
        headers: { 'x-subject-token': h.other },
      });
      assert.equal(r.status, 403, `${method}: ${r.status} ${r.text}`);
      if (method !== 'HEAD') {
        assert.match(faultMessage('identity', r.body), /identity:(validate|revoke)_token/);
        assert.doesNotMatch(r.text, /bob|other/, 'nothing of the other token is shown');
      }
    }
    const still = await h.call('compute', 'GET', '/v2.1/servers', { token: h.other });
    assert.equal(still.status, 200, "the other user's token was not revoked");
  });

  test("the token's own user and an admin may inspect it; an unknown token is 404", async () => {
    const own = await h.call('identity', 'GET', '/v3/auth/tokens', {
      token: h.other,
      headers: { 'x-subject-token': h.other },
    });
    assert.equal(own.status, 200, own.text);
    assert.equal((own.body as { token: { user: { name: string } } }).token.user.name, 'bob');
    const admin = await h.call('identity', 'HEAD', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': h.other },
    });
    assert.equal(admin.status, 200);
    const unknown = await h.call('identity', 'GET', '/v3/auth/tokens', {
      token: h.member,
      headers: { 'x-subject-token': 'gAAAAnot-a-token' },
    });
    assert.equal(unknown.status, 404, unknown.text);
  });

  test("the token's own user may revoke it; an admin may revoke anyone's", async () => {
    const login = async () => {
      const r = await h.call('identity', 'POST', '/v3/auth/tokens', {
        body: {
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'bob', domain: { name: 'Default' }, password: 'bobpw' } },
            },
            scope: { project: { name: 'other', domain: { id: 'default' } } },
          },
        },
      });
      return String(r.headers['x-subject-token']);
    };
    const mine = await login();
    const self = await h.call('identity', 'DELETE', '/v3/auth/tokens', {
      token: mine,
      headers: { 'x-subject-token': mine },
    });
    assert.equal(self.status, 204, self.text);
    const theirs = await login();
    const byAdmin = await h.call('identity', 'DELETE', '/v3/auth/tokens', {
      token: h.admin,
      headers: { 'x-subject-token': theirs },
    });
    assert.equal(byAdmin.status, 204, byAdmin.text);
    assert.equal((await h.call('compute', 'GET', '/v2.1/servers', { token: theirs })).status, 401);
  });
});

describe('hostile input: faults tell members what Nova tells them', () => {
  let h: Harness;
  let image: string;
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-hostile-', hostName: 'kt-secret-host' });
    image = await uploadImage(h, h.admin, 'kt-hostile-img', undefined, { visibility: 'public' });
    const f = await h.call('compute', 'POST', '/v2.1/flavors', {
      token: h.admin,
      body: { flavor: { name: 'kt.hostile.huge', ram: 1_000_000_000, vcpus: 1, disk: 1, id: 'kt-huge' } },
    });
    assert.equal(f.status, 200, f.text);
  });
  after(() => h?.close());

  test("no valid host: the member reads Nova's message, no host name or capacity; the admin gets details", async () => {
    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-too-big', imageRef: image, flavorRef: 'kt-huge' } },
    });
    assert.equal(c.status, 202, c.text);
    const id = (c.body as { server: { id: string } }).server.id;
    const s = await h.waitFor(h.member, id, (x) => x.status === 'ERROR');
    const fault = s.fault as Record<string, unknown>;
    assert.equal(fault.message, 'No valid host was found. There are not enough hosts available.');
    assert.equal(fault.details, undefined);
    assert.doesNotMatch(JSON.stringify(s), /kt-secret-host|MEMORY_MB|1000000000/);
    const asAdmin = await h.waitFor(h.admin, id, (x) => x.status === 'ERROR');
    assert.match(
      String((asAdmin.fault as { details: string }).details),
      /kt-secret-host: MEMORY_MB: 1000000000 requested/,
    );
    const events = await h.call('compute', 'GET', `/v2.1/servers/${id}/os-instance-actions`, {
      token: h.member,
    });
    assert.doesNotMatch(events.text, /kt-secret-host|MEMORY_MB/);
  });

  test('an internal build error (libvirt refusing the XML): the member reads a short message with the request id', async () => {
    const spawn = h.driver.spawn.bind(h.driver);
    h.driver.spawn = async () => {
      throw Object.assign(
        new Error(
          'DOMAIN_DEFINE_XML_FLAGS failed: XML error: Premature end of data in tag name line 7 <kestrel:name>m on kt-secret-host',
        ),
        { kind: 'internal' },
      );
    };
    try {
      const c = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'kt-doomed', imageRef: image, flavorRef: '1' } },
      });
      assert.equal(c.status, 202, c.text);
      const id = (c.body as { server: { id: string } }).server.id;
      const rid = String(c.headers['x-openstack-request-id']);
      const s = await h.waitFor(h.member, id, (x) => x.status === 'ERROR');
      const fault = s.fault as Record<string, unknown>;
      assert.equal(
        fault.message,
        `Build of instance failed: an internal error occurred (request ${rid}). An administrator can see the cause in this fault's details and the service log.`,
      );
      assert.equal(fault.details, undefined);
      assert.doesNotMatch(JSON.stringify(s), /<|kestrel:name|kt-secret-host|DOMAIN_DEFINE/);
      const asAdmin = await h.waitFor(h.admin, id, (x) => x.status === 'ERROR');
      assert.match(String((asAdmin.fault as { details: string }).details), /Premature end of data/);
    } finally {
      h.driver.spawn = spawn;
    }
  });

  test('a synchronous internal error (the console read fails in libvirt): members read the request id, admins the cause', async () => {
    const c = await h.call('compute', 'POST', '/v2.1/servers', {
      token: h.member,
      body: { server: { name: 'kt-console', imageRef: image, flavorRef: '1' } },
    });
    const id = (c.body as { server: { id: string } }).server.id;
    await h.waitFor(h.member, id, (x) => x.status === 'ACTIVE');
    const read = h.driver.consoleOutput.bind(h.driver);
    h.driver.consoleOutput = async () => {
      throw new Error('virDomainOpenConsole failed on kt-secret-host: <devices><serial/>');
    };
    try {
      const member = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
        token: h.member,
        body: { 'os-getConsoleOutput': { length: 10 } },
      });
      assert.equal(member.status, 500, member.text);
      const rid = String(member.headers['x-openstack-request-id']);
      assert.equal(
        faultMessage('compute', member.body),
        `An internal error occurred (request ${rid}). An administrator can find the cause in the service log.`,
      );
      const admin = await h.call('compute', 'POST', `/v2.1/servers/${id}/action`, {
        token: h.admin,
        body: { 'os-getConsoleOutput': { length: 10 } },
      });
      assert.equal(admin.status, 500, admin.text);
    } finally {
      h.driver.consoleOutput = read;
    }
  });
});

describe("hostile input: protocol-level errors keep the API's envelope (raw sockets)", () => {
  let h: Harness;
  const ports: Record<Api, number> = { identity: 0, compute: 0, image: 0 };
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-hostile-' });
    for (const api of ['identity', 'compute', 'image'] as Api[]) {
      await h.core.apps[api].listen({ host: '127.0.0.1', port: 0 });
      ports[api] = (h.core.apps[api].server.address() as { port: number }).port;
    }
  });
  after(() => h?.close());

  const CASES: [string, (token: string) => string | Buffer, number, RegExp][] = [
    [
      'a garbage Content-Type (a control character)',
      (t) =>
        `POST /x HTTP/1.1\r\nHost: k\r\nX-Auth-Token: ${t}\r\nContent-Type: ;;;\u0001garbage\r\nContent-Length: 2\r\n\r\n{}`,
      400,
      /header .*malformed/,
    ],
    [
      'a negative Content-Length',
      () => 'POST /x HTTP/1.1\r\nHost: k\r\nContent-Length: -1\r\n\r\n',
      400,
      /Content-Length is not a valid byte count/,
    ],
    [
      'Content-Length with Transfer-Encoding',
      () => 'POST /x HTTP/1.1\r\nHost: k\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      /both Content-Length and Transfer-Encoding/,
    ],
    ['a garbage request line', () => 'GARBAGE\u0001 / HTTP/9\r\n\r\n', 400, /request line is not valid/],
    [
      'a 200 KB header',
      () => `GET / HTTP/1.1\r\nHost: k\r\nX-Big: ${'a'.repeat(200 * 1024)}\r\n\r\n`,
      431,
      /headers are larger than the 16 KiB/,
    ],
  ];

  for (const api of ['identity', 'compute', 'image'] as Api[]) {
    test(`${api}: every parser error is a fault in the ${api} envelope`, async () => {
      for (const [label, request, status, message] of CASES) {
        const r = await rawRequest(ports[api], request(h.member));
        assert.equal(r.status, status, `${label}: ${r.head}`);
        assert.match(r.head, /x-openstack-request-id: req-/i, `${label}: a request id`);
        assert.match(faultMessage(api, r.body), message, label);
        assert.doesNotMatch(
          JSON.stringify(r.body),
          /"statusCode"|Client Error/,
          `${label}: not fastify's body`,
        );
        if (api === 'image') assert.equal((r.body as { code: string }).code.split(' ')[0], String(status));
        else if (api === 'identity') assert.equal((r.body as { error: { code: number } }).error.code, status);
        else assert.equal((Object.values(r.body as object)[0] as { code: number }).code, status);
      }
    });
  }

  test("414 (a path parameter over 1000 characters) on the image API: Glance's envelope", async () => {
    const r = await rawRequest(
      ports.image,
      `GET /v2/images/${'a'.repeat(5000)} HTTP/1.1\r\nHost: k\r\nX-Auth-Token: ${h.member}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 414);
    assert.equal((r.body as { code: string; title: string }).code, '414 Request-URI Too Long');
    assert.match(faultMessage('image', r.body), /path segment is longer than the 1000 characters/);
  });
});

describe('hostile input: image list parameters are checked as Glance checks them', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ tempPrefix: 'kt-hostile-' });
    await uploadImage(h, h.member, 'kt-hostile-a');
    await uploadImage(h, h.member, 'kt-hostile-b');
  });
  after(() => h?.close());

  test('GET /v2/images?sort_key=password and ?changes-since=garbage (the finding): 400', async () => {
    const sort = await h.call('image', 'GET', '/v2/images?sort_key=password', { token: h.member });
    assertRefused(
      'image',
      sort,
      /Invalid sort key: password\. It must be one of the following: name, status/,
      'sort_key',
    );
    const since = await h.call('image', 'GET', '/v2/images?changes-since=garbage', { token: h.member });
    assertRefused('image', since, /"changes-since" filter is no longer available on v2/, 'changes-since');
  });

  test('the other checks: sort, sort_dir, limit, visibility, member_status, os_hidden, time filters', async () => {
    const refused: [string, RegExp][] = [
      ['sort=password:asc', /Invalid sort key: password/],
      ['sort=name:sideways', /Invalid sort direction: sideways/],
      ['sort=name&sort_key=name', /cannot be combined/],
      ['sort_dir=up', /Invalid sort direction: up/],
      ['limit=-1', /limit param must be positive/],
      ['limit=abc', /limit param must be an integer/],
      ['visibility=everyone', /Invalid visibility value: everyone/],
      ['member_status=maybe', /Invalid status: maybe/],
      ['os_hidden=perhaps', /Invalid value for os_hidden/],
      ['created_at=yesterday', /Invalid time format for created_at/],
      ['updated_at=since:2026-01-01T00:00:00Z', /Invalid operator since/],
      ['size_min=big', /size_min must be a whole number/],
    ];
    for (const [q, re] of refused) {
      const r = await h.call('image', 'GET', `/v2/images?${q}`, { token: h.member });
      assertRefused('image', r, re, q);
    }
    const sorted = await h.call('image', 'GET', '/v2/images?sort_key=name&sort_dir=asc', { token: h.member });
    assert.deepEqual(
      (sorted.body as { images: { name: string }[] }).images.map((i) => i.name),
      ['kt-hostile-a', 'kt-hostile-b'],
    );
    const multi = await h.call('image', 'GET', '/v2/images?sort=name:desc,created_at', { token: h.member });
    assert.equal((multi.body as { images: { name: string }[] }).images[0].name, 'kt-hostile-b');
    const recent = await h.call('image', 'GET', '/v2/images?created_at=gte:2000-01-01T00:00:00Z', {
      token: h.member,
    });
    assert.equal((recent.body as { images: unknown[] }).images.length, 2);
    const future = await h.call('image', 'GET', '/v2/images?updated_at=gt:2999-01-01T00:00:00Z', {
      token: h.member,
    });
    assert.equal((future.body as { images: unknown[] }).images.length, 0);
  });
});
