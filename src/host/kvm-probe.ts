// The functional KVM probe: start a tiny guest with QEMU directly (no libvirt) and see whether it
// runs to a known output within a bound. Flags and modules are not enough: on a PVM host
// (KVM under another hypervisor's paravirtual layer) /dev/kvm exists and real-mode code runs, but protected mode, a Linux kernel and OVMF do not.
//
// The guest is a 64 KiB ROM given to QEMU as its BIOS, so nothing else runs (no SeaBIOS, whose
// real-mode code alone takes seconds under PVM). It prints a line to COM1 at each stage —
// real mode, 32-bit protected mode, 64-bit long mode with paging, a 64-bit arithmetic check —
// and then exits QEMU through the isa-debug-exit port. The same probe under TCG proves the probe
// itself right. Source: test/fixtures/host/kvm-probe-rom.S.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunner, type CommandRunner } from './command-runner.js';

export type ProbeAccel = 'kvm' | 'tcg';
export type ProbeStage = 'real' | 'protected' | 'long' | 'ok';
export const PROBE_STAGES: readonly ProbeStage[] = ['real', 'protected', 'long', 'ok'];

export interface KvmProbeResult {
  accel: ProbeAccel;
  /** The guest ran every stage and exited with the success code. */
  ok: boolean;
  /** The stages whose line reached the serial port, in order. */
  stages: ProbeStage[];
  durationMs: number;
  timedOut: boolean;
  exitCode: number | null;
  /** One-line summary of what happened. */
  detail: string;
  /** The last lines QEMU wrote to stderr (e.g. "KVM internal error. Suberror: 1"). */
  stderrTail: string;
}

export type KvmProbeFn = (accel: ProbeAccel) => Promise<KvmProbeResult>;

/** Machine code assembled from test/fixtures/host/kvm-probe-rom.S (loaded at 0xF0000). */
export const PROBE_CODE_HEX =
  'fafcbaf803be0e012eac84c07403eeebf72e660f011608010f20c00c010f22c066ea28000f00080066b810008ed88ec0' +
  '8ed0be1c010f00ac84c07403eeebf8c7050010000003200000c7050020000003300000c7050030000083000000b80010' +
  '00000f22d80f20e083c8200f22e0b9800000c00f320d000100000f300f20c00d000000800f22c0ea8e000f00180066ba' +
  'f803be2f010f00ac84c07403eeebf848b8efcdab896745230148c1c82048bb67452301efcdab894839d87514be3d010f' +
  '00ac84c07403eeebf8b010e6f4f4ebfdbe49010f00ac84c07403eeebf8b020e6f4ebea0f1f4400000000000000000000' +
  'ffff0000009acf00ffff00000092cf00ffff0000009aaf001f00e8000f004b50524f4245207265616c0d0a004b50524f' +
  '42452070726f7465637465640d0a004b50524f4245206c6f6e670d0a004b50524f4245206f6b0d0a004b50524f424520' +
  '6261640d0a00';

/** isa-debug-exit turns the guest's `out 0xf4, 0x10` into QEMU exit status (0x10 << 1) | 1. */
export const PROBE_SUCCESS_EXIT = 33;
export const PROBE_DEFAULT_TIMEOUT_MS = 2500;
const ROM_SIZE = 64 * 1024; // QEMU wants a BIOS image whose size is a multiple of 64 KiB

/** The 64 KiB BIOS image: the probe code at offset 0, a far jump to 0xF000:0000 at the reset vector. */
export function buildProbeRom(): Buffer {
  const rom = Buffer.alloc(ROM_SIZE);
  Buffer.from(PROBE_CODE_HEX, 'hex').copy(rom, 0);
  Buffer.from([0xea, 0x00, 0x00, 0x00, 0xf0]).copy(rom, ROM_SIZE - 16); // ljmp 0xf000:0x0000
  return rom;
}

/** The QEMU command line; an argument array, never a shell string. */
export function probeArgv(qemuBinary: string, accel: ProbeAccel, romPath: string): string[] {
  return [
    qemuBinary,
    '-accel',
    accel,
    '-machine',
    'pc',
    '-m',
    '16',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-bios',
    romPath,
    '-serial',
    'stdio',
    '-device',
    'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
}

/** The stages a serial transcript shows, in order. */
export function parseProbeOutput(serial: string): ProbeStage[] {
  const seen = new Set(
    [...serial.matchAll(/^KPROBE (real|protected|long|ok)\r?$/gm)].map((m) => m[1] as ProbeStage),
  );
  return PROBE_STAGES.filter((s) => seen.has(s));
}

export interface RunKvmProbeOptions {
  qemuBinary?: string;
  timeoutMs?: number;
  runner?: CommandRunner;
}

/** Runs the probe once with the given accelerator. Nothing is cached between runs. */
export async function runKvmProbe(accel: ProbeAccel, opts: RunKvmProbeOptions = {}): Promise<KvmProbeResult> {
  const timeoutMs = opts.timeoutMs ?? PROBE_DEFAULT_TIMEOUT_MS;
  const runner = opts.runner ?? defaultRunner;
  const dir = await mkdtemp(join(tmpdir(), 'kt-host-probe-'));
  try {
    const rom = join(dir, 'probe-rom.bin');
    await writeFile(rom, buildProbeRom());
    const argv = probeArgv(opts.qemuBinary ?? 'qemu-system-x86_64', accel, rom);
    let r;
    try {
      r = await runner(argv, { timeoutMs, maxOutputBytes: 64 * 1024 });
    } catch (e) {
      return {
        accel,
        ok: false,
        stages: [],
        durationMs: 0,
        timedOut: false,
        exitCode: null,
        detail: `could not start QEMU: ${(e as Error).message}`,
        stderrTail: '',
      };
    }
    const stages = parseProbeOutput(r.stdout);
    const ok = stages.includes('ok') && r.code === PROBE_SUCCESS_EXIT;
    const stderrTail = r.stderr
      .split('\n')
      .filter((l) => l.trim() && !/terminating on signal/.test(l))
      .slice(-4)
      .join('\n');
    return {
      accel,
      ok,
      stages,
      durationMs: Math.round(r.durationMs),
      timedOut: r.timedOut,
      exitCode: r.code,
      detail: describeProbe(
        accel,
        ok,
        stages,
        r.timedOut,
        r.code,
        Math.round(r.durationMs),
        timeoutMs,
        stderrTail,
      ),
      stderrTail,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function describeProbe(
  accel: ProbeAccel,
  ok: boolean,
  stages: ProbeStage[],
  timedOut: boolean,
  code: number | null,
  ms: number,
  timeoutMs: number,
  stderrTail: string,
): string {
  const name = accel === 'kvm' ? 'KVM' : 'TCG';
  if (ok) return `${name}: guest ran real -> protected -> long mode and printed in ${ms} ms`;
  const last = stages.length ? stages[stages.length - 1] : undefined;
  const next = PROBE_STAGES[last ? PROBE_STAGES.indexOf(last) + 1 : 0];
  const reached = last ? `reached ${last} mode only` : 'printed nothing';
  const internal = /KVM internal error/.test(stderrTail) ? ' (KVM internal error)' : '';
  const how = timedOut ? `no ${next} line within ${timeoutMs} ms, killed` : `QEMU exited with status ${code}`;
  // QEMU's warnings (e.g. "host doesn't support requested feature") are noise here; errors are not.
  const errors = stderrTail.split('\n').filter((l) => l.trim() && !/warning:/.test(l));
  const err = errors.length ? `; QEMU: ${errors[errors.length - 1]}` : '';
  return `${name}: guest ${reached}, ${how}${internal}${err}`;
}
