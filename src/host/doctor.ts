// `kestrel doctor`: every host check of the KVM guide, run together, plus the virt_type decision.
// Reads the host through hostRoot; the QEMU probe and the libvirt connection are used only for
// the real host ("/") unless the caller injects them, so a recorded host never touches this
// machine's KVM or libvirtd.
import { resolve } from 'node:path';
import { checkCpu, readCpuFlags, type CpuFlags } from './cpu.js';
import { realStat, statFromDeviceFacts, type StatFn } from './device-stat.js';
import { checkFirmware, readFirmware } from './firmware.js';
import { checkKvmDevice, readKvmDevice, type KvmDeviceFacts } from './kvm-device.js';
import { PROBE_DEFAULT_TIMEOUT_MS, runKvmProbe, type KvmProbeFn, type KvmProbeResult } from './kvm-probe.js';
import { askLibvirt, checkLibvirt, connectLibvirt, type LibvirtConnector } from './libvirt-version.js';
import { checkKvmModules, expectedHardwareModule, readKvmModules, type KvmModule } from './modules.js';
import { checkNested, readNested } from './nested.js';
import { checkQemuReach } from './qemu-reach.js';
import {
  checkKernelSev,
  checkLibvirtSev,
  checkSevCapacity,
  parseDomainCapsSev,
  readSev,
  type DomainCapsSev,
} from './sev.js';
import { check, type Check, type DoctorReport, type VirtTypeSetting } from './types.js';
import { checkVirtType, decideVirtType, type KvmEvidence } from './virt-type.js';
import { checkVhostNet, readVhostNet } from './vhost-net.js';

export interface DoctorOptions {
  /** Where the host's files are read from (default "/"). */
  hostRoot?: string;
  /** The configured [libvirt] virt_type. */
  virtTypeSetting: VirtTypeSetting;
  /** libvirt connection URI (default qemu:///system). */
  libvirtUri?: string;
  /** Run the functional KVM probe (default true). */
  runProbe?: boolean;
  /** Replaces the QEMU probe (tests, recorded hosts). */
  probe?: KvmProbeFn;
  /** Replaces the connection to libvirt (tests, recorded hosts); default Kestrel's RPC client. */
  libvirt?: LibvirtConnector;
  /** Replaces stat for device nodes; default: hostRoot/device-facts.json if present, else the real files. */
  statFn?: StatFn;
  /** [libvirt] num_memory_encrypted_guests, for the SEV slot check. */
  numMemoryEncryptedGuests?: number | null;
  /** Paths QEMU opens (instances_path, the image cache): checked as QEMU's user on the real host. */
  qemuPaths?: { what: string; path: string }[];
  /** Bound for the KVM probe run (default 2.5 s); the TCG control run gets at least 6 s. */
  probeTimeoutMs?: number;
}

const DEFAULT_URI = 'qemu:///system';

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const hostRoot = resolve(opts.hostRoot ?? '/');
  const live = hostRoot === '/';
  const uri = opts.libvirtUri ?? DEFAULT_URI;
  // A recorded host describes its device nodes in device-facts.json; the real host is stat'ed.
  const statFn =
    opts.statFn ?? (live ? undefined : await statFromDeviceFacts(hostRoot)) ?? realStat(hostRoot);
  const connect = opts.libvirt ?? (live ? connectLibvirt : undefined);

  const [cpu, modules, device, nested, sev, vhost, firmware] = await Promise.all([
    readCpuFlags(hostRoot),
    readKvmModules(hostRoot),
    readKvmDevice(hostRoot, statFn),
    readNested(hostRoot),
    readSev(hostRoot),
    readVhostNet(statFn),
    readFirmware(hostRoot),
  ]);

  // The slow parts (QEMU probes, libvirt's first answers) run concurrently.
  const [probes, libvirt] = await Promise.all([
    runProbes(opts, cpu, device, live),
    connect ? queryLibvirt(uri, connect) : undefined,
  ]);

  const isAmd = cpu.svm || cpu.vendor === 'AuthenticAMD';
  const checks: Check[] = [
    checkCpu(cpu),
    checkKvmModules(modules, cpu),
    checkKvmDevice(device),
    ...probes.checks,
    checkNested(nested),
    ...checkKernelSev(sev, isAmd),
    libvirt
      ? isAmd || libvirt.sev?.supported
        ? checkLibvirtSev(libvirt.sev, libvirt.capsError)
        : check('sev.libvirt', 'AMD SEV (libvirt)', 'skip', 'not an AMD host', null)
      : check('sev.libvirt', 'AMD SEV (libvirt)', 'skip', 'libvirt not asked (recorded host)', null),
    ...(isAmd || sev.sev ? [checkSevCapacity(sev, libvirt?.sev, opts.numMemoryEncryptedGuests)] : []),
    checkVhostNet(vhost),
    ...(libvirt
      ? libvirt.checks
      : ['libvirt.reachable', 'libvirt.version', 'qemu.version'].map((id) =>
          check(
            id,
            id,
            'skip',
            'libvirt not asked (recorded host; inject a libvirt connector to ask it)',
            null,
          ),
        )),
    checkFirmware(firmware),
  ];
  if (opts.qemuPaths?.length && live) checks.push(await checkQemuReach(opts.qemuPaths));

  const decision = decideVirtType(opts.virtTypeSetting, kvmEvidence(cpu, modules, device, probes));
  checks.push(checkVirtType(decision));
  return {
    virt_type: decision,
    checks,
    ok: decision.usable && checks.every((c) => c.status !== 'fail'),
  };
}

