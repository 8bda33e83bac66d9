// The test bed of real hosts (scripts/testbed): brought up from nothing with two compute
// hosts under a per-run prefix, directory and /24, checked through Kestrel's own libvirt RPC
// client (each host its own libvirtd, host_uuid and no default network) and the openstack
// CLI, a host killed and revived, and then removed; the end checks that no namespace, link,
// mount, process or file of the run is left, and `down` runs even when a step fails.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { run } from '../../src/util/run.js';
import { LibvirtClient } from '../../src/libvirt/client.js';
import { testbedUnavailable, Testbed } from './testbed-harness.js';

const skip = testbedUnavailable();

describe('scripts/testbed: real hosts in namespaces', { skip, timeout: 20 * 60_000 }, () => {
  const bed = new Testbed({
    prefix: `kt${randomBytes(2).toString('hex')}`,
    net: `10.213.${randomInt(100, 250)}`,
  });
  let upOutput = '';

  const hostUuid = async (host: string): Promise<string> => {
    const client = await LibvirtClient.connect({ uri: bed.libvirtUri(host) });
    try {
      const caps = await client.host.getCapabilities();
      return /<host>\s*<uuid>([^<]+)<\/uuid>/.exec(caps)?.[1] ?? '';
    } finally {
      await client.close();
    }
  };

  before(async () => {
    upOutput = await bed.up(2);
  });

  after(async () => {
    await bed.down();
  });

  test('up prints, last, the line that points the openstack CLI at the controller', () => {
    const last = upOutput.trimEnd().split('\n').at(-1);
    assert.equal(
      last,
      `export OS_CLIENT_CONFIG_FILE=${bed.dir}/controller/state/clouds.yaml OS_CLOUD=kestrel`,
    );
    assert.ok(existsSync(join(bed.dir, 'controller/state/clouds.yaml')));
  });

  test('each host runs its own libvirtd with a distinct host_uuid and no default network', async () => {
    const uuids = [await hostUuid('host1'), await hostUuid('host2')];
    for (const [i, u] of uuids.entries()) {
      assert.match(u, /^[0-9a-f-]{36}$/);
      assert.ok(new Set(u.replace(/-/g, '')).size > 1, `host${i + 1}'s uuid ${u} is all one digit`);
      assert.equal(readFileSync(join(bed.dir, `hosts/host${i + 1}/host_uuid`), 'utf8').trim(), u);
    }
    assert.notEqual(uuids[0], uuids[1]);
    const machine = await LibvirtClient.connect({ uri: 'qemu:///system' });
    try {
      const caps = await machine.host.getCapabilities();
      assert.ok(
        !caps.includes(uuids[0]) && !caps.includes(uuids[1]),
        "a host reports the machine's own uuid",
      );
    } finally {
      await machine.close();
    }
    for (const host of ['host1', 'host2']) {
      const r = await run(['virsh', '-q', '-c', bed.libvirtUri(host), 'net-list', '--all', '--name']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '', `${host} has networks defined: ${r.stdout}`);
    }
  });

  test("hosts are network namespaces on the test bed's own bridge, each with its address", async () => {
    for (const [i, host] of ['host1', 'host2'].entries()) {
      const r = await run(['ip', '-n', `${bed.prefix}-${host}`, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`${bed.net}.${11 + i}/24`), r.stdout);
    }
    // From inside host2, NATS on the controller's address answers with its INFO line.
    const nats = await run([
      'ip',
      'netns',
      'exec',
      `${bed.prefix}-host2`,
      'bash',
      '-c',
      `exec 3<>/dev/tcp/${bed.net}.2/4222 && head -c 4 <&3`,
    ]);
    assert.equal(nats.stdout, 'INFO', `host2 cannot reach nats-server: ${nats.stdout}${nats.stderr}`);
  });

  test('prove boots a real TCG guest on every host again', async () => {
    const r = await bed.script(['prove'], 300_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /host1: a TCG guest booted/);
    assert.match(r.stderr, /host2: a TCG guest booted/);
  });

  test('the openstack CLI boots a server through the controller', async () => {
    const name = `${bed.prefix}-vm`;
    const created = await bed.openstack(
      ['server', 'create', '--flavor', 'm1.nano', '--image', 'boot-sector', '--wait', name, '-f', 'json'],
      600_000,
    );
    assert.equal((JSON.parse(created) as { status: string }).status, 'ACTIVE');
    const consoleLog = await bed.openstack(['console', 'log', 'show', name]);
    assert.match(consoleLog, /GUEST-BOOTED/);
    await bed.openstack(['server', 'delete', '--wait', name], 300_000);
  });

  const serviceState = async (host: string) => {
    const rows = JSON.parse(
      await bed.openstack(['compute', 'service', 'list', '--long', '-f', 'json']),
    ) as Array<Record<string, string>>;
    return rows.find((r) => r.Host === host && r.Binary === 'nova-compute');
  };
  const waitState = async (host: string, state: 'up' | 'down', seconds: number) => {
    const end = Date.now() + seconds * 1000;
    for (;;) {
      const row = await serviceState(host);
      if (row?.State === state) return row;
      if (Date.now() > end)
        throw new Error(`${host} is not ${state} after ${seconds} s: ${JSON.stringify(row)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  };

  test("each host's compute agent (no database) reports over NATS: the service list shows it up", async () => {
    for (const host of ['host1', 'host2']) {
      const row = await waitState(host, 'up', 120);
      assert.equal(row.Status, 'enabled');
      const conf = readFileSync(join(bed.dir, `hosts/${host}/kestrel.conf`), 'utf8');
      assert.doesNotMatch(conf, /\[database\]|postgresql:/, `${host}'s agent was given database credentials`);
    }
    await bed.openstack([
      'compute',
      'service',
      'set',
      '--disable',
      '--disable-reason',
      'maintenance',
      'host1',
      'nova-compute',
    ]);
    const disabled = await serviceState('host1');
    assert.equal(disabled?.Status, 'disabled');
    assert.equal(disabled?.['Disabled Reason'], 'maintenance');
    await bed.openstack(['compute', 'service', 'set', '--enable', 'host1', 'nova-compute']);
    assert.equal((await serviceState('host1'))?.Status, 'enabled');
  });

  test('kill HOST stops its libvirtd and agent at once (reported down); revive HOST brings both back', async () => {
    const before = await hostUuid('host2');
    const killed = await bed.script(['kill', 'host2']);
    assert.equal(killed.code, 0, killed.stderr);
    await assert.rejects(() => hostUuid('host2'));
    assert.equal(await hostUuid('host1'), await hostUuid('host1'), 'host1 is untouched');
    await waitState('host2', 'down', 180);
    assert.equal((await serviceState('host1'))?.State, 'up');
    const revived = await bed.script(['revive', 'host2'], 300_000);
    assert.equal(revived.code, 0, revived.stderr);
    assert.equal(await hostUuid('host2'), before);
    await waitState('host2', 'up', 120);
  });

  test('bad arguments are refused with the fix', async () => {
    const r = await bed.script(['kill', 'host9']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /usage: scripts\/testbed kill HOST \(one of: host1 host2/);
    const bad = await bed.script(['up', '1'], 60_000, { TESTBED_PREFIX: 'Bad' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /TESTBED_PREFIX 'Bad' must be lower-case letters and digits/);
  });

  test('down leaves nothing behind (namespaces, links, mounts, processes, files)', async () => {
    await bed.down();
    assert.deepEqual(await bed.leftovers(), []);
  });
});
