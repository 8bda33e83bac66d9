// Device nodes (/dev/kvm, /dev/vhost-net) seen through an injectable stat function. A recorded
// host cannot hold real device nodes, so a fixture root describes them in `device-facts.json`:
//   { "/dev/kvm": { "type": "char", "mode": "0660", "uid": 0, "gid": 107 } }
import { stat } from 'node:fs/promises';
import { hostPath, readHostFile } from './host-files.js';

export interface DeviceStat {
  exists: boolean;
  isCharDevice: boolean;
  /** Permission bits only (e.g. 0o660). */
  mode: number;
  uid: number;
  gid: number;
}

export type StatFn = (absolutePath: string) => Promise<DeviceStat>;

const MISSING: DeviceStat = { exists: false, isCharDevice: false, mode: 0, uid: 0, gid: 0 };

export const DEVICE_FACTS_FILE = 'device-facts.json';

/** Stats the real file at hostRoot + path. */
export function realStat(hostRoot = '/'): StatFn {
  return async (absolutePath) => {
    try {
      const s = await stat(hostPath(hostRoot, absolutePath));
      return {
        exists: true,
        isCharDevice: s.isCharacterDevice(),
        mode: s.mode & 0o7777,
        uid: s.uid,
        gid: s.gid,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return MISSING;
      throw e;
    }
  };
}

interface DeviceFact {
  type?: 'char' | 'file';
  mode?: string;
  uid?: number;
  gid?: number;
}

/** A stat function backed by hostRoot/device-facts.json, or undefined when the file is absent. */
export async function statFromDeviceFacts(hostRoot: string): Promise<StatFn | undefined> {
  const text = await readHostFile(hostRoot, `/${DEVICE_FACTS_FILE}`);
  if (text === undefined) return undefined;
  let facts: Record<string, DeviceFact>;
  try {
    facts = JSON.parse(text) as Record<string, DeviceFact>;
  } catch (e) {
    throw new Error(
      `${hostPath(hostRoot, DEVICE_FACTS_FILE)} is not valid JSON (${(e as Error).message}); ` +
        'fix the recorded host facts file',
    );
  }
  return (absolutePath) => {
    const f = facts[absolutePath];
    if (!f) return Promise.resolve(MISSING);
    return Promise.resolve({
      exists: true,
      isCharDevice: (f.type ?? 'char') === 'char',
      mode: parseInt(f.mode ?? '0600', 8),
      uid: f.uid ?? 0,
      gid: f.gid ?? 0,
    });
  };
}

/** `crw-rw----` style rendering of a device's type and permission bits. */
export function formatMode(s: DeviceStat): string {
  const bits = 'rwxrwxrwx';
  let out = s.isCharDevice ? 'c' : '-';
  for (let i = 0; i < 9; i++) out += s.mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}
