// Reading the host through a host root. Every probe takes `hostRoot` (default "/") so tests can
// point it at a recorded host under test/fixtures/host/<name>/ instead of the real machine.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const DEFAULT_HOST_ROOT = '/';

/** The path of an absolute host path under hostRoot. */
export function hostPath(hostRoot: string, absolutePath: string): string {
  return join(hostRoot, absolutePath);
}

/** The file's text, or undefined when it does not exist or cannot be read. */
export async function readHostFile(hostRoot: string, absolutePath: string): Promise<string | undefined> {
  try {
    return await readFile(hostPath(hostRoot, absolutePath), 'utf8');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/** The directory's entry names (sorted), or undefined when it does not exist. */
export async function listHostDir(hostRoot: string, absolutePath: string): Promise<string[] | undefined> {
  try {
    return (await readdir(hostPath(hostRoot, absolutePath))).sort();
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  // EACCES: unreadable files are reported as absent; the checks then say what they miss.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES';
}
