// The fake hypervisor's host: a plausible x86_64 KVM host, enough for the real configurators
// to build every guest the libvirt driver can (so the fake refuses the same requests).
import type { HostFacts } from '../libvirt/configure/index.js';

export const FAKE_CPU_FEATURES = ['sse', 'sse2', 'sse3', 'ssse3', 'sse4.1', 'sse4.2', 'avx', 'avx2', 'aes'];

export function fakeHostFacts(): HostFacts {
  return {
    arch: 'x86_64',
    emulator: '/usr/bin/qemu-system-x86_64',
    machineTypes: {
      pc: 'pc-i440fx-7.2',
      'pc-i440fx-7.2': 'pc-i440fx-7.2',
      q35: 'pc-q35-7.2',
      'pc-q35-7.2': 'pc-q35-7.2',
    },
    hasVhostNet: true,
    hostCpuFeatures: FAKE_CPU_FEATURES,
    firmware: [
      {
        file: '60-edk2-x86_64.json',
        interfaceTypes: ['uefi'],
        device: 'flash',
        executable: '/usr/share/OVMF/OVMF_CODE_4M.fd',
        nvramTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd',
        targets: [{ architecture: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
        features: ['acpi-s3'],
      },
    ],
    cpuModelFeatures: (model) =>
      Promise.resolve(
        model.toLowerCase().startsWith('haswell') ? ['sse', 'sse2', 'avx', 'avx2'] : ['sse', 'sse2'],
      ),
  };
}
