// Real Linux guests under TCG through the libvirt driver: the qemu-guest-agent guest answers
// guest-ping and shuts down through the agent; a q35 + UEFI guest boots through OVMF, powers
// itself off, and is reported SHUTDOWN by the lifecycle event within a second; start-up
// checks against the real host. (~25 s: two Linux boots, run concurrently.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { PowerState, type LifecycleEvent } from '../../src/virt/driver.js';
import { isVirtError } from '../../src/virt/errors.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { waitFor, waitForEvent } from './driver-conformance.js';
import { realDriverEnv, realEnv, testImages, type RealEnv } from './libvirt-harness.js';

describe('libvirt driver: real Linux guests (TCG)', () => {
  let env: RealEnv & { driver: LibvirtDriver };
  let driver: LibvirtDriver;
  before(async () => {
    env = await realDriverEnv();
    driver = env.driver;
  });
  after(async () => env?.cleanup());

  test('qemu-guest-agent guest: guest-ping through Kestrel, then shutdown through the agent', async () => {
    const spec = await env.linuxSpec(testImages().initrdQga, { hw_qemu_guest_agent: 'yes' });
    const connected = new Promise<void>((resolve) => {
      const on = (e: { uuid: string; connected: boolean }) => {
        if (e.uuid === spec.uuid && e.connected) {
          driver.events.off('agent', on);
          resolve();
        }
      };
      driver.events.on('agent', on);
    });
    await driver.spawn(spec);
    await assert.rejects(
      // Right after start the agent is not up yet: a clear error, not a hang.
      driver.agentCommand(spec.uuid, '{"execute":"guest-ping"}', 1),
      (e: unknown) => isVirtError(e) && ['agent-not-connected', 'agent-timeout'].includes(e.code),
    );
    await Promise.race([
      connected,
      new Promise((_, rej) => setTimeout(() => rej(new Error('agent did not connect within 60 s')), 60_000)),
    ]);
    assert.ok(driver.isAgentConnected(spec.uuid));
    const reply = await waitFor('guest-ping answer', 15_000, async () => {
      try {
        return await driver.agentCommand(spec.uuid, '{"execute":"guest-ping"}', 2);
      } catch {
        return undefined;
      }
    });
    assert.deepEqual(JSON.parse(reply), { return: {} });
    const stopped = waitForEvent(driver, spec.uuid, 'stopped', 20_000);
    await driver.agentCommand(spec.uuid, '{"execute":"guest-shutdown"}', 10);
    await stopped;
    assert.equal((await driver.info(spec.uuid)).state, PowerState.SHUTDOWN);
    await driver.destroy(spec.uuid);
  });

  test('q35 + UEFI guest boots through OVMF; its own power-off is reported within 1 s', async () => {
    const spec = await env.linuxSpec(
      testImages().initrdPoweroff,
      { hw_machine_type: 'q35', hw_firmware_type: 'uefi' },
      256,
    );
    const name = `${env.prefix}${spec.uuid}`;
    let shutdownAt = 0;
    const seen: LifecycleEvent[] = [];
    const onEv = (e: LifecycleEvent) => {
      if (e.uuid !== spec.uuid) return;
      seen.push(e);
      if ((e.kind === 'shutdown' || e.kind === 'stopped') && !shutdownAt) shutdownAt = Date.now();
    };
    driver.events.on('lifecycle', onEv);
    try {
      await driver.spawn(spec);
      const nvram = `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;
      assert.ok(existsSync(nvram), 'a per-instance NVRAM file');
      const bootedAt = await waitFor('LINUX-BOOTED from the UEFI guest', 60_000, async () =>
        (await driver.consoleOutput(spec.uuid)).includes('LINUX-BOOTED') ? Date.now() : undefined,
      );
      const console = await driver.consoleOutput(spec.uuid);
      // OVMF clears the serial terminal (SeaBIOS prints nothing there); the XML names the OVMF build.
      assert.ok(console.includes('\x1b[2J'), 'OVMF wrote to the serial port');
      assert.match(
        await driver.buildXml(spec),
        /<loader readonly="yes" type="pflash">\/usr\/share\/OVMF\/OVMF_CODE[^<]*\.fd</,
      );
      await waitFor('the shutdown event', 10_000, () => Promise.resolve(shutdownAt || undefined));
      // The guest calls poweroff right after printing; polling adds ≤ 50 ms.
      assert.ok(
        shutdownAt - bootedAt < 1000,
        `SHUTDOWN reported ${shutdownAt - bootedAt} ms after the guest's last words`,
      );
      assert.equal(
        seen.find((e) => e.kind === 'shutdown' || e.kind === 'stopped')?.state,
        PowerState.SHUTDOWN,
      );
      await waitFor('state SHUTDOWN', 5000, async () =>
        (await driver.info(spec.uuid)).state === PowerState.SHUTDOWN ? true : undefined,
      );
      await driver.destroy(spec.uuid);
      assert.ok(!existsSync(nvram), 'NVRAM removed with the instance');
      assert.ok(!existsSync(spec.consoleLogPath), 'console log removed with the instance');
    } finally {
      driver.events.off('lifecycle', onEv);
    }
  });
});

