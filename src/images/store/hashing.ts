// A pass-through stream that computes Glance's checksum (MD5) and os_hash_value (SHA-512),
// counts the bytes, and fails as soon as they pass a limit (so an oversized upload stops early).
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingCounter extends Transform {
  readonly md5: Hash = createHash('md5');
  readonly sha512: Hash = createHash('sha512');
  bytes = 0;

  constructor(
    private readonly maxBytes: number | undefined,
    private readonly tooLarge: () => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.maxBytes !== undefined && this.bytes > this.maxBytes) {
      cb(this.tooLarge());
      return;
    }
    this.md5.update(chunk);
    this.sha512.update(chunk);
    cb(null, chunk);
  }
}
