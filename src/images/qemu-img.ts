// qemu-img, always with the format given explicitly (never probed) and, on untrusted images,
// under prlimit: 30 CPU-seconds and 1 GiB of address space, as Nova runs it.
import { runChecked, type RunOptions } from '../util/run.js';
import { ImageError } from './errors.js';

export const QEMU_IMG_LIMITS = { cpuSeconds: 30, addressSpaceBytes: 1024 * 1024 * 1024 };

/** QEMU's driver name for an inspector format (vhd is "vpc"; an ISO is raw to QEMU). */
export function qemuFormatName(format: string): string {
  if (format === 'vhd') return 'vpc';
  if (format === 'iso') return 'raw';
  return format;
}

export interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'cluster-size'?: number;
  'format-specific'?: { type: string; data?: Record<string, unknown> };
}

export async function qemuImgInfo(
  path: string,
  format: string,
  opts: { limits?: boolean } = {},
): Promise<QemuImgInfo> {
  const argv = ['qemu-img', 'info', '--output=json', '--force-share', '-f', qemuFormatName(format), path];
  const r = await runChecked(argv, {
    timeoutMs: 60_000,
    limits: opts.limits === false ? undefined : QEMU_IMG_LIMITS,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new ImageError(
      'storage-unavailable',
      `qemu-img info printed no JSON for ${path}: ${r.stdout.slice(0, 200)}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as QemuImgInfo).format !== 'string') {
    throw new ImageError('storage-unavailable', `qemu-img info gave no format for ${path}`);
  }
  return parsed as QemuImgInfo;
}

export async function qemuImgConvert(
  src: string,
  srcFormat: string,
  dest: string,
  destFormat: 'raw' | 'qcow2',
  opts: RunOptions = {},
): Promise<void> {
  await runChecked(
    ['qemu-img', 'convert', '-q', '-f', qemuFormatName(srcFormat), '-O', destFormat, src, dest],
    { timeoutMs: 3_600_000, ...opts },
  );
}

export async function qemuImgResize(path: string, format: 'raw' | 'qcow2', sizeBytes: number): Promise<void> {
  await runChecked(['qemu-img', 'resize', '-q', '-f', format, path, String(sizeBytes)], {
    timeoutMs: 120_000,
  });
}

/** The baseline overlay maker (the TypeScript writer in backends/qcow2-overlay.ts is faster). */
export async function qemuImgCreateOverlay(
  path: string,
  backingPath: string,
  backingFormat: 'raw' | 'qcow2',
  sizeBytes: number,
): Promise<void> {
  await runChecked(
    [
      'qemu-img',
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      backingPath,
      '-F',
      backingFormat,
      path,
      String(sizeBytes),
    ],
    { timeoutMs: 60_000 },
  );
}
