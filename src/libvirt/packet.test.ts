import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  MESSAGE_MAX,
  MessageStatus,
  MessageType,
  PacketError,
  PacketReader,
  Program,
  encodePacket,
} from './packet.js';
import { parseUri, socketPathForUri } from './client.js';
import {
  LibvirtConnectionError,
  LibvirtError,
  isAgentUnresponsive,
  isNoSupport,
  isRetryable,
} from './errors.js';

describe('packet framing', () => {
  test('length word counts itself; header is six big-endian words', () => {
    const p = encodePacket(
      { prog: Program.REMOTE, vers: 1, proc: 4, type: MessageType.CALL, serial: 7, status: MessageStatus.OK },
      Buffer.from([1, 2, 3, 4]),
    );
    assert.equal(
      p.toString('hex'),
      '00000020' + '20008086' + '00000001' + '00000004' + '00000000' + '00000007' + '00000000' + '01020304',
    );
  });

  test('reassembles packets split and joined across chunks', () => {
    const a = encodePacket(
      { prog: 1, vers: 1, proc: 1, type: 1, serial: 1, status: 0 },
      Buffer.alloc(100, 0xaa),
    );
    const b = encodePacket({ prog: 1, vers: 1, proc: 2, type: 1, serial: 2, status: 0 });
    const all = Buffer.concat([a, b]);
    const r = new PacketReader();
    const out = [];
    for (let i = 0; i < all.length; i += 3) out.push(...r.push(all.subarray(i, i + 3)));
    assert.deepEqual(
      out.map((p) => [p.header.serial, p.payload.length]),
      [
        [1, 100],
        [2, 0],
      ],
    );
    assert.ok(out[0].payload.every((x) => x === 0xaa));
  });

  test('refuses impossible lengths before buffering', () => {
    const r = new PacketReader();
    const tooBig = Buffer.alloc(4);
    tooBig.writeUInt32BE(MESSAGE_MAX + 5);
    assert.throws(() => r.push(tooBig), PacketError);
    const tooSmall = Buffer.alloc(4);
    tooSmall.writeUInt32BE(27);
    assert.throws(() => new PacketReader().push(tooSmall), /invalid packet length 27/);
  });

  test('refuses to build a payload above the protocol maximum', () => {
    assert.throws(
      () =>
        encodePacket({ prog: 1, vers: 1, proc: 1, type: 0, serial: 1, status: 0 }, Buffer.alloc(MESSAGE_MAX)),
      PacketError,
    );
  });
});

describe('URIs and sockets', () => {
  test('local URIs map to the name sent in CONNECT_OPEN', () => {
    assert.equal(parseUri('test+unix:///default').name, 'test:///default');
    assert.equal(parseUri('qemu:///system').name, 'qemu:///system');
    assert.equal(parseUri('qemu+unix:///system?socket=/x/y').name, 'qemu:///system');
    assert.throws(() => parseUri('qemu+tcp://host/system'), /local UNIX socket/);
    assert.throws(() => parseUri('nonsense'), /not a libvirt URI/);
  });

  test('socket path: explicit ?socket=, the test driver on the libvirtd socket, read-only', () => {
    assert.equal(socketPathForUri('qemu+unix:///system?socket=/tmp/s'), '/tmp/s');
    assert.equal(
      socketPathForUri('test+unix:///default', false, '/nonexistent'),
      '/nonexistent/libvirt-sock',
    );
    assert.equal(socketPathForUri('qemu:///system', true, '/nonexistent'), '/nonexistent/libvirt-sock-ro');
  });
});

describe('error predicates', () => {
  const err = (code: number, message: string) =>
    new LibvirtError(
      {
        code,
        domain: 10,
        message,
        level: 2,
        dom: null,
        str1: null,
        str2: null,
        str3: null,
        int1: 0,
        int2: 0,
        net: null,
      },
      'X',
    );
  test('classification', () => {
    assert.ok(isNoSupport(err(3, 'no')));
    assert.ok(isNoSupport(err(39, 'unknown procedure: 999')));
    assert.ok(!isNoSupport(err(39, 'authentication required')));
    assert.ok(isAgentUnresponsive(err(86, 'Guest agent is not responding')));
    assert.ok(isAgentUnresponsive(err(74, 'argument unsupported: QEMU guest agent is not configured')));
    assert.ok(!isAgentUnresponsive(err(74, 'argument unsupported: something else')));
    assert.ok(isRetryable(new LibvirtConnectionError('closed', 'x')));
    assert.ok(!isRetryable(new LibvirtConnectionError('encode', 'x')));
    assert.ok(!isRetryable(err(42, 'Domain not found')));
    assert.match(
      err(42, 'Domain not found').message,
      /X failed: Domain not found \(code 42 NO_DOMAIN, domain 10\)/,
    );
  });
});
