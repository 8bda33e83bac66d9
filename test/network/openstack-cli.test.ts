// The Networking v2 API end to end: `kestrel serve --driver fake` with networking on (the real
// data plane: bridges, dnsmasq, nftables under this run's prefix) driven by the Debian
// `openstack` CLI — the first-start networks, a server that gets a port on `private` without
// --network, networks, subnets, ports, routers, security groups and floating IPs, Neutron's
// fault bodies, and a restart that rebuilds a bridge and a dnsmasq that went missing. Another
// table's nftables rules survive every start and stop.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { run } from '../../src/util/run.js';
import { cleanupNetRun, dataPlaneUnavailable, freeSubnet, netRun, nftTables } from './harness.js';

const OPENSTACK = '/usr/bin/openstack';
const skip = !existsSync(OPENSTACK) ? 'the openstack CLI is not installed' : dataPlaneUnavailable();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

type Json = Record<string, unknown>;

describe(
  'openstack CLI: the Networking v2 API on the real data plane',
  { skip, timeout: 15 * 60_000 },
  () => {
    const netrun = netRun();
    const otherTable = `${netrun.table}-other`;
    let dir: string;
    let conf: string;
    let serve: ChildProcess | undefined;
    let serveOutput = '';
    let env: NodeJS.ProcessEnv;
    let networkPort: number;
    const privateCidr = freeSubnet();
    let externalCidr = freeSubnet();
    while (externalCidr === privateCidr) externalCidr = freeSubnet();

    const os = async (args: string[]): Promise<string> => {
      const r = await run([OPENSTACK, ...args], { env, timeoutMs: 120_000 });
      if (r.code !== 0)
        throw new Error(
          `openstack ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}\n--- serve ---\n${serveOutput.slice(-3000)}`,
        );
      return r.stdout;
    };
    const osJson = async (args: string[]) => JSON.parse(await os([...args, '-f', 'json'])) as Json;
    const osFails = async (args: string[]): Promise<string> => {
      const r = await run([OPENSTACK, ...args], { env, timeoutMs: 120_000 });
      assert.notEqual(r.code, 0, `openstack ${args.join(' ')} should fail`);
      return r.stderr + r.stdout;
    };

    const startServe = async () => {
      serveOutput = '';
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', conf, '--driver', 'fake'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      serve = child;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`kestrel serve did not start:\n${serveOutput}`)),
          120_000,
        );
        child.stdout!.on('data', (b: Buffer) => {
          serveOutput += b.toString();
          if (serveOutput.includes('Kestrel is serving')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.stderr!.on('data', (b: Buffer) => (serveOutput += b.toString()));
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`kestrel serve exited (${code}):\n${serveOutput}`));
        });
      });
    };
    const stopServe = async () => {
      const child = serve;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    };

    before(async () => {
      execFileSync('nft', ['-f', '-'], {
        input: `add table inet ${otherTable}\nadd chain inet ${otherTable} c { type filter hook forward priority 5; policy accept; }\nadd rule inet ${otherTable} c ip saddr 192.0.2.253 counter accept\n`,
      });
      dir = mkdtempSync('/tmp/kt-netcli-');
      chmodSync(dir, 0o711); // dnsmasq (as nobody) must reach its hosts file
      const [identity, compute, image] = [await freePort(), await freePort(), await freePort()];
      networkPort = await freePort();
      conf = join(dir, 'kestrel.conf');
      writeFileSync(
        conf,
        [
          '[DEFAULT]',
          `state_path = ${join(dir, 'state')}`,
          `host = ${netrun.bridgePrefix}-host`,
          '[api]',
          `identity_port = ${identity}`,
          `compute_port = ${compute}`,
          `image_port = ${image}`,
          `network_port = ${networkPort}`,
          '[network]',
          `bridge_prefix = ${netrun.bridgePrefix}`,
          `nft_table = ${netrun.table}`,
          `default_cidr = ${privateCidr}`,
          `external_cidr = ${externalCidr}`,
          '',
        ].join('\n'),
      );
      await startServe();
      env = { ...process.env, OS_CLIENT_CONFIG_FILE: join(dir, 'state', 'clouds.yaml'), OS_CLOUD: 'kestrel' };
      for (const k of Object.keys(env))
        if (k.startsWith('OS_') && !['OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'].includes(k)) delete env[k];
    });

    after(async () => {
      await stopServe();
      cleanupNetRun(netrun, dir);
      execFileSync('nft', ['-f', '-'], {
        input: `add table inet ${otherTable}\ndelete table inet ${otherTable}\n`,
      });
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('first start: public, private and router1; a server without --network gets a port on private', async () => {
      const nets = JSON.parse(await os(['network', 'list', '-f', 'json'])) as Json[];
      assert.deepEqual(nets.map((n) => n.Name).sort(), ['private', 'public']);
      const pub = await osJson(['network', 'show', 'public']);
      assert.equal(pub['router:external'], true);
      const sub = await osJson(['subnet', 'show', 'private-subnet']);
      assert.equal(sub.cidr, privateCidr);
      const router = await osJson(['router', 'show', 'router1']);
      assert.equal((router.external_gateway_info as Json).network_id, pub.id);

      const server = await osJson([
        'server',
        'create',
        '--flavor',
        'm1.nano',
        '--image',
        'boot-sector',
        '--wait',
        'demo',
      ]);
      const addresses = JSON.stringify(server.addresses);
      const prefix = privateCidr.slice(0, privateCidr.lastIndexOf('.') + 1);
      assert.match(addresses, new RegExp(`private.*${prefix.replace(/\./g, '\\.')}`), addresses);
      const ports = JSON.parse(await os(['port', 'list', '--server', 'demo', '-f', 'json'])) as Json[];
      assert.equal(ports.length, 1);
      const mac = String(ports[0]['MAC Address']);
      const hosts = readFileSync(
        join(dir, 'state', 'networks', String((await osJson(['network', 'show', 'private'])).id), 'hosts'),
        'utf8',
      );
      assert.match(hosts, new RegExp(mac), 'the DHCP hosts file has the port');

      // Floating IP: created on public, attached to the server, shown in its addresses.
      const fip = await osJson(['floating', 'ip', 'create', 'public']);
      await os(['server', 'add', 'floating', 'ip', 'demo', String(fip.floating_ip_address)]);
      const shown = await osJson(['server', 'show', 'demo']);
      assert.match(
        JSON.stringify(shown.addresses),
        new RegExp(String(fip.floating_ip_address).replace(/\./g, '\\.')),
      );
      assert.match(
        execFileSync('nft', ['list', 'chain', 'inet', netrun.table, 'nat_pre'], { encoding: 'utf8' }),
        new RegExp(`dnat ip to ${prefix.replace(/\./g, '\\.')}`),
      );
      await os(['server', 'remove', 'floating', 'ip', 'demo', String(fip.floating_ip_address)]);
      await os(['floating', 'ip', 'delete', String(fip.id)]);

      await os(['server', 'delete', '--wait', 'demo']);
      const after = JSON.parse(
        await os(['port', 'list', '--device-owner', 'compute:nova', '-f', 'json']),
      ) as Json[];
      assert.equal(after.length, 0, 'the port Kestrel made went with the server');
    });

    test('networks, subnets, ports, routers and security groups through the CLI; Neutron faults', async () => {
      const cidr = freeSubnet();
      const net = await osJson(['network', 'create', 'kt-net']);
      assert.equal(net.status, 'ACTIVE');
      const sub = await osJson(['subnet', 'create', '--network', 'kt-net', '--subnet-range', cidr, 'kt-sub']);
      assert.equal(sub.gateway_ip, cidr.replace(/0\/24$/, '1'));
      const overlap = await osFails([
        'subnet',
        'create',
        '--network',
        'kt-net',
        '--subnet-range',
        cidr,
        'kt-sub2',
      ]);
      assert.match(overlap, /overlaps subnet/);
      const port = await osJson([
        'port',
        'create',
        '--network',
        'kt-net',
        '--fixed-ip',
        `ip-address=${cidr.replace(/0\/24$/, '50')}`,
        'kt-port',
      ]);
      assert.match(JSON.stringify(port.fixed_ips), /\.50/);
      const dup = await osFails([
        'port',
        'create',
        '--network',
        'kt-net',
        '--fixed-ip',
        `ip-address=${cidr.replace(/0\/24$/, '50')}`,
        'kt-port2',
      ]);
      assert.match(dup, /already allocated/);
      await os(['port', 'set', '--name', 'kt-port-renamed', 'kt-port']);
      assert.equal((await osJson(['port', 'show', 'kt-port-renamed'])).name, 'kt-port-renamed');

      const sg = await osJson(['security', 'group', 'create', 'kt-web']);
      const rule = await osJson([
        'security',
        'group',
        'rule',
        'create',
        '--protocol',
        'tcp',
        '--dst-port',
        '8080',
        '--ingress',
        'kt-web',
      ]);
      assert.equal(rule.port_range_min, 8080);
      const badRule = await osFails(['security', 'group', 'rule', 'create', '--protocol', '300', 'kt-web']);
      assert.match(badRule, /protocol 300 not supported/);
      await os(['port', 'set', '--security-group', String(sg.id), 'kt-port-renamed']);
      const chains = execFileSync('nft', ['list', 'table', 'inet', netrun.table], { encoding: 'utf8' });
      assert.match(chains, new RegExp(`chain in-${port.id}`));
      assert.match(chains, /tcp dport 8080 accept/);
      await os(['security', 'group', 'rule', 'delete', String(rule.id)]);
      assert.doesNotMatch(
        execFileSync('nft', ['list', 'chain', 'inet', netrun.table, `in-${port.id}`], { encoding: 'utf8' }),
        /8080/,
      );

      const r = await osJson(['router', 'create', 'kt-router']);
      await os(['router', 'add', 'subnet', 'kt-router', 'kt-sub']);
      await os(['router', 'set', '--external-gateway', 'public', 'kt-router']);
      const inUse = await osFails(['subnet', 'delete', 'kt-sub']);
      assert.match(inUse, /in use|IP allocation|ports/i);
      await os(['router', 'remove', 'subnet', 'kt-router', 'kt-sub']);
      await os(['router', 'unset', '--external-gateway', 'kt-router']);
      await os(['router', 'delete', String(r.id)]);
      await os(['port', 'delete', 'kt-port-renamed']);
      await os(['security', 'group', 'delete', 'kt-web']);
      await os(['subnet', 'delete', 'kt-sub']);
      await os(['network', 'delete', 'kt-net']);
      assert.ok(
        !execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }).includes(
          `${netrun.bridgePrefix}${String(net.id).replace(/-/g, '').slice(0, 8)}`,
        ),
      );

      // The raw fault body is Neutron's.
      const token = String((await osJson(['token', 'issue'])).id);
      const res = await fetch(
        `http://127.0.0.1:${networkPort}/v2.0/networks/00000000-0000-0000-0000-000000000000`,
        { headers: { 'X-Auth-Token': token } },
      );
      assert.equal(res.status, 404);
      const body = (await res.json()) as { NeutronError: { type: string; message: string } };
      assert.equal(body.NeutronError.type, 'NetworkNotFound');
      const bad = await fetch(`http://127.0.0.1:${networkPort}/v2.0/networks`, {
        method: 'POST',
        headers: { 'X-Auth-Token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ network: { name: 'x', colour: 'blue' } }),
      });
      assert.equal(bad.status, 400);
      assert.match(
        ((await bad.json()) as { NeutronError: { message: string } }).NeutronError.message,
        /Unrecognized attribute\(s\) 'colour'/,
      );
    });

    test('restart: a missing bridge and dnsmasq are rebuilt, an orphan bridge removed; other tables untouched', async () => {
      const priv = await osJson(['network', 'show', 'private']);
      const bridge = `${netrun.bridgePrefix}${String(priv.id)
        .replace(/-/g, '')
        .slice(0, 14 - netrun.bridgePrefix.length)}`;
      await stopServe();
      execFileSync('ip', ['link', 'del', 'dev', bridge]);
      const pidFile = join(dir, 'state', 'networks', String(priv.id), 'dnsmasq.pid');
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
      const orphan = `${netrun.bridgePrefix}0rphan`;
      execFileSync('ip', ['link', 'add', 'name', orphan, 'type', 'bridge']);
      await startServe();
      const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
      assert.ok(links.includes(bridge), 'the bridge is back');
      assert.ok(!links.includes(orphan), 'the orphan is gone');
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /dnsmasq/);
      assert.ok(nftTables().includes(`inet ${otherTable}`));
      assert.match(
        execFileSync('nft', ['list', 'table', 'inet', otherTable], { encoding: 'utf8' }),
        /ip saddr 192\.0\.2\.253 counter/,
      );
    });
  },
);