interface ProbeOutcome {
  checks: Check[];
  kvm?: KvmProbeResult;
  /** Why the KVM probe did not run, when it did not. */
  skipped?: string;
  /** The probe could not run KVM because the host plainly has none (no /dev/kvm). */
  noKvm?: boolean;
}

async function runProbes(
  opts: DoctorOptions,
  cpu: CpuFlags,
  device: KvmDeviceFacts,
  live: boolean,
): Promise<ProbeOutcome> {
  const skip = (why: string, noKvm = false): ProbeOutcome => ({
    skipped: why,
    noKvm,
    checks: [
      check(
        'kvm.functional',
        'KVM runs a guest',
        noKvm ? 'warn' : 'skip',
        `not run: ${why}`,
        noKvm ? KVM_PROBE_FIX : null,
      ),
      check('qemu.tcg-probe', 'QEMU (TCG) runs a guest', 'skip', `not run: ${why}`, null),
    ],
  });
  if (opts.runProbe === false) return skip('disabled (runProbe: false)');
  if (cpu.arch !== 'x86' && cpu.readable)
    return skip(`the probe guest is x86 code and this host is ${cpu.arch}`);
  const probe: KvmProbeFn | undefined =
    opts.probe ??
    (live && process.arch === 'x64'
      ? (accel) =>
          runKvmProbe(accel, {
            // TCG is the control and normally takes ~0.15 s; its longer bound only matters on a
            // loaded machine, where a spurious TCG timeout would wrongly say no guest can run.
            timeoutMs:
              accel === 'tcg'
                ? Math.max(6000, opts.probeTimeoutMs ?? 0)
                : (opts.probeTimeoutMs ?? PROBE_DEFAULT_TIMEOUT_MS),
          })
      : undefined);
  if (!probe)
    return skip(live ? `this machine is ${process.arch}, not x86_64` : 'recorded host (inject a probe)');
  const kvmPossible = device.stat.exists;
  const [tcg, kvm] = await Promise.all([probe('tcg'), kvmPossible ? probe('kvm') : undefined]);
  const tcgCheck = tcg.ok
    ? check('qemu.tcg-probe', 'QEMU (TCG) runs a guest', 'pass', tcg.detail)
    : check(
        'qemu.tcg-probe',
        'QEMU (TCG) runs a guest',
        'fail',
        tcg.detail,
        'QEMU cannot run even an emulated guest, so no guest can run. Check that qemu-system-x86_64 is ' +
          'installed (apt-get install qemu-system-x86) and runs: qemu-system-x86_64 -accel tcg -nodefaults ' +
          '-display none -serial stdio',
      );
  if (!kvm) {
    return {
      noKvm: true,
      skipped: '/dev/kvm does not exist',
      checks: [skip('/dev/kvm does not exist', true).checks[0], tcgCheck],
    };
  }
  return { kvm, checks: [kvmProbeCheck(kvm, tcg), tcgCheck] };
}