describe('libvirt driver: start-up checks and start failures on this host', () => {
  let env: RealEnv;
  before(async () => {
    env = await realEnv();
  });
  after(async () => {
    await env?.cleanup();
  });

  const start = async (
    o: Partial<ConstructorParameters<typeof LibvirtDriver>[0]>,
    use?: (d: LibvirtDriver) => Promise<void>,
  ) => {
    const d = new LibvirtDriver({ client: env.client, virtType: 'qemu', namePrefix: env.prefix, ...o });
    try {
      await d.init();
      await use?.(d);
    } finally {
      await d.close();
    }
  };

  test('cpu_models are matched case-insensitively and spelled as libvirt does', async () => {
    await start({ cpuMode: 'custom', cpuModels: ['haswell-notsx', 'ivybridge'] }, async (d) => {
      const xml = await d.buildXml(await env.bootSectorSpec());
      assert.match(xml, /<model>Haswell-noTSX<\/model>/);
    });
  });

  test('an unknown CPU model is refused with the list of known ones', async () => {
    await assert.rejects(start({ cpuMode: 'custom', cpuModels: ['NoSuchCPU'] }), (e: unknown) => {
      assert.ok(isVirtError(e, 'cpu-model-unknown'), String(e));
      assert.match(e.fix, /Haswell/);
      return true;
    });
  });

  test('cpu_models without cpu_mode=custom is refused', async () => {
    await assert.rejects(start({ cpuModels: ['Haswell'] }), (e: unknown) =>
      isVirtError(e, 'cpu-mode-invalid'),
    );
  });

  test("virt_type kvm is refused when the functional KVM probe failed, with the guide's advice", async () => {
    await assert.rejects(
      start({ virtType: 'kvm', kvmProbe: { ok: false, detail: 'guest hung in protected mode' } }),
      (e: unknown) => {
        assert.ok(isVirtError(e, 'kvm-unavailable'), String(e));
        assert.match(e.message, /probe failed: guest hung/);
        assert.match(e.fix, /virt_type = qemu/);
        assert.match(e.fix, /kestrel doctor/);
        return true;
      },
    );
  });

  test('virt_type kvm: extra flags the host CPU lacks are refused in host-model mode too, listed', async () => {
    await assert.rejects(
      start({ virtType: 'kvm', cpuModelExtraFlags: ['vmx', 'svm', '-avx'] }),
      (e: unknown) => {
        assert.ok(isVirtError(e, 'cpu-incompatible'), String(e));
        assert.match(e.message, /svm, vmx/);
        return true;
      },
    );
  });

  test("a QEMU start failure carries QEMU's own words and leaves no domain behind", async () => {
    await start({}, async (d) => {
      const spec = await env.bootSectorSpec();
      assert.equal(spec.rootDisk.kind, 'file');
      if (spec.rootDisk.kind !== 'file') return;
      // A qcow2 header with an impossible cluster size: libvirt starts QEMU, QEMU refuses it.
      await writeFile(
        spec.rootDisk.path,
        Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), Buffer.alloc(1000, 0xff)]),
      );
      await assert.rejects(d.spawn(spec), (e: unknown) => {
        assert.ok(isVirtError(e, 'guest-start-failed'), String(e));
        assert.match(e.details ?? '', /QEMU log[\s\S]*cluster size/);
        assert.match(e.fix, /\/var\/log\/libvirt\/qemu\//);
        return true;
      });
      assert.ok(!(await d.list()).includes(spec.uuid));
    });
  });
});
