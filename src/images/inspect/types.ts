// What the format inspector reports. It reads headers and metadata only, never the guest data
// and never a file an image refers to (a backing file, a data file, a VMDK extent).

/** Formats the inspector recognises. `vhd` is what QEMU calls `vpc`; `iso` is raw to QEMU. */
export type DetectedFormat = 'raw' | 'qcow2' | 'qed' | 'vmdk' | 'vhd' | 'vhdx' | 'iso' | 'vdi' | 'luks';

/** Stable codes for the reasons an image is refused (the sentence goes in `message`). */
export type FindingCode =
  | 'truncated-header'
  | 'format-mismatch'
  | 'ambiguous-format'
  | 'unsupported-format'
  | 'virtual-size-limit'
  | 'qcow2-backing-file'
  | 'qcow2-data-file'
  | 'qcow2-unknown-feature'
  | 'qcow2-corrupt'
  | 'qcow2-encrypted'
  | 'qcow2-version'
  | 'qcow2-geometry'
  | 'qed-backing-file'
  | 'qed-unknown-feature'
  | 'qed-geometry'
  | 'vmdk-create-type'
  | 'vmdk-extent'
  | 'vmdk-descriptor'
  | 'vmdk-footer'
  | 'vhd-differencing'
  | 'vhdx-parent'
  | 'vhdx-metadata'
  | 'qemu-img-failed'
  | 'qemu-img-disagrees';

export interface Finding {
  code: FindingCode;
  /** One sentence: what is wrong with the image and why Kestrel refuses it. */
  message: string;
}

/** What one format's parser found in the headers. */
export interface FormatReport {
  format: DetectedFormat;
  /** Guest-visible size in bytes, from the headers (raw: the file size). */
  virtualSize: number;
  findings: Finding[];
  /** Facts worth showing an operator (cluster size, create type, partition table …). */
  details: Record<string, string | number | boolean>;
}

export interface InspectResult {
  format: DetectedFormat;
  /** The format the caller declared (Glance's disk_format); the detected one when none was. */
  declaredFormat: string;
  virtualSize: number;
  /** Bytes allocated on the host (st_blocks × 512, as `qemu-img info` reports). */
  actualSize: number;
  /** Bytes in the file. */
  fileSize: number;
  safe: boolean;
  findings: Finding[];
  details: Record<string, string | number | boolean>;
}

/** Random-access reads over the bytes being inspected (a file, or a buffer in tests). */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `offset`; a shorter buffer means the end of the data. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A format parser: null when the magic is not its own, else what it found. */
export type FormatProbe = (src: ByteSource, head: Buffer) => Promise<FormatReport | null>;

export function finding(code: FindingCode, message: string): Finding {
  return { code, message };
}
