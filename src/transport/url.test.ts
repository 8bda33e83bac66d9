import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTransportUrl, redactTransportUrl } from './url.js';
import { hostToken, callSubject, opsStream } from './nats/subjects.js';

test('one server with credentials; the default port; percent-decoded password', () => {
  assert.deepEqual(parseTransportUrl('nats://kestrel:s%40cret@10.0.0.2:4222'), {
    servers: ['10.0.0.2:4222'],
    user: 'kestrel',
    pass: 's@cret',
    tls: false,
    redacted: 'nats://kestrel:***@10.0.0.2:4222',
  });
  assert.deepEqual(parseTransportUrl('nats://nats1').servers, ['nats1:4222']);
});

test('several servers, oslo style and whole URLs, sharing the credentials; tls://', () => {
  const t = parseTransportUrl('tls://u:p@nats1:4222,u:p@nats2:4223,nats://nats3');
  assert.deepEqual(t.servers, ['nats1:4222', 'nats2:4223', 'nats3:4222']);
  assert.equal(t.tls, true);
  assert.equal(t.user, 'u');
  assert.equal(redactTransportUrl('nats://u:p@a:1,u:p@b:2'), 'nats://u:***@a:1,u:***@b:2');
});

test('bad URLs are refused with the fix, never echoing the password', () => {
  assert.throws(
    () => parseTransportUrl('rabbit://guest:guest@mq:5672/'),
    /names rabbit, which Kestrel does not speak: its message bus is NATS/,
  );
  assert.throws(() => parseTransportUrl('nats://a:b@h1,c:d@h2'), /different credentials/);
  assert.throws(() => parseTransportUrl('nats://u:pw@h1:99999'), /port 99999/);
  assert.throws(() => parseTransportUrl('nats://u:pw@bad host'), /"bad host" that is not host:port/);
  assert.throws(
    () => parseTransportUrl('localhost:4222'),
    (e: Error) => {
      assert.match(e.message, /is not a URL\. Fix: use nats:\/\/user:password@host:4222/);
      return true;
    },
  );
  assert.throws(
    () => parseTransportUrl('http://u:topsecret@h'),
    (e: Error) => !e.message.includes('topsecret'),
  );
});

test('host names become one subject token and a valid stream name, without collisions', () => {
  assert.equal(hostToken('cn1'), 'cn1');
  assert.equal(hostToken('cn1.example'), 'cn1~2eexample');
  assert.notEqual(hostToken('cn1.example'), hostToken('cn1_example'));
  assert.equal(callSubject('a.b', 'build'), 'kestrel.agent.a~2eb.call.build');
  assert.match(opsStream('compute-1.lab'), /^[A-Za-z0-9_~-]+$/);
  assert.throws(() => hostToken(''), /must not be empty/);
});
