// Start-up checks: minimum versions, virt_type kvm really usable, CPU
// mode/models/extra flags valid for this host. Each failure names what to change. Unlike Nova,
// extra flags are checked in every cpu_mode (Nova skips them for host-model/host-passthrough).
import { KVM_TROUBLESHOOTING } from '../../host/virt-type.js';
import { VirtError, NO_HVM_EXPLANATION, NO_HVM_FIX } from '../errors.js';
import type { CpuMode } from './configure/index.js';
import { extraFlagFeatures } from './configure/cpu.js';
import { renderCpuXml } from './domain/render.js';

function versionText(v: number): string {
  return `${Math.floor(v / 1e6)}.${Math.floor((v % 1e6) / 1e3)}.${v % 1e3}`;
}

export function checkVersions(libvirt: number, qemu: number, minLibvirt: number, minQemu: number): void {
  if (libvirt < minLibvirt) {
    throw new VirtError(
      'version-too-old',
      `Kestrel requires libvirt version ${versionText(minLibvirt)} or greater; this host has ${versionText(libvirt)}`,
      {
        fix: 'upgrade libvirt (apt-get install libvirt-daemon-system) and restart libvirtd',
      },
    );
  }
  if (qemu < minQemu) {
    throw new VirtError(
      'version-too-old',
      `Kestrel requires QEMU version ${versionText(minQemu)} or greater; this host has ${versionText(qemu)}`,
      {
        fix: 'upgrade QEMU (apt-get install qemu-system-x86) and restart libvirtd',
      },
    );
  }
}

/** virt_type kvm: the doctor's functional probe must have passed, and libvirt must offer kvm. */
export function checkKvmUsable(
  virtType: 'kvm' | 'qemu',
  probe: { ok: boolean; detail: string } | undefined,
  domainTypes: string[],
): void {
  if (virtType !== 'kvm') return;
  if (probe && !probe.ok) {
    throw new VirtError(
      'kvm-unavailable',
      `virt_type = kvm, but the functional KVM probe failed: ${probe.detail}`,
      {
        fix: `${KVM_TROUBLESHOOTING} Run \`kestrel doctor\` for every check.`,
      },
    );
  }
  if (!domainTypes.includes('kvm')) {
    throw new VirtError('kvm-unavailable', `virt_type = kvm, but ${NO_HVM_EXPLANATION}`, {
      fix: `${NO_HVM_FIX}. ${KVM_TROUBLESHOOTING}`,
    });
  }
}

export interface CpuCheckHost {
  arch: string;
  virtType: 'kvm' | 'qemu';
  /** The host CPU's full (expanded) feature list. */
  hostFeatures: string[];
  cpuModelNames(): Promise<string[]>;
  /** compare-hypervisor-CPU of a <cpu> definition: ≤ 0 incompatible. */
  compareCpu(cpuXml: string): Promise<number>;
  modelFeatures(model: string): Promise<string[] | undefined>;
}

/**
 * Validates cpu_mode / cpu_models / cpu_model_extra_flags; returns the models in libvirt's
 * spelling. With virt_type kvm each model plus the extra flags must run on this host's CPU.
 */
export async function checkCpuConfig(
  mode: CpuMode | undefined,
  models: string[],
  extraFlags: string[],
  host: CpuCheckHost,
  skipCompare = false,
): Promise<string[]> {
  const effective = mode ?? 'host-model';
  if (effective !== 'custom' && models.length > 0) {
    throw new VirtError(
      'cpu-mode-invalid',
      `[libvirt] cpu_models is set but cpu_mode is ${effective}; models are only used with cpu_mode=custom`,
      {
        fix: 'set cpu_mode = custom, or remove cpu_models',
      },
    );
  }
  if (effective === 'custom' && models.length === 0) {
    throw new VirtError('cpu-mode-invalid', 'cpu_mode = custom needs [libvirt] cpu_models', {
      fix: 'set cpu_models to an ordered list of CPU models, oldest first (see `virsh cpu-models x86_64`)',
    });
  }
  let resolved = models;
  if (models.length > 0 && (host.arch === 'x86_64' || host.arch === 'i686' || host.arch.startsWith('ppc'))) {
    const known = await host.cpuModelNames();
    const byLower = new Map(known.map((m) => [m.toLowerCase(), m]));
    resolved = models.map((m) => {
      const real = byLower.get(m.trim().toLowerCase());
      if (!real) {
        throw new VirtError(
          'cpu-model-unknown',
          `configured CPU model ${m} is not correct, or the host CPU arch ${host.arch} does not support it`,
          {
            fix: `use one of: ${known.join(', ')}`,
          },
        );
      }
      return real;
    });
  }
  const features = extraFlagFeatures(extraFlags);
  if (host.virtType !== 'kvm' || skipCompare) return resolved;
  const have = new Set(host.hostFeatures);
  const missingFlags = features.filter((f) => f.policy === 'require' && !have.has(f.name)).map((f) => f.name);
  if (effective !== 'custom' && missingFlags.length > 0) {
    throw new VirtError(
      'cpu-incompatible',
      `CPU flags [${missingFlags.join(', ')}] in cpu_model_extra_flags are not offered by the host CPU`,
      {
        fix: 'remove these flags from [libvirt] cpu_model_extra_flags (for vmx/svm: load kvm_intel/kvm_amd with nested=1)',
      },
    );
  }
  for (const model of resolved) {
    const result = await host.compareCpu(renderCpuXml({ match: 'exact', model, features }));
    if (result > 0) continue;
    const modelFeatures = (await host.modelFeatures(model)) ?? [];
    const missing = [...new Set([...modelFeatures.filter((f) => !have.has(f)), ...missingFlags])].sort();
    throw new VirtError(
      'cpu-incompatible',
      `configured CPU model ${model} and CPU flags [${features.map((f) => f.name).join(', ')}] are not compatible with the host CPU` +
        (missing.length ? `; the host lacks: ${missing.join(', ')}` : ''),
      { fix: 'choose an older model in [libvirt] cpu_models or drop the flags, then restart Kestrel' },
    );
  }
  return resolved;
}
