import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkSpec, PortSpec } from './contract.js';
import { fullScript, natScript, portRemovalScript, portScript } from './nft.js';
import { dnsmasqArgs, hostsFile, pathsFor } from './dnsmasq.js';

const port: PortSpec = {
  id: '11111111-2222-3333-4444-555555555555',
  networkId: 'n1',
  bridge: 'kbrn1',
  tap: 'tap11111111-22',
  mac: 'fa:16:3e:00:00:01',
  ips: ['10.0.0.5'],
  security: true,
  allowed: [],
  groups: ['g1'],
  rules: [
    { direction: 'egress', protocol: 'any', portMin: null, portMax: null, remote: { any: true } },
    { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remote: { group: 'g2' } },
  ],
};

test("a port's script names only Kestrel's table and that port's chains", () => {
  const s = portScript('kt', port);
  for (const line of s.split('\n').filter(Boolean)) {
    assert.match(line, / (inet|bridge) kt /, line);
    const chain = / kt (in|out|spoof)-([0-9a-f-]+)/.exec(line);
    if (chain) assert.equal(chain[2], port.id, line);
  }
  assert.match(s, /add rule inet kt in-[0-9a-f-]+ udp sport 67 udp dport 68 accept/);
  assert.match(s, /ip saddr @sg-g2 tcp dport 22 accept/);
  assert.match(s, /add set inet kt sg-g2 /, 'a referenced group set exists before its rule');
  assert.match(s, /ether saddr != fa:16:3e:00:00:01 drop/);
  assert.match(s, /add element inet kt sg-g1 \{ 10\.0\.0\.5 \}/);
});

test('a changed port first drops the elements it had; removal deletes its elements, then its chains', () => {
  const moved = { ...port, ips: ['10.0.0.6'] };
  const s = portScript('kt', moved, port);
  assert.ok(
    s.indexOf('delete element inet kt port_in { 10.0.0.5 }') <
      s.indexOf('add element inet kt port_in { 10.0.0.6'),
  );
  const r = portRemovalScript('kt', port);
  assert.ok(r.indexOf('delete element') < r.indexOf('delete chain'));
  assert.doesNotMatch(
    portScript('kt', { ...port, security: false }),
    /add element/,
    'no port security: no filtering',
  );
});

test('a full sync replaces only its own two tables, atomically (one script)', () => {
  const s = fullScript('kt', { networks: [], ports: [port], nat: { snat: [], floating: [], routed: [] } });
  const deletes = s.split('\n').filter((l) => l.startsWith('delete table'));
  assert.deepEqual(deletes, ['delete table inet kt', 'delete table bridge kt']);
  const nat = natScript('kt', {
    snat: [{ cidr: '10.0.0.0/24', bridge: 'kbrn1', externalBridge: 'kbrext', snatTo: '172.24.4.2' }],
    floating: [{ floatingIp: '172.24.4.9', fixedIp: '10.0.0.5', externalBridge: 'kbrext' }],
    routed: [],
  });
  assert.match(nat, /ip daddr 172\.24\.4\.9 dnat ip to 10\.0\.0\.5/);
  assert.match(nat, /ip saddr 10\.0\.0\.0\/24 oifname "kbrext" snat ip to 172\.24\.4\.2/);
});

test('dnsmasq: static DHCP on the bridge only, one hosts line per port', () => {
  const n: NetworkSpec = {
    id: 'n1',
    bridge: 'kbrn1',
    mtu: 1450,
    external: false,
    subnets: [{ id: 's1', cidr: '10.0.0.0/24', gateway: null, dhcp: true, dnsServers: ['192.0.2.53'] }],
    hostAddresses: ['10.0.0.2/24'],
    dhcpHosts: [{ mac: 'fa:16:3e:00:00:01', ip: '10.0.0.5', hostname: 'host-10-0-0-5' }],
  };
  const args = dnsmasqArgs(n, pathsFor('/var/lib/kestrel/networks', 'n1'));
  assert.ok(args.includes('--interface=kbrn1') && args.includes('--bind-interfaces'));
  assert.ok(args.includes('--dhcp-range=set:subnet0,10.0.0.0,static,255.255.255.0,86400s'));
  assert.ok(args.includes('--dhcp-option=tag:subnet0,option:router'), 'no gateway: an empty router option');
  assert.ok(args.includes('--dhcp-option=tag:subnet0,option:dns-server,192.0.2.53'));
  assert.ok(args.includes('--dhcp-option=option:mtu,1450'));
  assert.equal(hostsFile(n), 'fa:16:3e:00:00:01,10.0.0.5,host-10-0-0-5\n');
});
