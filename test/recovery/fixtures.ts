// A recorded world for reconciliation tests and the benchmark: a SQLite database in a temp
// directory, the fake driver, and root disks that are real directories (so orphans can be seen).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openDatabase, Repositories, type Instance, type OpenedDatabase } from '../../src/db/index.js';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import type { RootDisks } from '../../src/compute/disks.js';
import type { InstanceSpec } from '../../src/virt/driver.js';

export const HOST = 'kt-recovery-node';

/** `<instances_path>/<uuid>/disk` as an empty file: enough for ownership checks. */
export class DirDisks implements RootDisks {
  constructor(readonly instancesPath: string) {}
  async create(uuid: string) {
    const dir = join(this.instancesPath, uuid);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'disk'), '');
    return { kind: 'file' as const, path: join(dir, 'disk'), format: 'qcow2' as const };
  }
  async delete(uuid: string) {
    rmSync(join(this.instancesPath, uuid), { recursive: true, force: true });
  }
  async exportTo() {}
}

export interface World {
  dir: string;
  instancesPath: string;
  db: OpenedDatabase;
  repos: Repositories;
  driver: FakeDriver;
  disks: DirDisks;
  providerUuid: string;
  /** A recorded instance (host set unless host: null), with an open "create" action. */
  instance(o?: { host?: string | null; vmState?: string; taskState?: string | null }): Promise<Instance>;
  /** A running guest for the instance (fake driver). */
  guest(uuid: string, name?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openWorld(prefix = 'kt-recovery-'): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const instancesPath = join(dir, 'instances');
  mkdirSync(instancesPath, { recursive: true });
  const db = await openDatabase({ statePath: dir });
  const repos = new Repositories(db.db);
  const driver = new FakeDriver();
  await driver.init();
  const disks = new DirDisks(instancesPath);
  const provider = await repos.placement.ensureProvider(HOST);
  let n = 0;
  const w: World = {
    dir,
    instancesPath,
    db,
    repos,
    driver,
    disks,
    providerUuid: provider.uuid,
    async instance(o = {}) {
      const inst = await repos.instances.create({
        uuid: randomUUID(),
        displayName: `kt-recovery-${++n}`,
        projectId: 'p1',
        userId: 'u1',
        flavor: {
          id: '1',
          name: 'm1.nano',
          vcpus: 1,
          memoryMb: 64,
          rootGb: 0,
          ephemeralGb: 0,
          swapMb: 0,
          extraSpecs: {},
        },
        imageId: randomUUID(),
        availabilityZone: 'nova',
        keyName: null,
        metadata: {},
        reservationId: 'r-1',
        accessIpv4: '',
        accessIpv6: '',
        diskConfig: 'AUTO',
      });
      const host = o.host === undefined ? HOST : o.host;
      await repos.instances.update(inst.uuid, {
        host,
        node: host,
        vmState: o.vmState ?? 'building',
        taskState: o.taskState === undefined ? 'spawning' : o.taskState,
      });
      const a = await repos.instances.startAction({
        instanceUuid: inst.uuid,
        requestId: `req-${n}`,
        action: 'create',
        userId: 'u1',
        projectId: 'p1',
      });
      await repos.instances.startEvent(a.id, 'compute_build_and_run_instance');
      await repos.placement.insertAllocations(inst.uuid, provider.uuid, { VCPU: 1, MEMORY_MB: 64 });
      return (await repos.instances.get(inst.uuid))!;
    },
    async guest(uuid, name = 'kt-recovery') {
      const disk = await disks.create(uuid);
      const spec: InstanceSpec = {
        uuid,
        displayName: name,
        projectId: 'p1',
        flavor: { id: '1', name: 'm1.nano', vcpus: 1, memoryMb: 64, rootGb: 0, extraSpecs: {} },
        image: { id: randomUUID(), name: 'boot', diskFormat: 'raw', properties: {} },
        rootDisk: disk,
        consoleLogPath: join(instancesPath, uuid, 'console.log'),
        network: { kind: 'none' },
      };
      await driver.spawn(spec);
    },
    async close() {
      await driver.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}
