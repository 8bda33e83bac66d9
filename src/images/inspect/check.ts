// Inspector first, qemu-img second: qemu-img runs only on an image the inspector accepted, with
// the format given explicitly and under resource limits, and must agree with the inspector.
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
  // A raw image's (or ISO's) size to QEMU is the file size; the ISO's own size may differ.
  const expectedSize = expectedFormat === 'raw' ? result.fileSize : result.virtualSize;
  if (q['virtual-size'] !== expectedSize) {
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
