// QEMU firmware descriptors (/usr/share/qemu/firmware/*.json, docs/interop/firmware.json):
// which OVMF build fits a machine type, with or without Secure Boot.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FirmwareDescriptor {
  /** The descriptor's file name (its priority: lower sorts first). */
  file: string;
  interfaceTypes: string[];
  device: string;
  executable: string;
  nvramTemplate?: string;
  targets: { architecture: string; machines: string[] }[];
  features: string[];
}

export const DEFAULT_FIRMWARE_DIRS = ['/etc/qemu/firmware', '/usr/share/qemu/firmware'];

interface RawDescriptor {
  'interface-types'?: string[];
  mapping?: { device?: string; executable?: { filename?: string }; 'nvram-template'?: { filename?: string } };
  targets?: { architecture?: string; machines?: string[] }[];
  features?: string[];
}

export function parseFirmwareDescriptor(file: string, json: string): FirmwareDescriptor | undefined {
  const raw = JSON.parse(json) as RawDescriptor;
  const executable = raw.mapping?.executable?.filename;
  if (!executable) return undefined;
  return {
    file,
    interfaceTypes: raw['interface-types'] ?? [],
    device: raw.mapping?.device ?? '',
    executable,
    nvramTemplate: raw.mapping?.['nvram-template']?.filename,
    targets: (raw.targets ?? []).map((t) => ({
      architecture: t.architecture ?? '',
      machines: t.machines ?? [],
    })),
    features: raw.features ?? [],
  };
}

/** Reads every descriptor; a file in an earlier directory hides one of the same name later. */
export async function loadFirmwareDescriptors(dirs = DEFAULT_FIRMWARE_DIRS): Promise<FirmwareDescriptor[]> {
  const byName = new Map<string, FirmwareDescriptor>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    } catch {
      continue;
    }
    for (const name of names) {
      if (byName.has(name)) continue;
      try {
        const d = parseFirmwareDescriptor(name, await readFile(join(dir, name), 'utf8'));
        if (d) byName.set(name, d);
      } catch {
        // A broken descriptor is skipped, as QEMU and libvirt do.
      }
    }
  }
  return [...byName.values()].sort((a, b) => a.file.localeCompare(b.file));
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

/** The first UEFI flash descriptor for arch + machine, with Secure Boot exactly as asked. */
export function selectUefiFirmware(
  descriptors: FirmwareDescriptor[],
  arch: string,
  machine: string,
  secureBoot: boolean,
): FirmwareDescriptor | undefined {
  return descriptors.find(
    (d) =>
      d.interfaceTypes.includes('uefi') &&
      d.device === 'flash' &&
      d.nvramTemplate !== undefined &&
      d.features.includes('secure-boot') === secureBoot &&
      // Secure Boot without Microsoft's keys enrolled is not useful; without it, keys must be absent.
      d.features.includes('enrolled-keys') === secureBoot &&
      d.targets.some((t) => t.architecture === arch && t.machines.some((m) => globMatch(m, machine))),
  );
}
