// Copies a file keeping it sparse: a reflink (FICLONE) where the filesystem can share blocks,
// else a read/write loop that skips zero blocks (like `cp --sparse=always`) with the next read
// in flight while the current chunk is written.
import { constants } from 'node:fs';
import { copyFile, open, rm } from 'node:fs/promises';

const CHUNK = 256 * 1024;
const IN_FLIGHT = 3;
const BLOCK = 64 * 1024; // hole granularity
const ZERO = Buffer.alloc(BLOCK);

export type CopyMethod = 'reflink' | 'sparse';

/** Copies src to dest (which must not exist); on failure dest is removed. */
export async function copySparse(src: string, dest: string): Promise<CopyMethod> {
  try {
    await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    return 'reflink';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT' || code === 'EACCES') throw e;
    await rm(dest, { force: true }); // the failed clone may have created it
  }
  try {
    await copyWithHoles(src, dest);
    return 'sparse';
  } catch (e) {
    await rm(dest, { force: true });
    throw e;
  }
}

async function copyWithHoles(src: string, dest: string): Promise<void> {
  const input = await open(src, 'r');
  try {
    const output = await open(dest, 'wx', 0o644);
    try {
      const { size } = await input.stat();
      // A few chunks in flight, each read then written at its own offset: the thread pool
      // overlaps reading one chunk with writing another.
      let next = 0;
      const worker = async (): Promise<void> => {
        const buf = Buffer.allocUnsafe(CHUNK);
        while (next < size) {
          const at = next;
          next += CHUNK;
          const want = Math.min(CHUNK, size - at);
          let got = 0;
          while (got < want) {
            const { bytesRead } = await input.read(buf, got, want - got, at + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          await writeNonZero(output, buf.subarray(0, got), at);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      await output.truncate(size);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** Writes the runs of non-zero blocks of data at offset; zero blocks stay holes. */
async function writeNonZero(
  out: Awaited<ReturnType<typeof open>>,
  data: Buffer,
  offset: number,
): Promise<void> {
  let runStart = -1;
  for (let off = 0; off <= data.length; off += BLOCK) {
    const end = Math.min(off + BLOCK, data.length);
    const zero = off >= data.length || data.subarray(off, end).equals(ZERO.subarray(0, end - off));
    if (!zero && runStart < 0) runStart = off;
    if (zero && runStart >= 0) {
      await writeAll(out, data.subarray(runStart, off), offset + runStart);
      runStart = -1;
    }
  }
  // data.length not a multiple of BLOCK: the loop ends before the last run is flushed.
  if (runStart >= 0) await writeAll(out, data.subarray(runStart), offset + runStart);
}

async function writeAll(out: Awaited<ReturnType<typeof open>>, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await out.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
