// Writes a metadata tree (tree.ts) as a config drive: ISO 9660 with Rock Ridge and Joliet,
// labelled config-2, made by genisoimage with Nova's flags, or a 64 MiB VFAT image labelled
// config-2 made by mtools (no loop mount, no root needed). The file appears atomically: it is
// built beside the target and renamed over it, so a guest never sees half a drive.
//
// Speed (a drive is built before every spawn): most of the tree's files repeat across its
// dated versions (user_data, vendor data, network data), so for ISO 9660 each distinct content
// is written once and grafted at every path it appears under (genisoimage -graft-points),
// instead of writing and then reading back some forty small files and a dozen directories.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rename, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runChecked } from '../util/run.js';
import type { MetadataTree } from './tree.js';

export type ConfigDriveFormat = 'iso9660' | 'vfat';

/** Nova's genisoimage flags (nova/virt/configdrive.py), then the volume label. */
export const GENISOIMAGE_FLAGS = ['-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-J', '-r'];
export const CONFIG_DRIVE_LABEL = 'config-2';
/** Nova's VFAT drive size. */
const VFAT_BYTES = 64 * 1024 * 1024;
const TIMEOUT_MS = 60_000;
/** The staging directory beside the target (what a killed build leaves behind). */
export const CONFIG_DRIVE_STAGING_PREFIX = '.config-drive-';

export interface ConfigDriveTools {
  /** [DEFAULT] mkisofs_cmd: the ISO 9660 builder (genisoimage, or xorriso's mkisofs). */
  mkisofs: string;
}

function checkPath(path: string): void {
  if (path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '') || /[=\\]/.test(path)) {
    throw new Error(`metadata path ${path} leaves the drive or cannot be grafted`);
  }
}

/** Writes the tree's files under dir (directories made as needed). */
export function writeTree(tree: MetadataTree, dir: string): void {
  const made = new Set<string>();
  for (const [path, content] of tree) {
    checkPath(path);
    const target = join(dir, path);
    const parent = dirname(target);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(target, content);
  }
}

/** Each distinct content once (c0, c1 …) and genisoimage's graft points path=file for every path. */
function writeDistinct(tree: MetadataTree, dir: string): string[] {
  const files = new Map<string, string>();
  const grafts: string[] = [];
  for (const [path, content] of tree) {
    checkPath(path);
    const key = content.toString('latin1');
    let file = files.get(key);
    if (file === undefined) {
      file = join(dir, `c${files.size}`);
      writeFileSync(file, content);
      files.set(key, file);
    }
    grafts.push(`${path}=${file}`);
  }
  return grafts;
}

/** Builds the drive at target (replacing any earlier one). */
export async function writeConfigDrive(
  tree: MetadataTree,
  target: string,
  format: ConfigDriveFormat,
  tools: ConfigDriveTools = { mkisofs: 'genisoimage' },
): Promise<void> {
  for (const path of tree.keys()) checkPath(path);
  mkdirSync(dirname(target), { recursive: true });
  const work = mkdtempSync(join(dirname(target), CONFIG_DRIVE_STAGING_PREFIX));
  const staged = join(work, 'drive');
  try {
    if (format === 'iso9660') {
      const grafts = writeDistinct(tree, work);
      await runChecked(
        [
          tools.mkisofs,
          '-o',
          staged,
          ...GENISOIMAGE_FLAGS,
          '-publisher',
          'Kestrel',
          '-quiet',
          '-V',
          CONFIG_DRIVE_LABEL,
          '-graft-points',
          ...grafts,
        ],
        { timeoutMs: TIMEOUT_MS },
      );
    } else {
      const root = join(work, 'root');
      writeTree(tree, root);
      writeFileSync(staged, '');
      await truncate(staged, VFAT_BYTES);
      const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
      await runChecked(['mformat', '-i', staged, '-v', CONFIG_DRIVE_LABEL, '::'], {
        timeoutMs: TIMEOUT_MS,
        env,
      });
      const top = [...new Set([...tree.keys()].map((p) => p.split('/')[0]))].sort();
      if (top.length > 0) {
        await runChecked(['mcopy', '-s', '-i', staged, ...top.map((t) => join(root, t)), '::'], {
          timeoutMs: TIMEOUT_MS,
          env,
        });
      }
    }
    await rename(staged, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
