// Spawn benchmark: the boot-sector guest through LibvirtDriver.spawn (configurators → XML →
// define → start → "started" event) against a raw define + start of the same XML through the
// same RPC client (the baseline, measured in the same run, interleaved). Disks are qcow2
// overlays of the cached boot sector, prepared before the clock starts. 10 runs each; medians.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainState, LibvirtClient, UndefineFlags, type LifecycleEvent } from '../src/libvirt/index.js';
import type { InstanceSpec, LifecycleEvent as KestrelEvent } from '../src/virt/driver.js';
import { LibvirtDriver } from '../src/virt/libvirt/driver.js';
// The test images, overlays and leftover sweep are the real-libvirt tests' own (one place).
import { bootSectorOverlay, removePrefixedDomains } from '../test/virt/libvirt-harness.js';

const RUNS = 10;
const prefix = `kt-bench-${randomBytes(3).toString('hex')}-`;
const workDir = await mkdtemp(join('/tmp', prefix));
await chmod(workDir, 0o755);
const client = await LibvirtClient.connect({ uri: 'qemu:///system' });
const driver = new LibvirtDriver({ client, virtType: 'qemu', namePrefix: prefix });
await driver.init();
await client.subscribe('lifecycle');

async function specFor(uuid: string): Promise<InstanceSpec> {
  const disk = await bootSectorOverlay(workDir, uuid);
  return {
    uuid,
    displayName: 'bench',
    projectId: 'bench',
    flavor: { id: 'b', name: 'bench', vcpus: 1, memoryMb: 32, rootGb: 1, extraSpecs: {} },
    image: { id: randomUUID(), name: 'boot-sector', diskFormat: 'raw', properties: {} },
    rootDisk: { kind: 'file', path: disk, format: 'qcow2' },
    consoleLogPath: join(workDir, `${uuid}.log`),
    network: { kind: 'none' },
  };
}

function driverStarted(uuid: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: KestrelEvent) => {
      if (e.uuid === uuid && e.kind === 'started') {
        driver.events.off('lifecycle', on);
        resolve();
      }
    };
    driver.events.on('lifecycle', on);
  });
}

function rawStarted(uuid: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: LifecycleEvent) => {
      if (e.domain.uuidString === uuid && e.event === 'started') {
        client.events.off('lifecycle', on);
        resolve();
      }
    };
    client.events.on('lifecycle', on);
  });
}

async function removeDomain(name: string): Promise<void> {
  const dom = await client.domains.lookupByName(name);
  if ((await client.domains.getState(dom)).state !== DomainState.SHUTOFF) await client.domains.destroy(dom);
  await client.domains.undefine(dom, UndefineFlags.MANAGED_SAVE | UndefineFlags.NVRAM);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const driverMs: number[] = [];
const rawMs: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    // Driver path.
    const a = await specFor(randomUUID());
    let t0 = performance.now();
    const aStarted = driverStarted(a.uuid);
    await driver.spawn(a);
    await aStarted;
    driverMs.push(performance.now() - t0);
    await driver.destroy(a.uuid);

    // Raw path: the same XML (built beforehand), define + create on the same client.
    const b = await specFor(randomUUID());
    const xml = await driver.buildXml(b);
    t0 = performance.now();
    const bStarted = rawStarted(b.uuid);
    const dom = await client.domains.defineXml(xml);
    await client.domains.create(dom);
    await bStarted;
    rawMs.push(performance.now() - t0);
    await removeDomain(`${prefix}${b.uuid}`);
    console.log(`run ${i + 1}: driver ${driverMs[i].toFixed(1)} ms, raw ${rawMs[i].toFixed(1)} ms`);
  }
} finally {
  await removePrefixedDomains(client, prefix);
  await driver.close();
  await client.close();
  await rm(workDir, { recursive: true, force: true });
}

const d = median(driverMs);
const r = median(rawMs);
console.log(
  `spawn of the boot-sector guest, ${RUNS} runs each (median): driver ${d.toFixed(1)} ms, raw define+start ${r.toFixed(1)} ms`,
);
console.log(
  `BENCH ${JSON.stringify({ bench: 'spawn', driver_ms: +d.toFixed(1), raw_ms: +r.toFixed(1), ratio: +(d / r).toFixed(3) })}`,
);
