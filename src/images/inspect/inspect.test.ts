// Unit tests of the inspector on headers built in memory (the real-image tests are in
// test/images/inspect.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectBuffer } from './inspect.js';
import { checkDescriptor } from './vmdk.js';
import { overlayLayout } from '../backends/qcow2-overlay.js';

/** A standalone qcow2 image in memory: the overlay layout without its backing file. */
function qcow2(size = 1024 * 1024 * 1024): Buffer {
  const l = overlayLayout({ backingFile: '/x', backingFormat: 'raw', sizeBytes: size });
  const buf = Buffer.alloc(l.fileSize);
  l.header.copy(buf);
  buf.writeBigUInt64BE(0n, 8); // no backing file
  buf.writeUInt32BE(0, 16);
  buf.writeBigUInt64BE(BigInt(l.refcountBlockOffset), l.refcountTableOffset);
  return buf;
}
const codes = async (buf: Buffer, declaredFormat?: string): Promise<string[]> =>
  (await inspectBuffer(buf, { declaredFormat })).findings.map((f) => f.code);

describe('inspector rules', () => {
  test('a standalone qcow2 is accepted with its virtual size', async () => {
    const r = await inspectBuffer(qcow2(5 * 1024 * 1024 * 1024));
    assert.equal(r.format, 'qcow2');
    assert.equal(r.virtualSize, 5 * 1024 * 1024 * 1024);
    assert.deepEqual(r.findings, []);
  });

  test('qcow2 feature bits: data file, corrupt, unknown; extended L2 and compression are known', async () => {
    const withBits = (bits: bigint): Buffer => {
      const b = qcow2();
      b.writeBigUInt64BE(bits, 72);
      return b;
    };
    assert.deepEqual(await codes(withBits(1n << 2n)), ['qcow2-data-file']);
    assert.deepEqual(await codes(withBits(1n << 1n)), ['qcow2-corrupt']);
    assert.deepEqual(await codes(withBits(1n << 40n)), ['qcow2-unknown-feature']);
    assert.deepEqual(await codes(withBits(1n << 3n)), []);
  });

  test('a header cut short is truncated, not raw', async () => {
    assert.deepEqual(await codes(qcow2().subarray(0, 80)), ['truncated-header']);
  });

  test('a polyglot (qcow2 magic and an ISO descriptor) is refused', async () => {
    const b = Buffer.alloc(64 * 1024);
    qcow2().copy(b, 0, 0, 512);
    b.write('\x01CD001', 32 * 1024, 'latin1');
    const c = await codes(b);
    assert.ok(c.includes('ambiguous-format'), c.join());
  });

  test('declared formats: raw accepts gpt/mbr content and aki/ari/ami, unknown names are refused', async () => {
    const mbr = Buffer.alloc(1024 * 1024);
    mbr[446] = 0x80;
    mbr[450] = 0x83;
    mbr.writeUInt32LE(2048, 454);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    assert.deepEqual(await codes(mbr, 'raw'), []);
    assert.deepEqual(await codes(mbr, 'aki'), []);
    assert.equal((await inspectBuffer(mbr)).details.partitionTable, 'mbr');
    assert.deepEqual(await codes(mbr, 'ploop'), ['unsupported-format']);
    assert.deepEqual(await codes(mbr, 'iso'), ['format-mismatch']);
  });

  test('LUKS is recognised and refused', async () => {
    const b = Buffer.alloc(4096);
    Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]).copy(b);
    assert.deepEqual(await codes(b), ['unsupported-format']);
  });

  test('VHD size follows QEMU: CHS geometry for "qemu", current size for "qem2"', async () => {
    const vhd = (creator: string): Buffer => {
      const b = Buffer.alloc(512);
      b.write('conectix', 0, 'latin1');
      b.write(creator, 28, 'latin1');
      b.writeBigUInt64BE(64n * 1024n * 1024n, 48);
      b.writeUInt16BE(130, 56);
      b[58] = 16;
      b[59] = 63;
      b.writeUInt32BE(3, 60);
      return Buffer.concat([b, Buffer.alloc(1024)]);
    };
    assert.equal((await inspectBuffer(vhd('qemu'))).virtualSize, 130 * 16 * 63 * 512);
    assert.equal((await inspectBuffer(vhd('qem2'))).virtualSize, 64 * 1024 * 1024);
  });

  test('maxVirtualSize', async () => {
    const r = await inspectBuffer(qcow2(2 * 1024 * 1024 * 1024), { maxVirtualSize: 1024 * 1024 * 1024 });
    assert.deepEqual(
      r.findings.map((f) => f.code),
      ['virtual-size-limit'],
    );
    assert.match(r.findings[0].message, /2 GiB.*1 GiB/);
  });
});

