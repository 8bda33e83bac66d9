// The format inspector: detects the format from headers alone, then applies the safety rules:
// every format's own refusals, the declared format must match the detected
// one, and the virtual size must stay under a limit. It never opens a file an image names.
import { BufferSource, FileSource } from './source.js';
import {
  finding,
  type ByteSource,
  type DetectedFormat,
  type Finding,
  type FormatProbe,
  type FormatReport,
  type InspectResult,
} from './types.js';
import { probeQcow2 } from './qcow2.js';
import { probeQed } from './qed.js';
import { probeVmdk } from './vmdk.js';
import { probeVhd } from './vhd.js';
import { probeVhdx } from './vhdx.js';
import { probeIso } from './iso.js';
import { probeLuks, probeVdi } from './misc.js';
import { probePartitionTable } from './partition.js';
import { formatBytes } from './bytes.js';

const HEAD_BYTES = 4096;
/** Formats whose signature sits at the start of the file (mutually exclusive by magic). */
const HEADER_PROBES: FormatProbe[] = [
  probeQcow2,
  probeQed,
  probeVmdk,
  probeVhd,
  probeVhdx,
  probeVdi,
  probeLuks,
];

/** Glance disk_format values Kestrel can check, and what content each must have. */
const DECLARED_ALIASES: Record<string, DetectedFormat> = {
  raw: 'raw',
  aki: 'raw',
  ari: 'raw',
  ami: 'raw',
  qcow2: 'qcow2',
  qed: 'qed',
  vmdk: 'vmdk',
  vhd: 'vhd',
  vpc: 'vhd',
  vhdx: 'vhdx',
  vdi: 'vdi',
  iso: 'iso',
};
export const INSPECTABLE_DISK_FORMATS = Object.keys(DECLARED_ALIASES);

export interface InspectOptions {
  /** Glance's disk_format; when absent the detected format is taken as declared. */
  declaredFormat?: string;
  /** Refuse images whose virtual size is larger than this many bytes. */
  maxVirtualSize?: number;
}

/** Inspects a file on disk (it must be complete: the inspector reads any offset it needs). */
export async function inspectImage(path: string, opts: InspectOptions = {}): Promise<InspectResult> {
  const src = await FileSource.open(path);
  try {
    return await inspectSource(src, opts, src.allocatedBytes);
  } finally {
    await src.close();
  }
}

export function inspectBuffer(buf: Buffer, opts: InspectOptions = {}): Promise<InspectResult> {
  return inspectSource(new BufferSource(buf), opts, buf.length);
}

export async function inspectSource(
  src: ByteSource,
  opts: InspectOptions,
  actualSize: number,
): Promise<InspectResult> {
  const head = await src.read(0, HEAD_BYTES);
  const matches: FormatReport[] = [];
  for (const probe of HEADER_PROBES) {
    const r = await probe(src, head);
    if (r) matches.push(r);
  }
  const iso = await probeIso(src, head);
  if (iso) matches.push(iso);

  const findings: Finding[] = [];
  let report: FormatReport;
  if (matches.length === 0) {
    report = { format: 'raw', virtualSize: src.size, findings: [], details: {} };
    const table = await probePartitionTable(src, head);
    if (table) {
      report.details.partitionTable = table.table;
      if (table.notes.length) report.details.partitionNotes = table.notes.join('; ');
    }
  } else {
    report = matches[0];
    if (matches.length > 1) {
      findings.push(
        finding(
          'ambiguous-format',
          `the file looks like several formats at once (${matches.map((m) => m.format).join(', ')}); such a polyglot is refused.`,
        ),
      );
    } else if (report.format === 'iso') {
      const table = await probePartitionTable(src, head);
      if (table) report.details.partitionTable = table.table; // hybrid ISO: still an ISO
    }
  }
  findings.push(...report.findings);

  const declaredFormat = opts.declaredFormat ?? report.format;
  const expected = DECLARED_ALIASES[declaredFormat.toLowerCase()];
  if (opts.declaredFormat === undefined) {
    // nothing declared: the detected format stands (its own findings say if it is unsupported)
  } else if (expected === undefined) {
    findings.push(
      finding(
        'unsupported-format',
        `disk format "${declaredFormat}" cannot be inspected; use one of ${INSPECTABLE_DISK_FORMATS.join(', ')}.`,
      ),
    );
  } else if (expected !== report.format) {
    findings.push(
      finding(
        'format-mismatch',
        `the image was declared ${declaredFormat} but its content is ${report.format}; upload it with disk_format=${report.format} or convert it.`,
      ),
    );
  }
  if (opts.maxVirtualSize !== undefined && report.virtualSize > opts.maxVirtualSize) {
    findings.push(
      finding(
        'virtual-size-limit',
        `virtual size ${formatBytes(report.virtualSize)} is over the limit of ${formatBytes(opts.maxVirtualSize)}.`,
      ),
    );
  }
  return {
    format: report.format,
    declaredFormat,
    virtualSize: report.virtualSize,
    actualSize,
    fileSize: src.size,
    safe: findings.length === 0,
    findings,
    details: report.details,
  };
}
