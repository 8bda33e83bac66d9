// Small helpers for reading header fields. 64-bit fields are read as bigint and turned into a
// number: sizes and offsets above 2^53 cannot be real on this host and still compare as huge.
export function u64be(b: Buffer, off: number): number {
  return Number(b.readBigUInt64BE(off));
}
export function u64le(b: Buffer, off: number): number {
  return Number(b.readBigUInt64LE(off));
}
export function startsWith(b: Buffer, magic: Buffer, at = 0): boolean {
  return b.length >= at + magic.length && b.subarray(at, at + magic.length).equals(magic);
}
/** A header string quoted for a message: printable ASCII only, at most 120 characters. */
export function quoted(b: Buffer | string): string {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 120 ? `${clean.slice(0, 117)}...` : clean);
}
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n} bytes (${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]})`;
}
