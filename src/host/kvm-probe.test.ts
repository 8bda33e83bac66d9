import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../util/run.js';
import type { RunResult } from '../util/run.js';
import {
  PROBE_CODE_HEX,
  PROBE_SUCCESS_EXIT,
  buildProbeRom,
  parseProbeOutput,
  probeArgv,
  runKvmProbe,
} from './kvm-probe.js';
import type { CommandRunner } from './command-runner.js';

test('the ROM is 64 KiB with the code at 0 and a far jump to f000:0000 at the reset vector', () => {
  const rom = buildProbeRom();
  assert.equal(rom.length, 65536);
  assert.equal(rom.subarray(0, 4).toString('hex'), PROBE_CODE_HEX.slice(0, 8));
  assert.deepEqual([...rom.subarray(0xfff0, 0xfff5)], [0xea, 0, 0, 0, 0xf0]);
});

test('the embedded code is what the assembly source assembles to (when binutils is here)', async (t) => {
  const src = fileURLToPath(new URL('../../test/fixtures/host/kvm-probe-rom.S', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'kt-host-asm-'));
  try {
    const as = await run(['as', '--64', '-o', join(dir, 'p.o'), src], { timeoutMs: 20_000 }).catch(
      () => undefined,
    );
    if (!as || as.code !== 0) {
      t.skip('GNU as is not installed (binutils); the byte-for-byte check needs it');
      return;
    }
    const oc = await run(['objcopy', '-O', 'binary', '-j', '.text', join(dir, 'p.o'), join(dir, 'p.bin')]);
    assert.equal(oc.code, 0, oc.stderr);
    assert.equal((await readFile(join(dir, 'p.bin'))).toString('hex'), PROBE_CODE_HEX);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('argv: direct QEMU, no defaults, no display, serial on stdio, debug-exit device', () => {
  const argv = probeArgv('qemu-system-x86_64', 'kvm', '/tmp/rom');
  assert.deepEqual(argv.slice(0, 3), ['qemu-system-x86_64', '-accel', 'kvm']);
  for (const a of ['-nodefaults', '-display', 'none', '-serial', 'stdio', '-bios', '/tmp/rom'])
    assert.ok(argv.includes(a), a);
  assert.ok(argv.some((a) => a.startsWith('isa-debug-exit')));
});

test('serial transcript stages', () => {
  assert.deepEqual(parseProbeOutput('KPROBE real\r\nKPROBE protected\r\nKPROBE long\r\nKPROBE ok\r\n'), [
    'real',
    'protected',
    'long',
    'ok',
  ]);
  assert.deepEqual(parseProbeOutput('KPROBE real\r\n'), ['real']);
  assert.deepEqual(parseProbeOutput('garbage KPROBE long\n'), []);
});

function fake(stdout: string, code: number | null, timedOut = false, stderr = ''): CommandRunner {
  return (): Promise<RunResult> =>
    Promise.resolve({ code, signal: timedOut ? 'SIGKILL' : null, stdout, stderr, timedOut, durationMs: 42 });
}

test('a probe that reaches every stage and exits 33 is ok', async () => {
  const r = await runKvmProbe('kvm', {
    runner: fake('KPROBE real\r\nKPROBE protected\r\nKPROBE long\r\nKPROBE ok\r\n', PROBE_SUCCESS_EXIT),
  });
  assert.equal(r.ok, true);
  assert.match(r.detail, /long mode/);
});

test('a probe stuck after real mode (PVM) says where it stopped', async () => {
  const r = await runKvmProbe('kvm', {
    timeoutMs: 2500,
    runner: fake(
      'KPROBE real\r\n',
      null,
      true,
      "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n",
    ),
  });
  assert.equal(r.ok, false);
  assert.deepEqual(r.stages, ['real']);
  assert.match(r.detail, /reached real mode only, no protected line within 2500 ms/);
  assert.doesNotMatch(r.detail, /warning/);
});

test('KVM internal error is named', async () => {
  const r = await runKvmProbe('kvm', {
    runner: fake('KPROBE real\r\n', null, true, 'KVM internal error. Suberror: 1\nemulation failure\n'),
  });
  assert.match(r.detail, /KVM internal error/);
});

test('all lines printed but a wrong exit status is not ok', async () => {
  const r = await runKvmProbe('tcg', {
    runner: fake('KPROBE real\r\nKPROBE protected\r\nKPROBE long\r\nKPROBE ok\r\n', 1),
  });
  assert.equal(r.ok, false);
});

test('QEMU that cannot start is reported', async () => {
  const r = await runKvmProbe('tcg', { runner: () => Promise.reject(new Error('qemu: spawn ENOENT')) });
  assert.equal(r.ok, false);
  assert.match(r.detail, /could not start QEMU: qemu: spawn ENOENT/);
});
