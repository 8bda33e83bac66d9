// ONE conformance suite for every HypervisorDriver (fake and libvirt): the same lifecycle,
// the same events, the same refusals. Each implementation's test file calls
// driverConformance() with a harness that knows how to make a bootable guest for it.
import { isKestrelError } from '../../src/errors/index.js';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  PowerState,
  type HypervisorDriver,
  type InstanceSpec,
  type LifecycleEvent,
  type LifecycleKind,
} from '../../src/virt/driver.js';
import { isVirtError } from '../../src/virt/errors.js';

export interface ConformanceHarness {
  driver: HypervisorDriver;
  /** A fresh spec (new uuid, its own disk) for a guest that prints bootMessage on its serial port. */
  guestSpec(overrides?: { imageProperties?: Record<string, string> }): Promise<InstanceSpec>;
  bootMessage: string;
  /** A writable directory for snapshot files. */
  workDir: string;
  /** A driver whose guests' CPU exposes vmx (nested virt), or undefined when it can't run here. */
  nestedDriver?: HypervisorDriver;
  /** How long to wait for an event or for console text. */
  eventTimeoutMs: number;
  cleanup(): Promise<void>;
}

export function waitForEvent(
  driver: HypervisorDriver,
  uuid: string,
  kind: LifecycleKind,
  timeoutMs: number,
): Promise<LifecycleEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      driver.events.off('lifecycle', on);
      reject(new Error(`no '${kind}' lifecycle event for ${uuid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (e: LifecycleEvent) => {
      if (e.uuid !== uuid || e.kind !== kind) return;
      clearTimeout(timer);
      driver.events.off('lifecycle', on);
      resolve(e);
    };
    driver.events.on('lifecycle', on);
  });
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    // Refusals come from the driver (VirtError) or the rule book the configurators call
    // (KestrelError): the catalogue's code is what callers look at.
    assert.ok(isKestrelError(e), `expected a KestrelError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.fix.length > 0, 'every error carries a fix');
    return true;
  });
}

