import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  XdrError,
  decode,
  encode,
  xarray,
  xbool,
  xcharArray,
  xfixedOpaque,
  xhyper,
  xint,
  xopaque,
  xoptional,
  xostr,
  xstr,
  xstring,
  xstruct,
  xuhyper,
  xuint,
} from './xdr.js';
import { migrateParams, tp, typedParamsToRecord, xtypedParams } from './typed-params.js';
import { DomainRef, xdomain, uuidToString, uuidToBytes } from './handles.js';

const hex = (b: Buffer) => b.toString('hex');

describe('XDR primitives (golden bytes)', () => {
  test('int, unsigned int, bool: 4 bytes big-endian', () => {
    assert.equal(hex(encode(xint, -2)), 'fffffffe');
    assert.equal(hex(encode(xuint, 0x20008086)), '20008086');
    assert.equal(hex(encode(xbool, true)), '00000001');
    assert.equal(decode(xint, Buffer.from('fffffffe', 'hex')), -2);
  });

  test('hyper and unsigned hyper are bigint, exact above 2^53', () => {
    const big = 1795939799520181000n; // a test-driver cpuTime, > 2^53
    assert.equal(hex(encode(xuhyper, big)), big.toString(16).padStart(16, '0'));
    assert.equal(decode(xuhyper, encode(xuhyper, big)), big);
    assert.equal(decode(xuhyper, Buffer.from('ffffffffffffffff', 'hex')), 2n ** 64n - 1n);
    assert.equal(decode(xhyper, Buffer.from('ffffffffffffffff', 'hex')), -1n);
  });

  test('strings: length, UTF-8 bytes, zero padding to 4', () => {
    assert.equal(hex(encode(xstr, 'abc')), '0000000361626300');
    assert.equal(hex(encode(xstr, 'abcd')), '0000000461626364');
    assert.equal(hex(encode(xstr, '')), '00000000');
    assert.equal(decode(xstr, encode(xstr, 'héllo ✓')), 'héllo ✓');
    assert.throws(() => encode(xstring(3), 'abcd'), XdrError);
    assert.throws(
      () => decode(xstring(3), Buffer.from('0000000461626364', 'hex')),
      /exceeds the protocol limit of 3/,
    );
  });

  test('optional pointer: 0 or 1 then the value', () => {
    assert.equal(hex(encode(xostr, null)), '00000000');
    assert.equal(hex(encode(xostr, 'x')), '000000010000000178000000');
    assert.equal(decode(xostr, Buffer.from('00000000', 'hex')), null);
    assert.throws(() => decode(xostr, Buffer.from('00000002', 'hex')), /must be 0 or 1/);
  });

  test('opaque: fixed has no length word, variable has one; both padded', () => {
    assert.equal(hex(encode(xfixedOpaque(3), Buffer.from([1, 2, 3]))), '01020300');
    assert.equal(hex(encode(xopaque(10), Buffer.from([1, 2, 3]))), '0000000301020300');
    assert.throws(() => encode(xfixedOpaque(16), Buffer.alloc(15)), /exactly 16/);
    assert.throws(() => encode(xopaque(2), Buffer.alloc(3)), XdrError);
  });

  test('arrays: count then elements, bound enforced both ways', () => {
    const c = xarray(xint, 2);
    assert.equal(hex(encode(c, [1, 2])), '000000020000000100000002');
    assert.throws(() => encode(c, [1, 2, 3]), /exceeds the protocol limit of 2/);
    assert.throws(() => decode(c, Buffer.from('00000003000000010000000200000003', 'hex')), /exceeds/);
    // A hostile count that cannot fit the payload is refused before allocating.
    assert.throws(() => decode(xarray(xint, 1 << 30), Buffer.from('3fffffff', 'hex')), /cannot fit/);
  });

  test('char[32] takes 128 bytes (each char widened to a word)', () => {
    const b = encode(xcharArray(32), 'x86_64');
    assert.equal(b.length, 128);
    assert.equal(hex(b.subarray(0, 8)), '0000007800000038');
    assert.equal(decode(xcharArray(32), b), 'x86_64');
  });

  test('struct fields in order; truncated and trailing bytes are errors naming the field', () => {
    const s = xstruct({ a: xint, b: xstr });
    assert.equal(hex(encode(s, { a: 1, b: 'hi' })), '00000001000000026869' + '0000');
    assert.throws(() => decode(s, Buffer.from('0000000100000008', 'hex')), /b: truncated payload/);
    assert.throws(() => decode(xint, Buffer.from('0000000100', 'hex')), /trailing bytes/);
  });
});

describe('typed parameters', () => {
  test('every type round-trips with its discriminant', () => {
    const params = [
      tp.int('i', -5),
      tp.uint('u', 4_000_000_000),
      tp.llong('l', -(2n ** 60n)),
      tp.ullong('bandwidth', 2n ** 63n),
      tp.double('d', 0.25),
      tp.boolean('b', true),
      tp.string('migrate_uri', 'tcp://10.0.0.2:49152'),
    ];
    const c = xtypedParams(64);
    const bytes = encode(c, params);
    // field "i" (len 1 + pad), discriminant 1, value -5
    assert.equal(hex(bytes.subarray(4, 20)), '0000000169000000' + '00000001' + 'fffffffb');
    assert.deepEqual(decode(c, bytes), params);
  });

  test('migrateParams picks libvirt types and repeats migrate_disks', () => {
    const p = migrateParams({
      migrate_uri: 'tcp://h',
      bandwidth: 100,
      migrate_disks: ['vda', 'vdb'],
      'parallel.connections': 4,
    });
    assert.deepEqual(p, [
      { field: 'migrate_uri', type: 7, value: 'tcp://h' },
      { field: 'bandwidth', type: 4, value: 100n },
      { field: 'migrate_disks', type: 7, value: 'vda' },
      { field: 'migrate_disks', type: 7, value: 'vdb' },
      { field: 'parallel.connections', type: 1, value: 4 },
    ]);
    assert.throws(() => migrateParams({ bogus: 'x' }), /unknown migration parameter "bogus"/);
    assert.deepEqual(typedParamsToRecord(p).migrate_disks, ['vda', 'vdb']);
  });
});

describe('handles', () => {
  test('remote_nonnull_domain: name, 16-byte uuid, id', () => {
    const uuid = '6695eb01-f6a4-8304-79aa-97f2502e193f';
    const d = new DomainRef('test', uuid, 1);
    const bytes = encode(xdomain, d);
    assert.equal(hex(bytes), '00000004' + hex(Buffer.from('test')) + uuid.replace(/-/g, '') + '00000001');
    const back = decode(xdomain, bytes);
    assert.equal(back.uuidString, uuid);
    assert.equal(back.name, 'test');
    assert.equal(back.id, 1);
    assert.equal(uuidToString(uuidToBytes(uuid.replace(/-/g, ''))), uuid);
    assert.throws(() => uuidToBytes('not-a-uuid'), /not a UUID/);
  });

  test('optional domain', () => {
    assert.equal(hex(encode(xoptional(xdomain), null)), '00000000');
  });
});
