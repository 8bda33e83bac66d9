import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultGateway,
  defaultPools,
  firstFree,
  inPools,
  isHostOf,
  netmask,
  overlaps,
  parseCidr,
  type Cidr,
} from './ipam.js';

const cidr = (t: string) => parseCidr(t) as Cidr;

test('parseCidr normalises the network address and refuses bad input with the reason', () => {
  assert.equal(cidr('10.0.0.7/24').text, '10.0.0.0/24');
  assert.match(parseCidr('10.0.0.0/33') as string, /not a valid IPv4 CIDR|prefix/);
  assert.match(parseCidr('10.0.0/24') as string, /not a valid IPv4 CIDR/);
  assert.match(parseCidr('10.0.0.0/31') as string, /\/8 to \/30/);
  assert.equal(netmask(cidr('10.0.0.0/24')), '255.255.255.0');
});

test('default gateway and pools leave out the network, gateway and broadcast addresses', () => {
  const c = cidr('192.168.5.0/29');
  assert.equal(defaultGateway(c), '192.168.5.1');
  assert.deepEqual(defaultPools(c, '192.168.5.1'), [{ start: '192.168.5.2', end: '192.168.5.6' }]);
  assert.deepEqual(defaultPools(c, '192.168.5.4'), [
    { start: '192.168.5.1', end: '192.168.5.3' },
    { start: '192.168.5.5', end: '192.168.5.6' },
  ]);
  assert.ok(isHostOf(c, '192.168.5.6'));
  assert.ok(!isHostOf(c, '192.168.5.7'));
  assert.ok(!isHostOf(c, '192.168.5.0'));
});

test('firstFree skips taken addresses and says when the pool is full', () => {
  const pools = [{ start: '10.0.0.2', end: '10.0.0.4' }];
  assert.equal(firstFree(pools, new Set(['10.0.0.2'])), '10.0.0.3');
  assert.equal(firstFree(pools, new Set(['10.0.0.2', '10.0.0.3', '10.0.0.4'])), undefined);
  assert.ok(inPools(pools, '10.0.0.4'));
  assert.ok(!inPools(pools, '10.0.0.5'));
});

test('overlaps', () => {
  assert.ok(overlaps(cidr('10.0.0.0/16'), cidr('10.0.5.0/24')));
  assert.ok(!overlaps(cidr('10.0.0.0/24'), cidr('10.0.1.0/24')));
});
