// `npm run bench -- reconcile`: start-up reconciliation time.
//  - fake1000: 1,000 recorded instances on the fake driver, in the mix a kill -9 leaves
//    (mostly ACTIVE, some mid-build with and without a guest, some mid-delete or mid-stop),
//    plus orphaned directories and allocations; then the steady state (a second start with
//    nothing to repair). Baseline, same run: the bare reads any start-up needs (list the
//    instances + one power-state sweep).
//  - real10: 10 real guests (libvirt, virt_type qemu, the boot-sector image), 5 ACTIVE and
//    5 left mid-build with running guests (finished to ACTIVE), timed the same way.
// Target: fake1000 ≤ 2 s.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { reconcileAtStartup, type ReconcileReport } from '../src/compute/reconcile.js';
import { PowerState, type InstanceSpec } from '../src/virt/driver.js';
import { LibvirtDriver } from '../src/virt/libvirt/driver.js';
import { HOST, openWorld } from '../test/recovery/fixtures.js';

const TEST_IMAGES = process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images';

async function fake1000(): Promise<{
  ms: number;
  steadyMs: number;
  baselineMs: number;
  report: ReconcileReport;
}> {
  const w = await openWorld('kt-recovery-bench-');
  try {
    for (let i = 0; i < 1000; i++) {
      const kind = i % 20;
      if (kind < 14) {
        const inst = await w.instance({ vmState: 'active', taskState: null });
        await w.guest(inst.uuid);
        await w.repos.instances.update(inst.uuid, { powerState: PowerState.RUNNING });
      } else if (kind < 16) {
        const inst = await w.instance({ taskState: 'spawning' });
        await w.guest(inst.uuid);
      } else if (kind < 18) {
        const inst = await w.instance({ taskState: 'block_device_mapping' });
        await w.disks.create(inst.uuid);
      } else if (kind === 18) {
        const inst = await w.instance({ vmState: 'active', taskState: 'deleting' });
        await w.guest(inst.uuid);
      } else {
        const inst = await w.instance({ vmState: 'active', taskState: 'powering-off' });
        await w.guest(inst.uuid);
        await w.driver.powerOff(inst.uuid, 0);
      }
    }
    for (let i = 0; i < 20; i++) {
      await w.disks.create(randomUUID());
      await w.repos.placement.insertAllocations(randomUUID(), w.providerUuid, { VCPU: 1 });
    }
    const opts = {
      repos: w.repos,
      driver: w.driver,
      disks: w.disks,
      host: HOST,
      instancesPath: w.instancesPath,
    };
    let t = performance.now();
    await w.repos.instances.list({ host: HOST });
    await w.driver.syncPowerStates();
    const baselineMs = performance.now() - t;
    t = performance.now();
    const report = await reconcileAtStartup(opts);
    const ms = performance.now() - t;
    t = performance.now();
    await reconcileAtStartup(opts);
    const steadyMs = performance.now() - t;
    return { ms, steadyMs, baselineMs, report };
  } finally {
    await w.close();
  }
}

async function real10(): Promise<
  { ms: number; steadyMs: number; baselineMs: number; report: ReconcileReport } | string
> {
  if (!existsSync(join(TEST_IMAGES, 'boot.img')))
    return `no ${TEST_IMAGES}/boot.img (run scripts/build-test-images)`;
  const w = await openWorld('kt-recovery-bench-');
  const prefix = `kt-recovery-bench-${Math.random().toString(36).slice(2, 6)}-`;
  const driver = new LibvirtDriver({ virtType: 'qemu', namePrefix: prefix, instancesPath: w.instancesPath });
  const uuids: string[] = [];
  try {
    await driver.init();
    const { chmodSync } = await import('node:fs');
    chmodSync(w.dir, 0o711);
    chmodSync(w.instancesPath, 0o711);
    for (let i = 0; i < 10; i++) {
      const inst =
        i < 5
          ? await w.instance({ vmState: 'active', taskState: null })
          : await w.instance({ taskState: 'spawning' });
      uuids.push(inst.uuid);
      const dir = join(w.instancesPath, inst.uuid);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      copyFileSync(join(TEST_IMAGES, 'boot.img'), join(dir, 'disk'));
      const spec: InstanceSpec = {
        uuid: inst.uuid,
        displayName: `kt-recovery-bench-${i}`,
        projectId: 'p1',
        flavor: { id: '0', name: 'm1.nano', vcpus: 1, memoryMb: 64, rootGb: 1, extraSpecs: {} },
        image: { id: randomUUID(), name: 'boot', diskFormat: 'raw', properties: {} },
        rootDisk: { kind: 'file', path: join(dir, 'disk'), format: 'raw' },
        consoleLogPath: join(dir, 'console.log'),
        network: { kind: 'none' },
      };
      await driver.spawn(spec);
      if (i < 5) await w.repos.instances.update(inst.uuid, { powerState: PowerState.RUNNING });
    }
    const opts = { repos: w.repos, driver, disks: w.disks, host: HOST, instancesPath: w.instancesPath };
    let t = performance.now();
    await w.repos.instances.list({ host: HOST });
    await driver.syncPowerStates();
    const baselineMs = performance.now() - t;
    t = performance.now();
    const report = await reconcileAtStartup(opts);
    const ms = performance.now() - t;
    t = performance.now();
    await reconcileAtStartup(opts);
    const steadyMs = performance.now() - t;
    return { ms, steadyMs, baselineMs, report };
  } finally {
    for (const u of uuids) await driver.destroy(u).catch(() => undefined);
    await driver.close().catch(() => undefined);
    await w.close();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
const f = await fake1000();
console.log(
  `fake1000: reconcile ${round(f.ms)} ms (finished ${f.report.buildsFinished.length} builds, rolled back ` +
    `${f.report.buildsRolledBack.length}, finished ${f.report.deletesFinished.length} deletes, cleared ` +
    `${Object.keys(f.report.tasksCleared).length} tasks, removed ${f.report.diskDirsRemoved.length} dirs, released ` +
    `${f.report.allocationsReleased.length} allocations); steady-state start ${round(f.steadyMs)} ms; ` +
    `baseline (list + power sweep) ${round(f.baselineMs)} ms`,
);
const r = await real10();
if (typeof r === 'string') console.log(`real10: skipped: ${r}`);
else
  console.log(
    `real10: reconcile ${round(r.ms)} ms (finished ${r.report.buildsFinished.length} builds); steady-state ` +
      `${round(r.steadyMs)} ms; baseline (list + power sweep) ${round(r.baselineMs)} ms`,
  );
console.log(
  `BENCH ${JSON.stringify({
    bench: 'reconcile',
    fake1000_ms: round(f.ms),
    fake1000_steady_ms: round(f.steadyMs),
    fake1000_baseline_ms: round(f.baselineMs),
    real10_ms: typeof r === 'string' ? null : round(r.ms),
    real10_steady_ms: typeof r === 'string' ? null : round(r.steadyMs),
    real10_baseline_ms: typeof r === 'string' ? null : round(r.baselineMs),
    target_fake1000_ms: 2000,
  })}`,
);
