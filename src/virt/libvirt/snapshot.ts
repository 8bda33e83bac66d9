// Root disk → a flattened image file with qemu-img convert (the backing chain is merged).
// -U (force share) because the running QEMU holds the image's write lock; the driver pauses
// the guest around the copy so the copy is crash-consistent.
import { rm } from 'node:fs/promises';
import { runChecked, CommandError } from '../../util/run.js';
import { VirtError } from '../errors.js';
import type { DiskDevice } from './domain/types.js';

function sourceArgs(disk: DiskDevice): string[] {
  switch (disk.type) {
    case 'file':
      return ['-f', disk.driver.type, disk.file];
    case 'block':
      return ['-f', 'raw', disk.dev];
    case 'network': {
      const [pool, image] = disk.name.split('/');
      const mons = disk.hosts.map((h) => `${h.name}\\:${h.port}`).join(';');
      const user = disk.auth ? `:id=${disk.auth.username}` : '';
      return ['-f', 'raw', `rbd:${pool}/${image}${user}${mons ? `:mon_host=${mons}` : ''}`];
    }
  }
}

export async function snapshotDisk(
  disk: DiskDevice,
  targetPath: string,
  format: 'qcow2' | 'raw',
): Promise<void> {
  const argv = ['qemu-img', 'convert', '-U', ...sourceArgs(disk), '-O', format, targetPath];
  try {
    await runChecked(argv, { timeoutMs: 30 * 60_000 });
  } catch (e) {
    await rm(targetPath, { force: true });
    throw new VirtError(
      'snapshot-failed',
      `copying the root disk to ${targetPath} failed: ${(e as Error).message}`,
      {
        fix: 'check free space at the target and that the disk is readable',
        cause: e instanceof CommandError ? e : undefined,
      },
    );
  }
}