describe('VMDK descriptor', () => {
  const own = { ownExtent: true, capacitySectors: 2048 };
  const desc = (...lines: string[]): string =>
    ['# Disk DescriptorFile', 'version=1', 'parentCID=ffffffff', ...lines].join('\n');
  test('the file’s own single sparse extent is accepted', () => {
    assert.deepEqual(
      checkDescriptor(desc('createType="monolithicSparse"', 'RW 2048 SPARSE "a.vmdk"'), own).findings,
      [],
    );
    assert.deepEqual(
      checkDescriptor(desc('createType="STREAMOPTIMIZED"', 'RW 2048 SPARSE "a.vmdk"'), own).findings,
      [],
    );
  });
  test('other extents, paths, parents, create types and stray lines are refused', () => {
    const c = (...lines: string[]): string[] =>
      checkDescriptor(desc(...lines), own).findings.map((f) => f.code);
    assert.deepEqual(c('createType="monolithicSparse"', 'RW 2048 FLAT "a.vmdk" 0'), ['vmdk-extent']);
    assert.deepEqual(c('createType="monolithicSparse"', 'RW 2048 SPARSE "a.vmdk"', 'RW 1 SPARSE "b.vmdk"'), [
      'vmdk-extent',
    ]);
    assert.deepEqual(c('createType="monolithicSparse"', 'RW 2048 SPARSE "../etc/a"'), ['vmdk-extent']);
    assert.deepEqual(c('createType="monolithicSparse"', 'RW 1024 SPARSE "a.vmdk"'), ['vmdk-extent']);
    assert.deepEqual(c('createType="vmfs"', 'RW 2048 SPARSE "a.vmdk"'), ['vmdk-create-type']);
    assert.deepEqual(
      c('createType="monolithicSparse"', 'RW 2048 SPARSE "a.vmdk"', 'parentFileNameHint="/etc/x"'),
      ['vmdk-extent'],
    );
    assert.deepEqual(c('createType="monolithicSparse"', 'RW 2048 SPARSE "a.vmdk"', 'garbage here'), [
      'vmdk-descriptor',
    ]);
    assert.deepEqual(c('createType="monolithicSparse"'), ['vmdk-extent']);
  });
});

describe('VMDK stream footer', () => {
  /** A streamOptimized image whose grain directory is at the end, with or without its footer. */
  function stream(withFooter: boolean): Buffer {
    const header = Buffer.alloc(512);
    header.write('KDMV', 0, 'latin1');
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(2048n, 12); // capacity in sectors
    header.writeBigUInt64LE(128n, 20); // grain size
    header.writeBigUInt64LE(1n, 28); // descriptor at sector 1
    header.writeBigUInt64LE(1n, 36); // one sector long
    header.writeBigUInt64LE(0xffffffffffffffffn, 56); // grain directory: see the footer
    const descriptor = Buffer.alloc(512);
    descriptor.write(
      '# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\ncreateType="streamOptimized"\nRW 2048 SPARSE "s.vmdk"\n',
    );
    const body = Buffer.alloc(4096);
    if (!withFooter) return Buffer.concat([header, descriptor, body, Buffer.alloc(1536)]);
    const marker = Buffer.alloc(512);
    marker.writeUInt32LE(3, 12);
    const footer = Buffer.from(header);
    footer.writeBigUInt64LE(8n, 56);
    return Buffer.concat([header, descriptor, body, marker, footer, Buffer.alloc(512)]);
  }
  test('a valid footer is accepted, a missing one refused', async () => {
    assert.deepEqual(await codes(stream(true)), []);
    assert.deepEqual(await codes(stream(false)), ['vmdk-footer']);
  });
});
