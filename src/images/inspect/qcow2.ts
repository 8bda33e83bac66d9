// qcow2 (versions 2 and 3): QEMU's docs/interop/qcow2.txt. Big-endian header at offset 0,
// header extensions after it, all within the first cluster. Refused: a backing file, an
// external data file, the corrupt bit, unknown incompatible features, encryption, and any
// geometry or offset QEMU would have to trust blindly.
import { finding, type Finding, type FormatProbe } from './types.js';
import { quoted, startsWith, u64be } from './bytes.js';

export const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"

const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
const MAX_L1_BYTES = 32 * 1024 * 1024; // QEMU's QCOW_MAX_L1_SIZE

// Incompatible feature bits QEMU 7.2 knows. Bit 1 (corrupt) and bit 2 (external data file)
// are known but refused; anything at bit 5 or above is unknown and refused.
const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTENDED_L2;

const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;

export const probeQcow2: FormatProbe = async (src, head) => {
  if (!startsWith(head, QCOW2_MAGIC)) return null;
  const findings: Finding[] = [];
  const details: Record<string, string | number | boolean> = {};
  const h = head.length >= V3_MIN_HEADER_LENGTH ? head : await src.read(0, 4096);
  if (h.length < V2_HEADER_LENGTH) {
    return truncated(h.length, V2_HEADER_LENGTH);
  }
  const version = h.readUInt32BE(4);
  details.version = version;
  const virtualSize = u64be(h, 24);
  if (version !== 2 && version !== 3) {
    findings.push(
      finding('qcow2-version', `qcow2 version ${version} is not supported (only 2 and 3 exist).`),
    );
    return { format: 'qcow2', virtualSize, findings, details };
  }
  let headerLength = V2_HEADER_LENGTH;
  let incompatible = 0n;
  let refcountOrder = 4;
  if (version === 3) {
    if (h.length < V3_MIN_HEADER_LENGTH) return truncated(h.length, V3_MIN_HEADER_LENGTH);
    incompatible = h.readBigUInt64BE(72);
    refcountOrder = h.readUInt32BE(96);
    headerLength = h.readUInt32BE(100);
  }
  details.compat = version === 2 ? '0.10' : '1.1';

  const backingOffset = u64be(h, 8);
  const backingSize = h.readUInt32BE(16);
  const clusterBits = h.readUInt32BE(20);
  const cryptMethod = h.readUInt32BE(32);
  const l1Size = h.readUInt32BE(36);
  const l1Offset = u64be(h, 40);
  const refcountOffset = u64be(h, 48);
  const refcountClusters = h.readUInt32BE(56);
  const nbSnapshots = h.readUInt32BE(60);
  const snapshotsOffset = u64be(h, 64);

  if (backingOffset !== 0) {
    const name =
      backingSize > 0 && backingSize <= 1023 ? await src.read(backingOffset, backingSize) : undefined;
    findings.push(
      finding(
        'qcow2-backing-file',
        `qcow2 image has a backing file${name?.length ? ` (${quoted(name)})` : ''}: an uploaded image must ` +
          'stand alone, since a backing file could name any file on the host. Flatten it first: ' +
          'qemu-img convert -O qcow2 IN OUT.',
      ),
    );
  }
  if (incompatible & INCOMPAT_DATA_FILE) {
    findings.push(
      finding(
        'qcow2-data-file',
        'qcow2 image uses an external data file (incompatible feature bit 2): its data would be ' +
          'read from another file on the host. Convert it into a self-contained image first.',
      ),
    );
  }
  if (incompatible & INCOMPAT_CORRUPT) {
    findings.push(
      finding(
        'qcow2-corrupt',
        'qcow2 image is marked corrupt (incompatible feature bit 1); repair it with qemu-img check -r all.',
      ),
    );
  }
  const unknown = incompatible & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) {
    findings.push(
      finding(
        'qcow2-unknown-feature',
        `qcow2 image sets unknown incompatible feature bits 0x${unknown.toString(16)}: nothing can ` +
          'say how such an image is read, so it is refused.',
      ),
    );
  }
  if (cryptMethod !== 0) {
    findings.push(
      finding(
        'qcow2-encrypted',
        `qcow2 image is encrypted (crypt_method ${cryptMethod}); Kestrel has no key for it. Upload it decrypted.`,
      ),
    );
  }

  // Geometry: every offset the header gives must lie inside the file and on a cluster boundary.
  const geometry = (why: string): void => {
    findings.push(finding('qcow2-geometry', `qcow2 header is inconsistent: ${why}.`));
  };
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    geometry(`cluster_bits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
    return { format: 'qcow2', virtualSize, findings, details };
  }
  const clusterSize = 2 ** clusterBits;
  details.clusterSize = clusterSize;
  const fileSize = src.size;
  const fileClusters = Math.ceil(fileSize / clusterSize) * clusterSize;
  if (version === 3) {
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength > clusterSize || headerLength % 8 !== 0) {
      geometry(`header_length ${headerLength} must be a multiple of 8 between 104 and the cluster size`);
    }
    if (refcountOrder > 6) geometry(`refcount_order ${refcountOrder} is above 6`);
  }
  const l2Entries = clusterSize / (incompatible & INCOMPAT_EXTENDED_L2 ? 16 : 8);
  const bytesPerL1Entry = clusterSize * l2Entries;
  const l1Needed = Math.ceil(virtualSize / bytesPerL1Entry);
  if (l1Size * 8 > MAX_L1_BYTES) geometry(`l1_size ${l1Size} exceeds QEMU's limit of ${MAX_L1_BYTES / 8}`);
  else if (l1Size < l1Needed) {
    geometry(`l1_size ${l1Size} cannot map the virtual size ${virtualSize} (needs ${l1Needed})`);
  }
  if (l1Size > 0 || l1Offset !== 0) {
    if (l1Offset % clusterSize !== 0) geometry(`l1_table_offset ${l1Offset} is not cluster-aligned`);
    else if (l1Offset === 0 || l1Offset + l1Size * 8 > fileClusters) {
      geometry(`the L1 table (offset ${l1Offset}, ${l1Size} entries) lies outside the ${fileSize}-byte file`);
    }
  }
  if (refcountOffset === 0 || refcountOffset % clusterSize !== 0 || refcountOffset >= fileSize) {
    geometry(`refcount_table_offset ${refcountOffset} is not a cluster-aligned offset inside the file`);
  } else if (
    refcountClusters === 0 ||
    refcountOffset + refcountClusters * clusterSize > fileClusters + clusterSize
  ) {
    geometry(`the refcount table (${refcountClusters} clusters at ${refcountOffset}) lies outside the file`);
  }
  if (
    nbSnapshots > 0 &&
    (snapshotsOffset % clusterSize !== 0 || snapshotsOffset === 0 || snapshotsOffset >= fileSize)
  ) {
    geometry(`snapshots_offset ${snapshotsOffset} is not a cluster-aligned offset inside the file`);
  }
  if (nbSnapshots > 0) details.snapshots = nbSnapshots;
  if (backingOffset !== 0 && (backingOffset >= clusterSize || backingSize > 1023)) {
    geometry(
      `the backing file name (offset ${backingOffset}, ${backingSize} bytes) is outside the first cluster`,
    );
  }

  // Header extensions: between the header and the end of the first cluster.
  if (headerLength <= clusterSize) {
    const area = await src.read(0, Math.min(clusterSize, 65536));
    let off = headerLength;
    for (;;) {
      if (off + 8 > area.length) {
        if (area.length < Math.min(clusterSize, fileSize)) break;
        if (off + 8 > Math.min(clusterSize, 65536)) break; // no end marker before the cluster end
        findings.push(finding('truncated-header', 'qcow2 header extensions run past the end of the file.'));
        break;
      }
      const type = area.readUInt32BE(off);
      const len = area.readUInt32BE(off + 4);
      if (type === EXT_END) break;
      const dataEnd = off + 8 + len;
      if (dataEnd > clusterSize) {
        geometry(`header extension 0x${type.toString(16)} (${len} bytes) runs past the first cluster`);
        break;
      }
      if (type === EXT_DATA_FILE) {
        if (!(incompatible & INCOMPAT_DATA_FILE)) {
          findings.push(
            finding(
              'qcow2-data-file',
              `qcow2 image names an external data file ${quoted(area.subarray(off + 8, dataEnd))}; ` +
                'its data would be read from another file on the host.',
            ),
          );
        }
      } else if (type === EXT_BACKING_FORMAT) {
        details.backingFormat = area.subarray(off + 8, dataEnd).toString('latin1');
      }
      off = dataEnd + ((8 - (len % 8)) % 8);
    }
  }
  return { format: 'qcow2', virtualSize, findings, details };
};

function truncated(have: number, need: number) {
  return {
    format: 'qcow2' as const,
    virtualSize: 0,
    findings: [
      finding(
        'truncated-header',
        `qcow2 header is truncated: ${have} bytes where at least ${need} are needed.`,
      ),
    ],
    details: {},
  };
}
