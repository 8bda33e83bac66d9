// The data plane with a real guest (TCG): a network's bridge, dnsmasq and Kestrel's nftables
// tables made by HostNetwork; the busybox guest (virtio-net, udhcpc) on a tap named after its
// port gets its fixed IP by DHCP; the host pings it (an ICMP rule) but cannot reach its TCP
// port 8080 until a rule opens it, and not after the rule is gone. Another table's rules
// survive everything Kestrel does. Everything made carries the run's prefix and is removed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostNetwork } from '../../src/network/host-network.js';
import type { NetworkSpec, PortSpec, RuleSpec } from '../../src/network/contract.js';
import { bridgeName, tapName } from '../../src/network/names.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { realEnv, testImages, type RealEnv } from '../virt/libvirt-harness.js';
import { waitFor } from '../virt/driver-conformance.js';
import { cleanupNetRun, dataPlaneUnavailable, freeSubnet, netRun, nftTables } from './harness.js';

const skip = dataPlaneUnavailable();

/** An HTTP GET to ip:8080 through a fresh TCP connection; undefined when it cannot connect in time. */
function httpGet(ip: string, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port: 8080 });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, timeoutMs);
    s.on('connect', () => s.write(`GET / HTTP/1.0\r\nHost: ${ip}\r\n\r\n`));
    s.on('data', (b) => (data += b.toString()));
    s.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(data || undefined);
    });
  });
}

