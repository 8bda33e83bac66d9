// Byte sources for the inspector: positional reads on an open file, or a buffer.
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './types.js';
import { ImageError } from '../errors.js';

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.buf.length || offset < 0) return Promise.resolve(Buffer.alloc(0));
    return Promise.resolve(this.buf.subarray(offset, Math.min(this.buf.length, offset + length)));
  }
}

export class FileSource implements ByteSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly allocatedBytes: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ImageError('image-refused', `${path} is not a regular file`);
      return new FileSource(fh, st.size, st.blocks * 512);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset >= this.size || length <= 0) return Buffer.alloc(0);
    const want = Math.min(length, this.size - offset);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
