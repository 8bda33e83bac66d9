// libvirtd restarts under a running `kestrel serve` (real libvirt; a *.serial test: it stops
// the shared daemon, so it must run alone). Each round: an action is in flight when libvirtd
// is killed, and a guest's QEMU dies while libvirtd is down (its event is lost). Afterwards
// the action has ended (no task left, never hung), the dead guest is SHUTOFF (the resync on
// reconnect found it), events flow again (virsh destroy is seen at once), and new actions work.
// libvirtd is always left running (scripts/start-libvirt), whatever happens.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../../src/util/run.js';
import { ServeProcess, libvirtUnavailable, type ServerJson } from './serve-process.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const skip = await libvirtUnavailable();
const ROUNDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startLibvirt(): Promise<void> {
  const r = await run([join(ROOT, 'scripts', 'start-libvirt')], { timeoutMs: 150_000 });
  if (r.code !== 0) throw new Error(`scripts/start-libvirt failed: ${r.stderr}`);
}

async function stopLibvirtd(): Promise<void> {
  await run(['pkill', '-x', 'libvirtd'], { timeoutMs: 10_000 });
  for (let i = 0; i < 100; i++) {
    const r = await run(['pgrep', '-x', 'libvirtd'], { timeoutMs: 10_000 });
    if (r.code !== 0) return;
    await sleep(100);
  }
  throw new Error('libvirtd did not exit within 10 s of SIGTERM');
}

describe('libvirtd restarts under kestrel serve', { skip, timeout: 300_000 }, () => {
  const svc = new ServeProcess(`kt-recovery-${Math.random().toString(36).slice(2, 8)}`);
  let a = '';
  let b = '';

  before(async () => {
    await svc.start();
    const refs = await svc.bootRefs();
    a = await svc.boot('kt-recovery-lv-a', refs);
    b = await svc.boot('kt-recovery-lv-b', refs);
    for (const id of [a, b]) await svc.waitFor(id, (s) => s?.status === 'ACTIVE');
  });
  after(async () => {
    await startLibvirt(); // never leave the shared daemon down
    await svc.cleanup();
  });

  const settled = (s: ServerJson | undefined) => !!s && !s['OS-EXT-STS:task_state'] && s.status !== 'BUILD';

  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: an action in flight and a guest dying while libvirtd is down`, async (t) => {
      await svc.waitFor(a, (s) => s?.status === 'ACTIVE' && settled(s), 60_000);
      await svc.waitFor(b, (s) => s?.status === 'ACTIVE' && settled(s), 60_000);
      const qemuB = Number(readFileSync(`/run/libvirt/qemu/instance-${b}.pid`, 'utf8').trim());
      // A hard reboot of a is in flight when the daemon goes away.
      const act = await svc.api('compute', 'POST', `/servers/${a}/action`, { reboot: { type: 'HARD' } });
      assert.equal(act.status, 202, JSON.stringify(act.json));
      await stopLibvirtd();
      try {
        process.kill(qemuB, 'SIGKILL'); // nobody is listening: this event is lost
        await sleep(500);
      } finally {
        await startLibvirt();
      }
      const t0 = performance.now();
      // The in-flight action ends one way or the other: no task left behind, never a hang.
      const sa = await svc.waitFor(a, settled, 90_000);
      assert.ok(['ACTIVE', 'SHUTOFF', 'ERROR'].includes(sa!.status), `a is ${sa!.status}`);
      // The reconnect resync records what happened while events were lost.
      const sb = await svc.waitFor(b, (s) => s?.status === 'SHUTOFF', 30_000);
      assert.equal(sb!.status, 'SHUTOFF');
      t.diagnostic(
        `after the restart: a ${sa!.status}, b SHUTOFF within ${Math.round(performance.now() - t0)} ms`,
      );

      // Actions work again, and events flow: start both, then destroy b behind our back.
      for (const id of [a, b]) {
        const cur = await svc.server(id);
        if (cur?.status === 'ACTIVE') continue;
        const action = cur?.status === 'ERROR' ? { reboot: { type: 'HARD' } } : { 'os-start': null };
        const r = await svc.api('compute', 'POST', `/servers/${id}/action`, action);
        assert.equal(r.status, 202, `${id}: ${JSON.stringify(r.json)}`);
      }
      for (const id of [a, b]) await svc.waitFor(id, (s) => s?.status === 'ACTIVE' && settled(s), 60_000);
      const d = await run(['virsh', '-c', 'qemu:///system', 'destroy', `instance-${b}`], {
        timeoutMs: 30_000,
      });
      assert.equal(d.code, 0, d.stderr);
      const t1 = performance.now();
      await svc.waitFor(b, (s) => s?.status === 'SHUTOFF', 5000);
      t.diagnostic(`events resumed: virsh destroy seen in ${Math.round(performance.now() - t1)} ms`);
      const r = await svc.api('compute', 'POST', `/servers/${b}/action`, { 'os-start': null });
      assert.equal(r.status, 202);
    });
  }
});