const KVM_PROBE_FIX =
  'KVM is present but cannot run ordinary guests (a tiny guest did not reach 64-bit long mode with KVM, ' +
  'while the same guest runs under TCG). Some hosts expose a KVM that runs only special guests (e.g. PVM, ' +
  'the paravirtualized KVM of nested cloud VMs): use [libvirt] virt_type = qemu (or auto, which falls back ' +
  'to qemu), or run the compute service on a host with hardware virtualization (VT-x/AMD-V enabled in the BIOS).';

function kvmProbeCheck(kvm: KvmProbeResult, tcg: KvmProbeResult): Check {
  const title = 'KVM runs a guest';
  const vsTcg = tcg.ok ? ` (TCG: ${tcg.durationMs} ms)` : '';
  if (!kvm.ok) {
    return check(
      'kvm.functional',
      title,
      'warn',
      `KVM present but cannot run ordinary guests: ${kvm.detail}${vsTcg}`,
      KVM_PROBE_FIX,
    );
  }
  // Acceleration slower than emulation is not acceleration.
  if (tcg.ok && kvm.durationMs > tcg.durationMs * 3 + 1000) {
    return check(
      'kvm.functional',
      title,
      'warn',
      `${kvm.detail}, but slower than TCG${vsTcg}`,
      'KVM runs the probe more slowly than emulation: the KVM here is emulating, not accelerating. ' +
        KVM_PROBE_FIX,
    );
  }
  return check('kvm.functional', title, 'pass', `${kvm.detail}${vsTcg}`);
}

function kvmEvidence(
  cpu: CpuFlags,
  modules: KvmModule[],
  device: KvmDeviceFacts,
  probes: ProbeOutcome,
): KvmEvidence {
  const names = new Set(modules.map((m) => m.name));
  const missing: string[] = [];
  if (!names.has('kvm')) missing.push('kvm module not loaded');
  const hw = expectedHardwareModule(cpu);
  if (hw && !names.has(hw)) missing.push(`${hw} not loaded`);
  if (cpu.arch === 'x86' && !cpu.vmx && !cpu.svm) missing.push('no vmx/svm in /proc/cpuinfo');
  if (cpu.arch === 'power' && cpu.platform !== 'PowerNV') missing.push('platform is not PowerNV');
  if (cpu.arch === 'other') missing.push('neither x86 nor POWER');
  if (!device.stat.exists) missing.push('/dev/kvm does not exist');
  // libvirt starts QEMU as its own user: a KVM that only root can open is no KVM for guests.
  const qemuCannotOpen =
    device.stat.exists && !device.usableByQemu
      ? `${device.qemu.user} cannot open /dev/kvm read-write (see kvm.device)`
      : undefined;
  if (qemuCannotOpen) missing.push(qemuCannotOpen);
  const kvmCheck = probes.checks.find((c) => c.id === 'kvm.functional');
  let probeOk: boolean | undefined;
  let probeDetail = probes.kvm ? (kvmCheck?.found ?? probes.kvm.detail) : (probes.skipped ?? 'not run');
  if (probes.kvm) probeOk = probes.kvm.ok && kvmCheck?.status === 'pass';
  else if (probes.noKvm) probeOk = false;
  if (probeOk && qemuCannotOpen) {
    probeOk = false;
    probeDetail = `the probe guest ran (as ${process.getuid?.() === 0 ? 'root' : 'this user'}), but ${qemuCannotOpen}`;
  }
  return {
    probeOk,
    probeDetail,
    staticReady: missing.length === 0,
    staticDetail: missing.join(', '),
  };
}

async function queryLibvirt(
  uri: string,
  connect: LibvirtConnector,
): Promise<{ checks: Check[]; sev?: DomainCapsSev; capsError?: string }> {
  const { versions, caps } = await askLibvirt(uri, connect);
  if (!versions.reachable || !caps)
    return { checks: checkLibvirt(versions, uri), capsError: 'libvirt is not reachable' };
  return {
    checks: checkLibvirt(versions, uri),
    sev: caps.xml !== undefined ? parseDomainCapsSev(caps.xml) : undefined,
    capsError: caps.error,
  };
}
