// Outside changes with real libvirt: a guest whose QEMU is killed (kill -9) is SHUTOFF with a
// crash fault within 1 s; a guest destroyed behind Kestrel's back (virsh destroy) is SHUTOFF
// within 1 s without one; the server can be started again afterwards.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { run } from '../../src/util/run.js';
import { ServeProcess, libvirtUnavailable } from './serve-process.js';

const skip = await libvirtUnavailable();

describe('outside changes to a running guest', { skip, timeout: 180_000 }, () => {
  const svc = new ServeProcess(`kt-recovery-${Math.random().toString(36).slice(2, 8)}`);
  let id = '';

  before(async () => {
    await svc.start();
    id = await svc.boot('kt-recovery-outside', await svc.bootRefs());
    await svc.waitFor(id, (s) => s?.status === 'ACTIVE');
  });
  after(() => svc.cleanup());

  const faults = (): string[] => {
    const db = new SQLite(join(svc.statePath, 'kestrel.sqlite'), { readonly: true });
    try {
      return (
        db.prepare('select message from instance_faults where instance_uuid = ? order by id').all(id) as {
          message: string;
        }[]
      ).map((r) => r.message);
    } finally {
      db.close();
    }
  };

  /** Milliseconds until the server shows status, polling every 25 ms (gives up at 10 s). */
  async function msUntil(status: string): Promise<number> {
    const t0 = performance.now();
    await svc.waitFor(id, (s) => s?.status === status, 10_000);
    return performance.now() - t0;
  }

  test('kill -9 of QEMU: SHUTOFF within 1 s, with a crash fault', async (t) => {
    const pid = Number(readFileSync(`/run/libvirt/qemu/instance-${id}.pid`, 'utf8').trim());
    assert.ok(pid > 1, 'QEMU pid');
    const before = faults().length;
    process.kill(pid, 'SIGKILL');
    const ms = await msUntil('SHUTOFF');
    t.diagnostic(`QEMU killed → SHUTOFF in ${Math.round(ms)} ms`);
    assert.ok(ms < 1000, `SHUTOFF after ${ms} ms`);
    const after = faults();
    assert.equal(after.length, before + 1, 'one fault recorded');
    assert.match(after[after.length - 1], /crashed/);
  });

  test('the server starts again after the crash', async () => {
    const r = await svc.api('compute', 'POST', `/servers/${id}/action`, { 'os-start': null });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    await svc.waitFor(id, (s) => s?.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'], 60_000);
  });

  test('virsh destroy behind our back: SHUTOFF within 1 s, no crash fault', async (t) => {
    const before = faults().length;
    const r = await run(['virsh', '-c', 'qemu:///system', 'destroy', `instance-${id}`], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const ms = await msUntil('SHUTOFF');
    t.diagnostic(`virsh destroy → SHUTOFF in ${Math.round(ms)} ms`);
    assert.ok(ms < 1000, `SHUTOFF after ${ms} ms`);
    assert.equal(faults().length, before, 'an operator stop is not a crash');
  });
});
