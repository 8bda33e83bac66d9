// The libvirt driver against real libvirtd + QEMU under TCG (type='qemu'): the shared
// conformance suite on one boot-sector guest (boot, pause, suspend/resume, reboots, snapshot,
// power off/on, destroy), and the nested-virt refusal on a guest whose CPU exposes vmx.
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { driverConformance } from './driver-conformance.js';
import { realEnv, type RealEnv } from './libvirt-harness.js';

driverConformance('libvirt (qemu:///system, TCG)', async () => {
  const env: RealEnv = await realEnv();
  const common = {
    client: env.client,
    virtType: 'qemu' as const,
    namePrefix: env.prefix,
    softRebootTimeoutSeconds: 1,
  };
  const driver = new LibvirtDriver(common);
  const nestedDriver = new LibvirtDriver({ ...common, cpuModelExtraFlags: ['svm'] });
  return {
    driver,
    nestedDriver,
    bootMessage: 'GUEST-BOOTED',
    workDir: env.workDir,
    eventTimeoutMs: 15_000,
    guestSpec: (o) => env.bootSectorSpec(o?.imageProperties),
    async cleanup() {
      await driver.close();
      await nestedDriver.close();
      await env.cleanup();
    },
  };
});