function pings(ip: string): boolean {
  try {
    execFileSync('busybox', ['ping', '-c', '1', '-W', '2', ip], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe(
  'data plane: a real guest gets its lease and is reachable as its rules say',
  { skip, timeout: 600_000 },
  () => {
    const run = netRun();
    const stateDir = mkdtempSync(join(tmpdir(), 'kt-net-state-'));
    chmodSync(stateDir, 0o711); // dnsmasq (as nobody) must reach its hosts file
    const otherTable = `${run.table}-other`;
    let env: RealEnv;
    let driver: LibvirtDriver;
    let hostNet: HostNetwork;
    const cidr = freeSubnet();
    const prefix = cidr.slice(0, cidr.lastIndexOf('.') + 1);
    const networkId = randomUUID();
    const portId = randomUUID();
    const mac = 'fa:16:3e:4b:00:01';
    const guestIp = `${prefix}10`;
    const network: NetworkSpec = {
      id: networkId,
      bridge: bridgeName(run.bridgePrefix, networkId),
      mtu: 1500,
      external: false,
      subnets: [{ id: randomUUID(), cidr, gateway: `${prefix}1`, dhcp: true, dnsServers: [] }],
      hostAddresses: [`${prefix}2/24`],
      dhcpHosts: [{ mac, ip: guestIp, hostname: 'host-guest' }],
    };
    const egressAll: RuleSpec = {
      direction: 'egress',
      protocol: 'any',
      portMin: null,
      portMax: null,
      remote: { any: true },
    };
    const icmpIn: RuleSpec = {
      direction: 'ingress',
      protocol: 'icmp',
      portMin: null,
      portMax: null,
      remote: { any: true },
    };
    const http: RuleSpec = {
      direction: 'ingress',
      protocol: 'tcp',
      portMin: 8080,
      portMax: 8080,
      remote: { prefix: `${prefix}0/24` },
    };
    const port = (rules: RuleSpec[]): PortSpec => ({
      id: portId,
      networkId,
      bridge: network.bridge,
      tap: tapName(portId),
      mac,
      ips: [guestIp],
      security: true,
      allowed: [],
      groups: ['kt-default-group'],
      rules,
    });

    before(async () => {
      // Someone else's table with a rule of its own: Kestrel must never touch it.
      execFileSync('nft', ['-f', '-'], {
        input: `add table inet ${otherTable}\nadd chain inet ${otherTable} c { type filter hook input priority 10; policy accept; }\nadd rule inet ${otherTable} c ip saddr 192.0.2.254 counter accept\n`,
      });
      env = await realEnv('net');
      driver = new LibvirtDriver({
        client: env.client,
        virtType: 'qemu',
        namePrefix: env.prefix,
        cpuMode: 'none',
      });
      await driver.init();
      hostNet = new HostNetwork({ table: run.table, bridgePrefix: run.bridgePrefix, stateDir });
    });
    after(async () => {
      await driver?.close();
      await env?.cleanup();
      cleanupNetRun(run, stateDir);
      execFileSync('nft', ['-f', '-'], {
        input: `add table inet ${otherTable}\ndelete table inet ${otherTable}\n`,
      });
      rmSync(stateDir, { recursive: true, force: true });
    });

    test('lease for the fixed IP, ping by an ICMP rule, TCP only while a rule opens it', async () => {
      await hostNet.networkSync({
        networks: [network],
        ports: [port([egressAll, icmpIn])],
        nat: { snat: [], floating: [], routed: [] },
      });
      assert.ok(nftTables().includes(`inet ${run.table}`) && nftTables().includes(`bridge ${run.table}`));
      const spec = await env.linuxSpec(testImages().initrdNet);
      spec.nics = [{ bridge: network.bridge, tap: tapName(portId), mac }];
      await driver.spawn(spec);
      const consoleText = () => {
        try {
          return readFileSync(spec.consoleLogPath, 'utf8');
        } catch {
          return '';
        }
      };
      const log = await waitFor('the guest to log its DHCP lease', 240_000, async () =>
        /NET-LEASE ip=(\S+)/.test(consoleText()) ? consoleText() : undefined,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; guest console:\n${consoleText().slice(-2000)}`);
      });
      assert.match(log, new RegExp(`NET-UP mac=${mac}`));
      assert.match(
        log,
        new RegExp(`NET-LEASE ip=${guestIp.replace(/\./g, '\\.')} `),
        'the lease is the port fixed IP',
      );
      assert.match(readFileSync(join(stateDir, networkId, 'leases'), 'utf8'), new RegExp(mac));
      await waitFor('the host to ping the guest', 30_000, async () => (pings(guestIp) ? true : undefined));
      assert.equal(await httpGet(guestIp), undefined, 'TCP 8080 is closed without a rule');

      await hostNet.networkApply({ op: 'port', port: port([egressAll, icmpIn, http]) });
      const page = await waitFor('HTTP through the opened port', 30_000, () => httpGet(guestIp));
      assert.match(page, /KESTREL-GUEST-HTTP/);

      await hostNet.networkApply({ op: 'port', port: port([egressAll, icmpIn]) });
      assert.equal(await httpGet(guestIp), undefined, 'closed again once the rule is gone');
      assert.ok(pings(guestIp), 'ICMP still allowed');

      // Restart of the service: a fresh HostNetwork syncing the same state leaves the guest reachable.
      const again = new HostNetwork({ table: run.table, bridgePrefix: run.bridgePrefix, stateDir });
      const report = await again.networkSync({
        networks: [network],
        ports: [port([egressAll, icmpIn])],
        nat: { snat: [], floating: [], routed: [] },
      });
      assert.deepEqual([report.bridgesCreated, report.bridgesRemoved, report.dnsmasqStarted], [[], [], []]);
      assert.ok(pings(guestIp));

      await driver.destroy(spec.uuid);
      await again.networkApply({ op: 'port-removed', portId, ips: [guestIp], groups: ['kt-default-group'] });
      await again.networkApply({ op: 'network-removed', networkId, bridge: network.bridge });
      await again.networkSync({ networks: [], ports: [], nat: { snat: [], floating: [], routed: [] } });
      assert.ok(!nftTables().includes(`inet ${run.table}`), 'no Kestrel table left when nothing is carried');
      const other = execFileSync('nft', ['list', 'table', 'inet', otherTable], { encoding: 'utf8' });
      assert.match(
        other,
        /ip saddr 192\.0\.2\.254 counter packets \d+ bytes \d+ accept/,
        "the other table's rule is intact",
      );
    });
  },
);
