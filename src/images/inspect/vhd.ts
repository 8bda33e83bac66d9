// VHD (QEMU's "vpc"): a 512-byte "conectix" footer, copied at offset 0 in dynamic and
// differencing disks. A differencing disk (type 4) has a parent file: refused.
import { finding, type Finding, type FormatProbe, type FormatReport } from './types.js';
import { startsWith, u64be } from './bytes.js';

export const VHD_MAGIC = Buffer.from('conectix', 'latin1');
const FOOTER_LENGTH = 512;
const DISK_TYPE_FIXED = 2;
const DISK_TYPE_DIFFERENCING = 4;
const MAX_CHS_SECTORS = 65535 * 16 * 255;

// QEMU's vpc driver sizes a disk by its CHS geometry unless the creator is known to use the
// footer's current size (Hyper-V, disk2vhd, XenServer, QEMU's "qem2"); we follow it so that
// our virtual size and `qemu-img info`'s agree.
const CURRENT_SIZE_CREATORS = ['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'];

export const probeVhd: FormatProbe = async (src, head): Promise<FormatReport | null> => {
  if (!startsWith(head, VHD_MAGIC)) {
    // A fixed VHD has its footer only at the end of the file.
    if (src.size < 1024) return null;
    const tail = await src.read(src.size - FOOTER_LENGTH, FOOTER_LENGTH);
    if (!startsWith(tail, VHD_MAGIC) || tail.readUInt32BE(60) !== DISK_TYPE_FIXED) return null;
    return footerReport(tail);
  }
  if (head.length < FOOTER_LENGTH) {
    return {
      format: 'vhd',
      virtualSize: 0,
      findings: [
        finding('truncated-header', `VHD footer is truncated: ${head.length} of ${FOOTER_LENGTH} bytes.`),
      ],
      details: {},
    };
  }
  return footerReport(head);
};

function footerReport(head: Buffer): FormatReport {
  const findings: Finding[] = [];
  const creator = head.subarray(28, 32).toString('latin1');
  const currentSize = u64be(head, 48);
  const cylinders = head.readUInt16BE(56);
  const heads = head.readUInt8(58);
  const sectorsPerTrack = head.readUInt8(59);
  const diskType = head.readUInt32BE(60);
  const chsSectors = cylinders * heads * sectorsPerTrack;
  const useChs = !CURRENT_SIZE_CREATORS.includes(creator);
  const virtualSize =
    useChs && chsSectors !== MAX_CHS_SECTORS ? chsSectors * 512 : Math.floor(currentSize / 512) * 512;
  if (diskType === DISK_TYPE_DIFFERENCING) {
    findings.push(
      finding(
        'vhd-differencing',
        'VHD image is a differencing disk: it reads from a parent file that could be any file on the host. Merge it first.',
      ),
    );
  } else if (diskType !== 2 && diskType !== 3) {
    findings.push(
      finding('unsupported-format', `VHD disk type ${diskType} is neither fixed (2) nor dynamic (3).`),
    );
  }
  return {
    format: 'vhd',
    virtualSize,
    findings,
    details: {
      subformat: diskType === DISK_TYPE_FIXED ? 'fixed' : 'dynamic',
      creator: creator.replace(/\0/g, ''),
    },
  };
}
