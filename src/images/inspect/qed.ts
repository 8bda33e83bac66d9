// QED (QEMU Enhanced Disk): little-endian header at offset 0. Supported, but a backing file or
// an unknown feature is refused, and the tables must lie inside the file.
import { finding, type Finding, type FormatProbe, type FormatReport } from './types.js';
import { quoted, startsWith, u64le } from './bytes.js';

export const QED_MAGIC = Buffer.from('QED\0', 'latin1');
const HEADER_LENGTH = 64;
const F_BACKING_FILE = 1n << 0n;
const F_NEED_CHECK = 1n << 1n;
const F_BACKING_FORMAT_NO_PROBE = 1n << 2n;
const F_KNOWN = F_BACKING_FILE | F_NEED_CHECK | F_BACKING_FORMAT_NO_PROBE;

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export const probeQed: FormatProbe = async (src, head): Promise<FormatReport | null> => {
  if (!startsWith(head, QED_MAGIC)) return null;
  if (head.length < HEADER_LENGTH) {
    return {
      format: 'qed',
      virtualSize: 0,
      findings: [
        finding(
          'truncated-header',
          `QED header is truncated: ${head.length} bytes where ${HEADER_LENGTH} are needed.`,
        ),
      ],
      details: {},
    };
  }
  const findings: Finding[] = [];
  const clusterSize = head.readUInt32LE(4);
  const tableSize = head.readUInt32LE(8);
  const headerSize = head.readUInt32LE(12);
  const features = head.readBigUInt64LE(16);
  const l1Offset = u64le(head, 40);
  const virtualSize = u64le(head, 48);
  const backingOffset = head.readUInt32LE(56);
  const backingSize = head.readUInt32LE(60);

  if (features & F_BACKING_FILE || backingOffset !== 0) {
    const name =
      backingOffset && backingSize > 0 && backingSize < 1024
        ? await src.read(backingOffset, backingSize)
        : undefined;
    findings.push(
      finding(
        'qed-backing-file',
        `QED image has a backing file${name?.length ? ` (${quoted(name)})` : ''}: an uploaded image must stand ` +
          'alone, since a backing file could name any file on the host. Convert it first: qemu-img convert -O qcow2 IN OUT.',
      ),
    );
  }
  const unknown = features & ~F_KNOWN;
  if (unknown !== 0n) {
    findings.push(
      finding(
        'qed-unknown-feature',
        `QED image sets unknown feature bits 0x${unknown.toString(16)}; it is refused.`,
      ),
    );
  }
  const geometry = (why: string): void => {
    findings.push(finding('qed-geometry', `QED header is inconsistent: ${why}.`));
  };
  if (!isPow2(clusterSize) || clusterSize < 4096 || clusterSize > 64 * 1024 * 1024) {
    geometry(`cluster_size ${clusterSize} is not a power of two between 4 KiB and 64 MiB`);
  } else {
    if (!isPow2(tableSize) || tableSize > 16)
      geometry(`table_size ${tableSize} is not a power of two up to 16`);
    if (headerSize === 0 || headerSize > 16) geometry(`header_size ${headerSize} clusters is out of range`);
    if (l1Offset === 0 || l1Offset % clusterSize !== 0 || l1Offset >= src.size) {
      geometry(`l1_table_offset ${l1Offset} is not a cluster-aligned offset inside the file`);
    }
    const maxSize = (clusterSize / 8) ** 2 * tableSize * tableSize * clusterSize;
    if (virtualSize > maxSize) geometry(`image_size ${virtualSize} exceeds what the tables can map`);
  }
  if (virtualSize % 512 !== 0) geometry(`image_size ${virtualSize} is not a multiple of 512`);
  return { format: 'qed', virtualSize, findings, details: { clusterSize } };
};
