// ISO 9660 / UDF: volume descriptors from 32 KiB on. Raw to QEMU; no references to follow.
import type { FormatProbe } from './types.js';

const DESCRIPTOR_OFFSET = 32 * 1024;
const IDENTIFIERS = ['CD001', 'NSR02', 'NSR03', 'BEA01'];

export const probeIso: FormatProbe = async (src) => {
  if (src.size < DESCRIPTOR_OFFSET + 2048) return null;
  const d = await src.read(DESCRIPTOR_OFFSET, 2048);
  if (d.length < 2048 || !IDENTIFIERS.includes(d.subarray(1, 6).toString('latin1'))) return null;
  let virtualSize = src.size;
  const details: Record<string, string | number | boolean> = {
    identifier: d.subarray(1, 6).toString('latin1'),
  };
  if (d[0] === 1 && d.subarray(1, 6).toString('latin1') === 'CD001') {
    // Primary volume descriptor: both-endian fields; the little-endian halves come first.
    const blocks = d.readUInt32LE(80);
    const blockSize = d.readUInt16LE(128);
    if (blocks > 0 && blockSize > 0) {
      virtualSize = blocks * blockSize;
      details.volumeSize = virtualSize;
    }
  }
  return { format: 'iso', virtualSize, findings: [], details };
};
