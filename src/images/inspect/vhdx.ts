// VHDX: "vhdxfile" identifier, a region table at 192 KiB pointing at the metadata region,
// whose table gives the virtual disk size. A parent locator or the HasParent flag means a
// differencing disk that reads another file: refused.
import { finding, type Finding, type FormatProbe, type FormatReport } from './types.js';
import { startsWith, u64le } from './bytes.js';

export const VHDX_MAGIC = Buffer.from('vhdxfile', 'latin1');
const REGION_TABLE_OFFSET = 192 * 1024;
const MAX_ENTRIES = 2047;

/** A GUID in its on-disk (mixed-endian) byte order. */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  const b = Buffer.from(hex, 'hex');
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}
export const VHDX_METADATA_REGION = guidBytes('8B7CA206-4790-4B9A-B8FE-575F050F886E');
export const VHDX_VIRTUAL_DISK_SIZE = guidBytes('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
export const VHDX_FILE_PARAMETERS = guidBytes('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
export const VHDX_PARENT_LOCATOR = guidBytes('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C');

export const probeVhdx: FormatProbe = async (src, head) => {
  if (!startsWith(head, VHDX_MAGIC)) return null;
  const findings: Finding[] = [];
  const out = (virtualSize: number): FormatReport => ({ format: 'vhdx', virtualSize, findings, details: {} });
  const table = await src.read(REGION_TABLE_OFFSET, 64 * 1024);
  if (table.length < 16 || table.subarray(0, 4).toString('latin1') !== 'regi') {
    findings.push(
      finding(
        table.length < 16 ? 'truncated-header' : 'vhdx-metadata',
        'VHDX region table is missing at 192 KiB.',
      ),
    );
    return out(0);
  }
  const regions = table.readUInt32LE(8);
  if (regions > MAX_ENTRIES || 16 + regions * 32 > table.length) {
    findings.push(finding('vhdx-metadata', `VHDX region table claims ${regions} entries.`));
    return out(0);
  }
  let metaOffset = -1;
  let metaLength = 0;
  for (let i = 0; i < regions; i++) {
    const e = table.subarray(16 + i * 32, 48 + i * 32);
    if (e.subarray(0, 16).equals(VHDX_METADATA_REGION)) {
      metaOffset = u64le(e, 16);
      metaLength = e.readUInt32LE(24);
    }
  }
  if (metaOffset < 0 || metaOffset >= src.size) {
    findings.push(
      finding(
        metaOffset < 0 ? 'vhdx-metadata' : 'truncated-header',
        'VHDX metadata region is missing or lies outside the file.',
      ),
    );
    return out(0);
  }
  const meta = await src.read(metaOffset, Math.min(metaLength || 65536, 1024 * 1024));
  if (meta.length < 32 || meta.subarray(0, 8).toString('latin1') !== 'metadata') {
    findings.push(finding('vhdx-metadata', 'VHDX metadata table has no "metadata" signature.'));
    return out(0);
  }
  const count = meta.readUInt16LE(10);
  if (count > MAX_ENTRIES || 32 + count * 32 > meta.length) {
    findings.push(finding('vhdx-metadata', `VHDX metadata table claims ${count} entries.`));
    return out(0);
  }
  let virtualSize = -1;
  for (let i = 0; i < count; i++) {
    const e = meta.subarray(32 + i * 32, 64 + i * 32);
    const id = e.subarray(0, 16);
    const off = e.readUInt32LE(16);
    const len = e.readUInt32LE(20);
    if (id.equals(VHDX_PARENT_LOCATOR)) {
      findings.push(
        finding(
          'vhdx-parent',
          'VHDX image is a differencing disk (it has a parent locator): it would read another file on the host. Merge it first.',
        ),
      );
    } else if (id.equals(VHDX_VIRTUAL_DISK_SIZE) && len >= 8 && off + 8 <= meta.length) {
      virtualSize = u64le(meta, off);
    } else if (id.equals(VHDX_FILE_PARAMETERS) && len >= 8 && off + 8 <= meta.length) {
      if (meta.readUInt32LE(off + 4) & 2) {
        findings.push(
          finding(
            'vhdx-parent',
            'VHDX file parameters set HasParent: it is a differencing disk that reads another file.',
          ),
        );
      }
    }
  }
  if (virtualSize < 0) {
    findings.push(finding('vhdx-metadata', 'VHDX metadata has no virtual disk size.'));
    return out(0);
  }
  return out(virtualSize);
};
