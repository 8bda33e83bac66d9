// Wiring: nova.conf-style configuration → LibvirtDriverOptions. virt_type comes from the
// doctor's decision (auto → kvm or qemu), with the functional probe's verdict, not raw config.
import type { KestrelConfig } from '../../config/index.js';
import type { CpuMode } from './configure/index.js';
import type { LibvirtDriverOptions } from './options.js';

export function libvirtDriverOptionsFromConfig(
  config: KestrelConfig,
  decided: { virtType: 'kvm' | 'qemu'; kvmProbe?: { ok: boolean; detail: string } },
  extra: Partial<LibvirtDriverOptions> = {},
): LibvirtDriverOptions {
  const lv = config.libvirt;
  const wa = config.workarounds as typeof config.workarounds & { allow_nested_suspend?: boolean };
  return {
    uri: lv.connection_uri || undefined,
    virtType: decided.virtType,
    kvmProbe: decided.kvmProbe,
    cpuMode: (lv.cpu_mode ?? undefined) as CpuMode | undefined,
    cpuModels: [...lv.cpu_models],
    cpuModelExtraFlags: [...lv.cpu_model_extra_flags],
    machineTypes: { ...lv.hw_machine_type },
    numMemoryEncryptedGuests: lv.num_memory_encrypted_guests,
    skipCpuCompareAtStartup: wa.skip_cpu_compare_at_startup,
    // [workarounds] allow_nested_suspend: Kestrel's option (the config schema adds it).
    allowNestedSuspend: wa.allow_nested_suspend ?? false,
    instancesPath: config.DEFAULT.instances_path,
    vnc: { enabled: config.vnc.enabled, listen: config.vnc.server_listen },
    ...extra,
  };
}
