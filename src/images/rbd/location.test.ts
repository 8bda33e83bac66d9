import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRbdUrl, InvalidRbdUrlError, isRbdUrl, parseRbdUrl } from './location.js';
import { parseMonDump } from './cli.js';

test('parses a Glance RBD location into its four parts', () => {
  assert.deepEqual(parseRbdUrl('rbd://f00d-1/images/0a1b-2c/snap'), {
    fsid: 'f00d-1',
    pool: 'images',
    image: '0a1b-2c',
    snapshot: 'snap',
  });
});

test('unquotes each part and formats it back quoted', () => {
  const loc = parseRbdUrl('rbd://fsid/my%20pool/img/snap');
  assert.equal(loc.pool, 'my pool');
  assert.equal(formatRbdUrl(loc), 'rbd://fsid/my%20pool/img/snap');
});

test('refuses anything but exactly four non-empty parts', () => {
  for (const bad of [
    'rbd://fsid/pool/image',
    'rbd://fsid/pool/image/snap/extra',
    'rbd://fsid//image/snap',
    'rbd://fsid/pool/im%2Fage/snap',
    'rbd://fsid/pool/image@x/snap',
    'rbd://fsid/pool/%E0%A4%A/snap',
    'http://fsid/pool/image/snap',
  ]) {
    assert.throws(() => parseRbdUrl(bad), InvalidRbdUrlError, bad);
  }
});

test('isRbdUrl looks only at the scheme', () => {
  assert.equal(isRbdUrl('RBD://x'), true);
  assert.equal(isRbdUrl('file:///var/lib/x'), false);
});

test('parseMonDump takes each monitor v1 address', () => {
  const mons = parseMonDump({
    mons: [
      {
        name: 'a',
        public_addrs: {
          addrvec: [
            { type: 'v2', addr: '127.0.0.1:3300' },
            { type: 'v1', addr: '127.0.0.1:6789' },
          ],
        },
      },
      { name: 'b', addr: '10.0.0.2:6789/0' },
    ],
  });
  assert.deepEqual(mons, [
    { host: '127.0.0.1', port: 6789 },
    { host: '10.0.0.2', port: 6789 },
  ]);
  assert.throws(() => parseMonDump({ mons: [] }), /no monitor/);
});
