// UEFI firmware: the OVMF images (/usr/share/OVMF/*.fd) and the QEMU firmware descriptors
// (/usr/share/qemu/firmware/*.json) libvirt uses to pick one for <os firmware='efi'>.
// UEFI guests (hw_firmware_type=uefi, and every SEV guest) need both.
import { listHostDir, readHostFile } from './host-files.js';
import { check, type Check } from './types.js';

export interface FirmwareDescriptor {
  file: string;
  description?: string;
  interfaceTypes: string[];
  architectures: string[];
  features: string[];
  executable?: string;
  nvramTemplate?: string;
  /** The executable (and nvram template) named by the descriptor exist under the host root. */
  filesPresent: boolean;
}

export interface FirmwareFacts {
  ovmfImages: string[];
  descriptors: FirmwareDescriptor[];
  /** Descriptor files that are not valid JSON, with the parse error. */
  invalid: string[];
}

interface RawDescriptor {
  description?: string;
  'interface-types'?: string[];
  mapping?: {
    executable?: { filename?: string };
    'nvram-template'?: { filename?: string };
    filename?: string;
  };
  targets?: { architecture?: string }[];
  features?: string[];
}

export async function readFirmware(hostRoot = '/'): Promise<FirmwareFacts> {
  const ovmfImages = ((await listHostDir(hostRoot, '/usr/share/OVMF')) ?? [])
    .filter((n) => n.endsWith('.fd'))
    .map((n) => `/usr/share/OVMF/${n}`);
  const descriptors: FirmwareDescriptor[] = [];
  const invalid: string[] = [];
  for (const name of (await listHostDir(hostRoot, '/usr/share/qemu/firmware')) ?? []) {
    if (!name.endsWith('.json')) continue;
    const file = `/usr/share/qemu/firmware/${name}`;
    let raw: RawDescriptor;
    try {
      raw = JSON.parse((await readHostFile(hostRoot, file)) ?? 'null') as RawDescriptor;
      if (!raw || typeof raw !== 'object') throw new Error('not a JSON object');
    } catch (e) {
      invalid.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    const executable = raw.mapping?.executable?.filename ?? raw.mapping?.filename;
    const nvramTemplate = raw.mapping?.['nvram-template']?.filename;
    let filesPresent = true;
    for (const f of [executable, nvramTemplate]) {
      if (f !== undefined && (await readHostExists(hostRoot, f)) === false) filesPresent = false;
    }
    descriptors.push({
      file,
      description: raw.description,
      interfaceTypes: raw['interface-types'] ?? [],
      architectures: (raw.targets ?? []).map((t) => t.architecture ?? '').filter(Boolean),
      features: raw.features ?? [],
      executable,
      nvramTemplate,
      filesPresent,
    });
  }
  return { ovmfImages, descriptors, invalid };
}

async function readHostExists(hostRoot: string, file: string): Promise<boolean> {
  const dir = file.slice(0, file.lastIndexOf('/')) || '/';
  const base = file.slice(file.lastIndexOf('/') + 1);
  return ((await listHostDir(hostRoot, dir)) ?? []).includes(base);
}

const OVMF_FIX =
  'Install the UEFI firmware for QEMU: apt-get install ovmf (Debian/Ubuntu) or edk2-ovmf (Fedora/RHEL). ' +
  'It ships the OVMF images in /usr/share/OVMF and the descriptors in /usr/share/qemu/firmware that ' +
  "libvirt needs for <os firmware='efi'>; UEFI and SEV guests cannot boot without them.";

export function checkFirmware(f: FirmwareFacts, arch = 'x86_64'): Check {
  const title = 'UEFI firmware (OVMF)';
  const uefi = f.descriptors.filter(
    (d) =>
      d.interfaceTypes.includes('uefi') && (d.architectures.length === 0 || d.architectures.includes(arch)),
  );
  const usable = uefi.filter((d) => d.filesPresent);
  const plain = usable.filter((d) => !d.features.includes('secure-boot'));
  const found =
    `${f.ovmfImages.length} OVMF image(s) in /usr/share/OVMF, ${uefi.length} UEFI ${arch} descriptor(s) ` +
    `in /usr/share/qemu/firmware (${usable.length} with their files present, ${plain.length} without secure boot)` +
    (f.invalid.length ? `; invalid: ${f.invalid.join('; ')}` : '');
  if (usable.length === 0) return check('firmware.ovmf', title, 'warn', found, OVMF_FIX);
  if (plain.length === 0) {
    return check(
      'firmware.ovmf',
      title,
      'warn',
      found,
      'Every descriptor enables Secure Boot, so unsigned UEFI guests refuse to start ("Security Violation"). ' +
        OVMF_FIX,
    );
  }
  return check('firmware.ovmf', title, 'pass', found);
}
