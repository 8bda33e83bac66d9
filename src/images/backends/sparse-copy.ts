// Copies a file keeping it sparse, with `cp --sparse=always --reflink=auto` (as Nova's flat
// backend copies with cp): a reflink (FICLONE) where the filesystem can share blocks, else one
// read/write loop in 128 KiB steps that leaves every all-zero 4 KiB block a hole.
//
// Why not in Node: a copy loop over the async fs API pays one thread-pool round trip (a
// promise, a libuv wake-up) per read and per write — 16,384 of them for 1 GiB at 128 KiB —
// measured at 1.9× cp's CPU time (256 KiB chunks, 3 in flight), and larger chunks are worse,
// since a buffer that falls out of the CPU cache makes the write copy from memory (1 MiB
// chunks: 3.7× cp's CPU). copy_file_range keeps no holes on filesystems without reflinks (ext4 writes the zeros)
// and Node has no lseek(SEEK_DATA) to copy only the data extents. cp's loop stays in one thread
// on a cache-hot buffer: the same work at the kernel's speed, off the event loop.
import { lstat, rm } from 'node:fs/promises';
import { runChecked } from '../../util/run.js';

/** Copies src to dest (which must not exist); on failure dest is removed. */
export async function copySparse(src: string, dest: string, timeoutMs = 30 * 60_000): Promise<void> {
  // cp must create dest itself: writing into an existing (even empty) file truncates it, and
  // ext4 then allocates and flushes the whole new content at close (auto_da_alloc's
  // replace-by-truncate rule), which cost ~0.3 s per GiB here. cp creates a new dest with
  // O_EXCL, so a file appearing meanwhile fails the copy instead of being overwritten.
  const existing = await lstat(dest).catch(() => undefined);
  if (existing) {
    throw Object.assign(new Error(`EEXIST: file already exists, copy to '${dest}'`), { code: 'EEXIST' });
  }
  try {
    await runChecked(['cp', '--sparse=always', '--reflink=auto', '--no-target-directory', '--', src, dest], {
      timeoutMs,
    });
  } catch (e) {
    await rm(dest, { force: true });
    throw e;
  }
}
