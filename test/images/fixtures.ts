// Test images made at test time: benign ones of every format (built with qemu-img or
// by hand), and hostile ones that each must be refused for a named reason. Hostile images
// point at a "secret" host file whose content must never show up anywhere.
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../src/util/run.js';
import type { FindingCode } from '../../src/images/inspect/index.js';

export interface BenignFixture {
  name: string;
  path: string;
  format: string;
  /** Extra facts to assert (e.g. the partition table). */
  details?: Record<string, string | number | boolean>;
}

export interface HostileFixture {
  name: string;
  path: string;
  /** The disk_format declared with it (undefined: the detected one). */
  declared?: string;
  maxVirtualSize?: number;
  refusedFor: FindingCode;
}

export interface FixtureSet {
  dir: string;
  secretPath: string;
  /** Random text in the secret file: it must never appear in any output. */
  secretContent: string;
  benign: BenignFixture[];
  hostile: HostileFixture[];
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

async function qemuImg(...args: string[]): Promise<void> {
  await runChecked(['qemu-img', ...args]);
}

/** Overwrites bytes of a file at an offset. */
export async function patch(path: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u64be(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** A minimal ISO 9660 image: system area, a primary volume descriptor and a terminator. */
export function buildIso(blocks = 64): Buffer {
  const buf = Buffer.alloc(blocks * 2048);
  const pvd = buf.subarray(16 * 2048, 17 * 2048);
  pvd[0] = 1;
  pvd.write('CD001', 1, 'latin1');
  pvd[6] = 1;
  pvd.write('KESTREL TEST'.padEnd(32, ' '), 40, 'latin1');
  pvd.writeUInt32LE(blocks, 80);
  pvd.writeUInt32BE(blocks, 84);
  pvd.writeUInt16LE(1, 120);
  pvd.writeUInt16BE(1, 122);
  pvd.writeUInt16LE(1, 124);
  pvd.writeUInt16BE(1, 126);
  pvd.writeUInt16LE(2048, 128);
  pvd.writeUInt16BE(2048, 130);
  pvd[881] = 1;
  const term = buf.subarray(17 * 2048, 18 * 2048);
  term[0] = 255;
  term.write('CD001', 1, 'latin1');
  term[6] = 1;
  return buf;
}

/** A raw disk with a classic MBR holding one Linux partition. */
export function buildMbrDisk(size = 4 * MiB): Buffer {
  const buf = Buffer.alloc(size);
  const e = buf.subarray(446, 462);
  e[0] = 0x80;
  e[4] = 0x83;
  e.writeUInt32LE(2048, 8);
  e.writeUInt32LE(size / 512 - 2048, 12);
  buf[510] = 0x55;
  buf[511] = 0xaa;
  return buf;
}

/**
 * A raw disk with a GPT: a protective MBR (one 0xEE partition from LBA 1, CHS 0/2/0) and a
 * GPT header at LBA 1 with one Linux partition entry. (CRCs are left zero: only the layout
 * matters to the inspector, and QEMU reads the file as raw.)
 */
export function buildGptDisk(size = 8 * MiB): Buffer {
  const sectors = size / 512;
  const buf = Buffer.alloc(size);
  const e = buf.subarray(446, 462);
  e[2] = 0x02; // CHS 0/2/0
  e[4] = 0xee;
  e[5] = 0xff;
  e[6] = 0xff;
  e[7] = 0xff;
  e.writeUInt32LE(1, 8);
  e.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 12);
  buf[510] = 0x55;
  buf[511] = 0xaa;
  const h = buf.subarray(512, 1024);
  h.write('EFI PART', 0, 'latin1');
  h.writeUInt32LE(0x00010000, 8); // revision 1.0
  h.writeUInt32LE(92, 12); // header size
  h.writeBigUInt64LE(1n, 24); // this header
  h.writeBigUInt64LE(BigInt(sectors - 1), 32); // backup header
  h.writeBigUInt64LE(34n, 40); // first usable LBA
  h.writeBigUInt64LE(BigInt(sectors - 34), 48); // last usable LBA
  randomBytes(16).copy(h, 56); // disk GUID
  h.writeBigUInt64LE(2n, 72); // partition entries at LBA 2
  h.writeUInt32LE(128, 80);
  h.writeUInt32LE(128, 84);
  const entry = buf.subarray(1024, 1152);
  Buffer.from('af3dc60f838472478e793d69d8477de4', 'hex').copy(entry, 0); // Linux filesystem type GUID
  randomBytes(16).copy(entry, 16);
  entry.writeBigUInt64LE(2048n, 32);
  entry.writeBigUInt64LE(BigInt(sectors - 34), 40);
  return buf;
}

export async function makeFixtures(): Promise<FixtureSet> {
  const dir = await mkdtemp(join(tmpdir(), `kt-images-${randomBytes(3).toString('hex')}-`));
  const p = (name: string): string => join(dir, name);
  const secretContent = `KT-SECRET-${randomBytes(16).toString('hex')}`;
  const secretPath = p('host-secret');
  await writeFile(secretPath, `${secretContent}\n`.repeat(4096)); // 200 KiB of secret
  const benign: BenignFixture[] = [];
  const hostile: HostileFixture[] = [];

  // A raw image with some data in it, to convert into the other formats.
  const data = Buffer.alloc(8 * MiB);
  randomBytes(64 * 1024).copy(data, 1 * MiB);
  randomBytes(64 * 1024).copy(data, 5 * MiB);
  await writeFile(p('data.raw'), data);
  benign.push({ name: 'raw', path: p('data.raw'), format: 'raw' });

  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', p('v2.qcow2'), '64M');
  benign.push({ name: 'qcow2 v2', path: p('v2.qcow2'), format: 'qcow2', details: { version: 2 } });
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', p('v3.qcow2'), '64M');
  benign.push({ name: 'qcow2 v3', path: p('v3.qcow2'), format: 'qcow2', details: { version: 3 } });
  await qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', p('data.raw'), p('data.qcow2'));
  benign.push({ name: 'qcow2 v3 with data', path: p('data.qcow2'), format: 'qcow2' });
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', p('small-cluster.qcow2'), '16M');
  benign.push({ name: 'qcow2 512-byte clusters', path: p('small-cluster.qcow2'), format: 'qcow2' });
  await qemuImg('create', '-q', '-f', 'qed', p('empty.qed'), '64M');
  benign.push({ name: 'qed', path: p('empty.qed'), format: 'qed' });
  await qemuImg('convert', '-q', '-f', 'raw', '-O', 'vmdk', p('data.raw'), p('sparse.vmdk'));
  benign.push({
    name: 'vmdk monolithicSparse',
    path: p('sparse.vmdk'),
    format: 'vmdk',
    details: { createType: 'monolithicSparse' },
  });
  await qemuImg(
    'convert',
    '-q',
    '-f',
    'raw',
    '-O',
    'vmdk',
    '-o',
    'subformat=streamOptimized',
    p('data.raw'),
    p('stream.vmdk'),
  );
  benign.push({
    name: 'vmdk streamOptimized',
    path: p('stream.vmdk'),
    format: 'vmdk',
    details: { createType: 'streamOptimized' },
  });
  await qemuImg('convert', '-q', '-f', 'raw', '-O', 'vpc', p('data.raw'), p('dynamic.vhd'));
  benign.push({ name: 'vhd dynamic', path: p('dynamic.vhd'), format: 'vhd' });
  await qemuImg('create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', p('fixed.vhd'), '8M');
  benign.push({ name: 'vhd fixed', path: p('fixed.vhd'), format: 'vhd' });
  await qemuImg('create', '-q', '-f', 'vhdx', p('empty.vhdx'), '64M');
  benign.push({ name: 'vhdx', path: p('empty.vhdx'), format: 'vhdx' });
  await writeFile(p('mbr.raw'), buildMbrDisk());
  benign.push({
    name: 'raw with MBR',
    path: p('mbr.raw'),
    format: 'raw',
    details: { partitionTable: 'mbr' },
  });
  await writeFile(p('gpt.raw'), buildGptDisk());
  benign.push({
    name: 'raw with GPT',
    path: p('gpt.raw'),
    format: 'raw',
    details: { partitionTable: 'gpt' },
  });
  await writeFile(p('image.iso'), buildIso());
  benign.push({ name: 'iso', path: p('image.iso'), format: 'iso' });

  // ---- hostile ----
  await qemuImg('create', '-q', '-u', '-f', 'qcow2', '-b', secretPath, '-F', 'raw', p('backing.qcow2'), '1M');
  hostile.push({
    name: 'qcow2 backing file on a host file',
    path: p('backing.qcow2'),
    refusedFor: 'qcow2-backing-file',
  });
  await qemuImg(
    'create',
    '-q',
    '-u',
    '-f',
    'qcow2',
    '-o',
    'compat=0.10',
    '-b',
    secretPath,
    '-F',
    'raw',
    p('backing-v2.qcow2'),
    '1M',
  );
  hostile.push({
    name: 'qcow2 v2 backing file',
    path: p('backing-v2.qcow2'),
    refusedFor: 'qcow2-backing-file',
  });
  const victim = p('data-file-victim');
  await qemuImg(
    'create',
    '-q',
    '-f',
    'qcow2',
    '-o',
    `data_file=${victim},data_file_raw=on`,
    p('datafile.qcow2'),
    '1M',
  );
  await writeFile(victim, Buffer.from(`${secretContent}\n`.repeat(1000))); // as if it were a host file
  hostile.push({
    name: 'qcow2 external data file',
    path: p('datafile.qcow2'),
    refusedFor: 'qcow2-data-file',
  });

  const v3 = await readFile(p('v3.qcow2'));
  const variant = async (
    name: string,
    mutate: (b: Buffer) => Buffer,
    refusedFor: FindingCode,
  ): Promise<void> => {
    const path = p(`${name.replace(/[^a-z0-9]+/gi, '-')}.qcow2`);
    await writeFile(path, mutate(Buffer.from(v3)));
    hostile.push({ name, path, refusedFor });
  };
  await variant(
    'qcow2 unknown incompatible feature',
    (b) => (b.writeUInt8(b[79] | 0x20, 79), b),
    'qcow2-unknown-feature',
  );
  await variant(
    'qcow2 data-file bit without extension',
    (b) => (b.writeUInt8(b[79] | 0x04, 79), b),
    'qcow2-data-file',
  );
  await variant(
    'qcow2 L1 table beyond the file',
    (b) => (u64be(0x7fff0000).copy(b, 40), b),
    'qcow2-geometry',
  );
  await variant('qcow2 cluster_bits out of range', (b) => (u32be(30).copy(b, 20), b), 'qcow2-geometry');
  await variant(
    'qcow2 refcount table beyond the file',
    (b) => (u64be(0x100000000).copy(b, 48), b),
    'qcow2-geometry',
  );
  await variant(
    'qcow2 L1 too small for the size',
    (b) => (u64be(1n << 40n).copy(b, 24), b),
    'qcow2-geometry',
  );
  await variant('qcow2 version 4', (b) => (u32be(4).copy(b, 4), b), 'qcow2-version');
  await variant('qcow2 truncated header', (b) => b.subarray(0, 60), 'truncated-header');

  await qemuImg('create', '-q', '-u', '-f', 'qed', '-b', secretPath, '-F', 'raw', p('backing.qed'), '1M');
  hostile.push({ name: 'qed backing file', path: p('backing.qed'), refusedFor: 'qed-backing-file' });
  await writeFile(p('truncated.qed'), (await readFile(p('empty.qed'))).subarray(0, 40));
  hostile.push({ name: 'qed truncated header', path: p('truncated.qed'), refusedFor: 'truncated-header' });

  const descriptor = (createType: string, extents: string[]): string =>
    [
      '# Disk DescriptorFile',
      'version=1',
      'CID=12345678',
      'parentCID=ffffffff',
      `createType="${createType}"`,
      '',
      '# Extent description',
      ...extents,
      '',
      'ddb.virtualHWVersion = "4"',
      '',
    ].join('\n');
  await writeFile(p('flat-extent.vmdk'), descriptor('monolithicFlat', [`RW 400 FLAT "${secretPath}" 0`]));
  hostile.push({
    name: 'vmdk descriptor with a FLAT extent on a host file',
    path: p('flat-extent.vmdk'),
    refusedFor: 'vmdk-extent',
  });
  await writeFile(
    p('descriptor-sparse.vmdk'),
    descriptor('monolithicSparse', ['RW 16384 SPARSE "sparse.vmdk"']),
  );
  hostile.push({
    name: 'vmdk descriptor file naming a sparse extent',
    path: p('descriptor-sparse.vmdk'),
    refusedFor: 'vmdk-extent',
  });

  // monolithicSparse whose embedded descriptor gains a second (FLAT, host file) extent.
  const sparse = await readFile(p('sparse.vmdk'));
  const embedded = (b: Buffer): { start: number; text: string; room: number } => {
    const sectors = Number(b.readBigUInt64LE(36));
    const area = b.subarray(512, 512 + sectors * 512);
    const nul = area.indexOf(0);
    return { start: 512, text: area.subarray(0, nul).toString('latin1'), room: area.length };
  };
  const withDescriptor = async (
    name: string,
    edit: (t: string) => string,
    refusedFor: FindingCode,
  ): Promise<void> => {
    const b = Buffer.from(sparse);
    const d = embedded(b);
    const text = Buffer.from(edit(d.text), 'latin1');
    if (text.length >= d.room) throw new Error('fixture: descriptor edit does not fit');
    b.fill(0, d.start, d.start + d.room);
    text.copy(b, d.start);
    const path = p(`${name.replace(/[^a-z0-9]+/gi, '-')}.vmdk`);
    await writeFile(path, b);
    hostile.push({ name, path, refusedFor });
  };
  await withDescriptor(
    'vmdk monolithicSparse with a second extent',
    (t) => t.replace(/(RW \d+ SPARSE "[^"]*")/, `$1\nRW 400 FLAT "${secretPath}" 0`),
    'vmdk-extent',
  );
  await withDescriptor(
    'vmdk createType monolithicFlat',
    (t) => t.replace('createType="monolithicSparse"', 'createType="monolithicFlat"'),
    'vmdk-create-type',
  );
  await withDescriptor(
    'vmdk extent with a path',
    (t) => t.replace(/SPARSE "[^"]*"/, `SPARSE "${secretPath}"`),
    'vmdk-extent',
  );
  await writeFile(p('truncated.vmdk'), sparse.subarray(0, 100));
  hostile.push({ name: 'vmdk truncated header', path: p('truncated.vmdk'), refusedFor: 'truncated-header' });

  const vhd = Buffer.from(await readFile(p('dynamic.vhd')));
  u32be(4).copy(vhd, 60);
  await writeFile(p('differencing.vhd'), vhd);
  hostile.push({
    name: 'vhd differencing disk',
    path: p('differencing.vhd'),
    refusedFor: 'vhd-differencing',
  });

  // Mislabelled formats.
  hostile.push({
    name: 'qcow2 declared raw',
    path: p('v3.qcow2'),
    declared: 'raw',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'raw declared qcow2',
    path: p('data.raw'),
    declared: 'qcow2',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'vhd declared raw',
    path: p('dynamic.vhd'),
    declared: 'raw',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'iso declared qcow2',
    path: p('image.iso'),
    declared: 'qcow2',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'vmdk declared raw',
    path: p('sparse.vmdk'),
    declared: 'raw',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'qed declared qcow2',
    path: p('empty.qed'),
    declared: 'qcow2',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'vhdx declared vhd',
    path: p('empty.vhdx'),
    declared: 'vhd',
    refusedFor: 'format-mismatch',
  });
  hostile.push({
    name: 'virtual size over the limit',
    path: p('v3.qcow2'),
    maxVirtualSize: 32 * MiB,
    refusedFor: 'virtual-size-limit',
  });

  return {
    dir,
    secretPath,
    secretContent,
    benign,
    hostile,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
