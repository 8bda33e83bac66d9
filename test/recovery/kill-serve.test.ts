// Fault injection with real libvirt (virt_type qemu, the boot-sector guest): `kestrel serve` is
// killed with SIGKILL at a seeded random moment during 10 concurrent boots, then during the
// deletes, and restarted each time. After each restart every server must be ACTIVE (with a
// running guest) or ERROR with a fault, and nothing may be orphaned: no domain, no instance
// directory, no allocation, no image-cache .part file that no server owns.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ServeProcess, libvirtUnavailable, seeded, type ServerJson } from './serve-process.js';

const SEEDS = [11, 23, 37, 41, 59];
const BOOTS = 10;
const skip = await libvirtUnavailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 of kestrel serve during boots and deletes', { skip, timeout: 240_000 }, () => {
  const svc = new ServeProcess(`kt-recovery-${Math.random().toString(36).slice(2, 8)}`);
  const totals = { kills: 0, instances: 0, active: 0, error: 0, deleted: 0, orphans: 0 };

  before(async () => {
    await svc.start();
  });
  after(async () => {
    await svc.cleanup();
  });

  async function listAll(): Promise<ServerJson[]> {
    const r = await svc.api('compute', 'GET', '/servers/detail?all_tenants=1');
    const servers = r.json.servers as ServerJson[];
    for (const s of servers) svc.created.add(s.id);
    return servers;
  }

  /** Everything outside the API that no server accounts for. */
  async function orphans(servers: ServerJson[]): Promise<string[]> {
    const active = new Set(servers.filter((s) => s.status === 'ACTIVE').map((s) => s.id));
    const found: string[] = [];
    for (const [uuid, state] of await svc.domains()) {
      if (!active.has(uuid)) found.push(`domain of ${uuid} (${state}) without an ACTIVE server`);
      else if (state !== 'running') found.push(`ACTIVE server ${uuid} has a ${state} guest`);
    }
    for (const uuid of svc.diskDirs()) if (!active.has(uuid)) found.push(`directory ${uuid}`);
    for (const c of svc.allocations()) if (!active.has(c)) found.push(`allocation of ${c}`);
    const base = join(svc.instancesPath, '_base');
    if (existsSync(base)) for (const f of readdirSync(base)) if (/\.(part|converted)$/.test(f)) found.push(f);
    return found;
  }

  for (const seed of SEEDS) {
    test(`seed ${seed}: kill during ${BOOTS} boots, restart, then kill during the deletes`, async (t) => {
      const rand = seeded(seed);
      const refs = await svc.bootRefs();
      // --- boots, killed part-way ----------------------------------------------------------
      const killAfter = Math.round(rand() * 3000);
      const boots = Array.from({ length: BOOTS }, (_, i) =>
        svc.boot(`kt-recovery-s${seed}-${i}`, refs).catch(() => undefined),
      );
      await sleep(killAfter);
      await svc.kill();
      totals.kills++;
      await Promise.all(boots);
      await svc.start();
      const servers = (await listAll()).filter((s) => s.name.startsWith(`kt-recovery-s${seed}-`));
      totals.instances += servers.length;
      for (const s of servers) {
        assert.ok(s.status === 'ACTIVE' || s.status === 'ERROR', `${s.id} is ${s.status} after the restart`);
        assert.equal(s['OS-EXT-STS:task_state'] ?? null, null, `${s.id} still has a task`);
        if (s.status === 'ERROR') assert.ok(s.fault?.message, `ERROR server ${s.id} has a fault`);
      }
      const active = servers.filter((s) => s.status === 'ACTIVE').length;
      totals.active += active;
      totals.error += servers.length - active;
      const leftAfterBoots = await orphans(await listAll());
      totals.orphans += leftAfterBoots.length;
      assert.deepEqual(leftAfterBoots, [], 'nothing orphaned after the restart');
      t.diagnostic(`killed ${killAfter} ms into the boots: ${servers.length} servers, ${active} ACTIVE`);

      // --- deletes, killed part-way --------------------------------------------------------
      const deletes = servers.map((s) =>
        svc.api('compute', 'DELETE', `/servers/${s.id}`).catch(() => undefined),
      );
      const killDeleteAfter = Math.round(rand() * 1500);
      await sleep(killDeleteAfter);
      await svc.kill();
      totals.kills++;
      await Promise.all(deletes);
      await svc.start();
      // A DELETE whose request never arrived is sent again; every delete then completes.
      for (const s of servers) {
        const now = await svc.server(s.id);
        if (now && now.status !== 'DELETED') await svc.api('compute', 'DELETE', `/servers/${s.id}`);
      }
      for (const s of servers) await svc.waitFor(s.id, (x) => x === undefined, 60_000);
      totals.deleted += servers.length;
      const left = await orphans((await listAll()).filter((s) => !s.name.startsWith('kt-recovery-s')));
      totals.orphans += left.length;
      assert.deepEqual(left, [], 'nothing left after the deletes');
      t.diagnostic(`killed ${killDeleteAfter} ms into the deletes; all ${servers.length} deleted`);
    });
  }

  const STATE_OF: Record<string, string> = {
    ACTIVE: 'running',
    PAUSED: 'paused',
    SHUTOFF: 'shut off',
    SUSPENDED: 'shut off',
  };

  for (const seed of [71, 83]) {
    test(`seed ${seed}: kill during stop, reboots, pause and a snapshot`, async (t) => {
      const rand = seeded(seed);
      const refs = await svc.bootRefs();
      const ids = await Promise.all(
        Array.from({ length: 5 }, (_, i) => svc.boot(`kt-recovery-a${seed}-${i}`, refs)),
      );
      for (const id of ids) {
        await svc.waitFor(id, (s) => s?.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'], 90_000);
      }
      const snapName = `kt-recovery-snap-${seed}`;
      const actions: unknown[] = [
        { 'os-stop': null },
        { reboot: { type: 'HARD' } },
        { pause: null },
        { createImage: { name: snapName } },
        { reboot: { type: 'SOFT' } },
      ];
      const sent = ids.map((id, i) =>
        svc.api('compute', 'POST', `/servers/${id}/action`, actions[i]).catch(() => undefined),
      );
      const killAfter = Math.round(rand() * 700);
      await sleep(killAfter);
      await svc.kill();
      totals.kills++;
      await Promise.all(sent);
      await svc.start();
      totals.instances += ids.length;
      // Each server's status is its guest's real state, with no task left over.
      const domains = await svc.domains();
      for (const id of ids) {
        const s = (await svc.server(id))!;
        assert.equal(s['OS-EXT-STS:task_state'] ?? null, null, `${id} still has a task`);
        assert.ok(STATE_OF[s.status], `${id} is ${s.status}`);
        assert.equal(
          domains.get(id),
          STATE_OF[s.status],
          `${id} is ${s.status}, its guest ${domains.get(id)}`,
        );
        if (s.status === 'ACTIVE') totals.active++;
      }
      // The snapshot ended one way or the other; no half-written copy stays behind.
      const images = (await svc.api('image', 'GET', `/v2/images?name=${snapName}`)).json.images as {
        id: string;
        status: string;
      }[];
      for (const im of images) assert.ok(['active', 'killed'].includes(im.status), `snapshot ${im.status}`);
      const snapDir = join(svc.instancesPath, 'snapshots');
      if (existsSync(snapDir)) assert.deepEqual(readdirSync(snapDir), [], 'no snapshot copies left');
      t.diagnostic(
        `killed ${killAfter} ms into the actions: ${(await Promise.all(ids.map((id) => svc.server(id)))).map((s) => s!.status).join(' ')}; snapshot ${images.map((i) => i.status).join(',') || 'not created'}`,
      );
      for (const im of images) await svc.api('image', 'DELETE', `/v2/images/${im.id}`);
      for (const id of ids) await svc.api('compute', 'DELETE', `/servers/${id}`);
      for (const id of ids) await svc.waitFor(id, (x) => x === undefined, 60_000);
      totals.deleted += ids.length;
      const left = await orphans([]);
      totals.orphans += left.length;
      assert.deepEqual(left, [], 'nothing left after the deletes');
    });
  }

  test('totals', (t) => {
    t.diagnostic(`FAULT-INJECTION ${JSON.stringify(totals)}`);
    assert.equal(totals.kills, SEEDS.length * 2 + 2);
    assert.equal(totals.orphans, 0);
  });
});
