// Host checks: the probes of the KVM guide and `kestrel doctor`. Other areas (the libvirt
// driver, SEV, the resource tracker) reuse the individual probes from here.
export { runDoctor, type DoctorOptions } from './doctor.js';
export { formatDoctorReport } from './format.js';
export { decideVirtType, checkVirtType, KVM_TROUBLESHOOTING, type KvmEvidence } from './virt-type.js';
export { readCpuFlags, parseCpuInfo, checkCpu, type CpuFlags } from './cpu.js';
export { readKvmModules, expectedHardwareModule, checkKvmModules, type KvmModule } from './modules.js';
export { readKvmDevice, checkKvmDevice, type KvmDeviceFacts } from './kvm-device.js';
export { realStat, statFromDeviceFacts, type DeviceStat, type StatFn } from './device-stat.js';
export {
  runKvmProbe,
  buildProbeRom,
  probeArgv,
  parseProbeOutput,
  type KvmProbeFn,
  type KvmProbeResult,
  type ProbeAccel,
  type ProbeStage,
} from './kvm-probe.js';
export { readNested, checkNested, type NestedFacts } from './nested.js';
export {
  readSev,
  parseDomainCapsSev,
  checkKernelSev,
  checkLibvirtSev,
  type KernelSevFacts,
  type DomainCapsSev,
} from './sev.js';
export { readVhostNet, checkVhostNet } from './vhost-net.js';
export {
  readLibvirtVersions,
  readDomainCapabilities,
  askLibvirt,
  connectLibvirt,
  compareVersions,
  MIN_LIBVIRT_VERSION,
  MIN_QEMU_VERSION,
  NEXT_MIN_LIBVIRT_VERSION,
  NEXT_MIN_QEMU_VERSION,
  type LibvirtVersions,
  type LibvirtConnector,
  type LibvirtHostQuery,
  type LibvirtSession,
  type Version,
} from './libvirt-version.js';
export { readFirmware, checkFirmware, type FirmwareFacts, type FirmwareDescriptor } from './firmware.js';
export { isParamEnabled, readModuleParam } from './module-params.js';
export type { CommandRunner } from './command-runner.js';
export type {
  Check,
  CheckStatus,
  DoctorReport,
  HostArch,
  VirtType,
  VirtTypeDecision,
  VirtTypeSetting,
} from './types.js';
