// The data side of the Image v2 service: where image bytes live. Metadata (name, status,
// properties) belongs to the database; a store only holds, checks and serves bytes.
import type { Readable } from 'node:stream';

export interface StoredImageFacts {
  /** Bytes stored. */
  size: number;
  /** MD5 hex of the data (Glance's `checksum`, verified by the SDK on download). */
  checksum: string;
  osHashAlgo: 'sha512';
  osHashValue: string;
  /** What the inspector detected, and the virtual size it read from the headers. */
  detectedFormat: string;
  virtualSize: number;
  /** Where the data is, e.g. file:///var/lib/kestrel/images/<id> or rbd://fsid/pool/image/snap */
  location: string;
}

export interface PutImageOptions {
  /** The disk_format the user declared; a mismatch with the detected format is refused. */
  declaredFormat: string;
  /** Refuse images whose virtual size is larger than this many bytes. */
  maxVirtualSize?: number;
  /** Refuse uploads larger than this many bytes. */
  maxSize?: number;
}

export interface ImageStore {
  readonly kind: 'file' | 'rbd';
  /**
   * Streams data in, inspects it, and keeps it only when it is safe and whole. On any
   * failure (refused, interrupted, too large) nothing is left behind and the error says why.
   */
  put(imageId: string, data: Readable, opts: PutImageOptions): Promise<StoredImageFacts>;
  /** Streams the data out (download, and the compute image cache's fetch). */
  get(imageId: string): Promise<Readable>;
  /** A local path to the data, when the store keeps it on a local filesystem. */
  localPath(imageId: string): string | undefined;
  delete(imageId: string): Promise<void>;
  exists(imageId: string): Promise<boolean>;
}
