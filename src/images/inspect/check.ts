// Inspector first, qemu-img second: qemu-img runs only on an image the inspector accepted, with
// the format given explicitly and under resource limits, and must agree with the inspector.
import { stat } from 'node:fs/promises';
import { inspectImage, type InspectOptions } from './inspect.js';
import { finding, type Finding, type InspectResult } from './types.js';
import { VMDK_ALLOWED_CREATE_TYPES } from './vmdk.js';
import { qemuFormatName, qemuImgInfo, type QemuImgInfo } from '../qemu-img.js';

export interface CheckOptions extends InspectOptions {
  /** Replaces the qemu-img call (tests count calls with it). */
  qemuImgInfo?: (path: string, format: string) => Promise<QemuImgInfo>;
}

/** Inspects, then asks qemu-img; the result is safe only when both accept and agree. */
export async function checkImage(path: string, opts: CheckOptions = {}): Promise<InspectResult> {
  const result = await inspectImage(path, opts);
  if (!result.safe) return result;
  const extra = await qemuSecondOpinion(path, result, opts.qemuImgInfo ?? qemuImgInfo);
  if (extra.length === 0) return result;
  return { ...result, safe: false, findings: [...result.findings, ...extra] };
}

/**
 * Disk formats Kestrel never boots as a disk: a kernel (aki), a ramdisk (ari), and the AMI
 * machine image whose kernel and ramdisk are separate images. Glance stores their data without
 * the disk inspection; the image cache still inspects whatever a boot uses as its disk.
 */
export const NON_DISK_FORMATS: readonly string[] = ['aki', 'ari', 'ami'];

/** The check of an upload: checkImage, except for the formats that are not disks. */
export async function checkUpload(path: string, opts: CheckOptions = {}): Promise<InspectResult> {
  const declared = opts.declaredFormat?.toLowerCase();
  if (declared === undefined || !NON_DISK_FORMATS.includes(declared)) return checkImage(path, opts);
  const st = await stat(path);
  return {
    format: 'raw',
    declaredFormat: declared,
    virtualSize: st.size,
    actualSize: st.blocks * 512,
    fileSize: st.size,
    safe: true,
    findings: [],
    details: { diskChecks: `none: ${declared} is not booted as a disk` },
  };
}

export async function qemuSecondOpinion(
  path: string,
  result: InspectResult,
  info: (path: string, format: string) => Promise<QemuImgInfo> = qemuImgInfo,
): Promise<Finding[]> {
  let q: QemuImgInfo;
  try {
    q = await info(path, result.format);
  } catch (e) {
    return [
      finding(
        'qemu-img-failed',
        `qemu-img info refused the image that the inspector accepted: ${e instanceof Error ? e.message : String(e)}`,
      ),
    ];
  }
  const out: Finding[] = [];
  const disagree = (what: string): void => {
    out.push(finding('qemu-img-disagrees', `qemu-img and the inspector disagree: ${what}.`));
  };
  const expectedFormat = qemuFormatName(result.format);
  if (q.format !== expectedFormat)
    disagree(`qemu-img reads format ${q.format}, the inspector ${expectedFormat}`);
  // A raw image's (or ISO's) size to QEMU is the file size, rounded up to a whole 512-byte
  // sector (QEMU's block layer counts sectors); the ISO's own size may differ.
  const expectedSize = expectedFormat === 'raw' ? result.fileSize : result.virtualSize;
  const sectorRounded = expectedFormat === 'raw' && q['virtual-size'] === Math.ceil(expectedSize / 512) * 512;
  if (q['virtual-size'] !== expectedSize && !sectorRounded) {
    disagree(`qemu-img reads a virtual size of ${q['virtual-size']} bytes, the inspector ${expectedSize}`);
  }
  if (q['backing-filename'] !== undefined || q['full-backing-filename'] !== undefined) {
    disagree('qemu-img sees a backing file');
  }
  const data = q['format-specific']?.data ?? {};
  if (data['data-file'] !== undefined) disagree('qemu-img sees an external data file');
  if (expectedFormat === 'vmdk') {
    const createType = data['create-type'];
    if (typeof createType !== 'string' || !VMDK_ALLOWED_CREATE_TYPES.includes(createType)) {
      disagree(`qemu-img reads VMDK create-type ${JSON.stringify(createType)}`);
    }
    const extents = data.extents;
    if (Array.isArray(extents) && extents.length !== 1)
      disagree(`qemu-img sees ${extents.length} VMDK extents`);
  }
  return out;
}