export function driverConformance(name: string, makeHarness: () => Promise<ConformanceHarness>): void {
  describe(`HypervisorDriver conformance: ${name}`, () => {
    let h: ConformanceHarness;
    let d: HypervisorDriver;
    let spec: InstanceSpec;
    let uuid: string;
    let t: number;

    before(async () => {
      h = await makeHarness();
      d = h.driver;
      t = h.eventTimeoutMs;
      await d.init();
    });
    after(async () => {
      await h?.cleanup();
    });

    test('host status describes the hypervisor', async () => {
      const s = await d.hostStatus();
      assert.equal(s.hypervisorType, 'QEMU');
      assert.ok(s.vcpus > 0 && s.memoryMb > 0, `vcpus ${s.vcpus} memory ${s.memoryMb}`);
      assert.ok(s.hypervisorVersion > 1_000_000);
      assert.ok(s.cpuInfo.arch.length > 0 && s.cpuInfo.features.length > 0);
      assert.ok(s.traits.every((x) => /^[A-Z0-9_]+$/.test(x)));
    });

    test('spawn: defined, started, running, listed, console shows the boot', async () => {
      spec = await h.guestSpec();
      uuid = spec.uuid;
      const started = waitForEvent(d, uuid, 'started', t);
      await d.spawn(spec);
      const ev = await started;
      assert.equal(ev.state, PowerState.RUNNING);
      const info = await d.info(uuid);
      assert.equal(info.state, PowerState.RUNNING);
      assert.equal(info.vcpus, spec.flavor.vcpus);
      assert.equal(info.maxMemoryKb, spec.flavor.memoryMb * 1024);
      assert.ok((await d.list()).includes(uuid));
      const text = await waitFor('the boot message on the console', t, async () => {
        const c = await d.consoleOutput(uuid);
        return c.includes(h.bootMessage) ? c : undefined;
      });
      assert.ok(text.includes(h.bootMessage));
      const states = await d.syncPowerStates?.();
      if (states) assert.equal(states.get(uuid), PowerState.RUNNING);
    });

    test('spawning the same uuid twice is refused', async () => {
      await expectCode(d.spawn(spec), 'instance-exists');
    });

    test('pause and unpause', async () => {
      const paused = waitForEvent(d, uuid, 'paused', t);
      await d.pause(uuid);
      assert.equal((await paused).state, PowerState.PAUSED);
      assert.equal((await d.info(uuid)).state, PowerState.PAUSED);
      const resumed = waitForEvent(d, uuid, 'resumed', t);
      await d.unpause(uuid);
      await resumed;
      assert.equal((await d.info(uuid)).state, PowerState.RUNNING);
    });

    test('suspend (managed save) and resume', async () => {
      const suspended = waitForEvent(d, uuid, 'suspended', t);
      await d.suspend(uuid);
      await suspended;
      assert.equal((await d.info(uuid)).state, PowerState.SUSPENDED);
      await expectCode(d.pause(uuid), 'invalid-state');
      const started = waitForEvent(d, uuid, 'started', t);
      await d.resume(uuid);
      await started;
      assert.equal((await d.info(uuid)).state, PowerState.RUNNING);
    });

    test('hard reboot and soft reboot leave the guest running', async () => {
      const started = waitForEvent(d, uuid, 'started', t);
      await d.reboot(uuid, 'hard');
      await started;
      assert.equal((await d.info(uuid)).state, PowerState.RUNNING);
      await d.reboot(uuid, 'soft');
      assert.equal((await d.info(uuid)).state, PowerState.RUNNING);
    });

    test('snapshot copies the root disk to a file', async () => {
      const target = join(h.workDir, `snap-${randomUUID()}.qcow2`);
      await d.snapshot(uuid, target, 'qcow2');
      assert.ok(existsSync(target) && statSync(target).size > 0);
      const fd = openSync(target, 'r');
      const magic = Buffer.alloc(4);
      readSync(fd, magic, 0, 4, 0);
      closeSync(fd);
      assert.deepEqual([...magic], [0x51, 0x46, 0x49, 0xfb], 'a qcow2 file');
    });

    test('power off (clean, then forced after the timeout) and power on', async () => {
      const stopped = waitForEvent(d, uuid, 'stopped', t + 3000);
      await d.powerOff(uuid, 1);
      assert.equal((await stopped).state, PowerState.SHUTDOWN);
      assert.equal((await d.info(uuid)).state, PowerState.SHUTDOWN);
      await d.powerOff(uuid, 1); // already off: no error
      const started = waitForEvent(d, uuid, 'started', t);
      await d.powerOn(uuid);
      await started;
      assert.equal((await d.info(uuid)).state, PowerState.RUNNING);
    });

    test('agent commands on a guest without an agent are refused', async () => {
      await expectCode(d.agentCommand(uuid, '{"execute":"guest-ping"}', 1), 'agent-not-configured');
    });

    test('nested virt: suspend and live migration refused with the KVM limitation named', async (ctx) => {
      if (!h.nestedDriver) {
        ctx.skip('no nested-virt driver for this implementation');
        return;
      }
      const nd = h.nestedDriver;
      await nd.init();
      const nspec = await h.guestSpec();
      try {
        const started = waitForEvent(nd, nspec.uuid, 'started', t);
        await nd.spawn(nspec);
        await started;
        await assert.rejects(nd.suspend(nspec.uuid), (e: unknown) => {
          assert.ok(isVirtError(e, 'nested-virt-conflict'), String(e));
          assert.match(e.message, /KVM/);
          assert.match(e.fix, /allow_nested_suspend/);
          return true;
        });
        if (nd.checkCanLiveMigrate)
          await expectCode(nd.checkCanLiveMigrate(nspec.uuid), 'nested-virt-conflict');
        assert.equal((await nd.info(nspec.uuid)).state, PowerState.RUNNING);
      } finally {
        await nd.destroy(nspec.uuid);
      }
    });

    test('destroy removes the guest; later calls say not found', async () => {
      const undefinedEv = waitForEvent(d, uuid, 'undefined', t);
      await d.destroy(uuid);
      await undefinedEv;
      assert.ok(!(await d.list()).includes(uuid));
      await expectCode(d.info(uuid), 'instance-not-found');
      await expectCode(d.powerOn(uuid), 'instance-not-found');
      await d.destroy(uuid); // idempotent
    });

    test('a refused configuration leaves nothing behind', async () => {
      const bad = await h.guestSpec({ imageProperties: { hw_machine_type: 'q35', hw_disk_bus: 'ide' } });
      await expectCode(d.spawn(bad), 'unsupported-config');
      assert.ok(!(await d.list()).includes(bad.uuid));
    });
  });
}
