// Restarts libvirtd under a loop of calls: calls in flight fail with a retryable error, the
// client reconnects, re-registers its event callbacks, emits 'reconnected', and events flow again.
// Serial (runs alone): it disturbs the shared daemon. libvirtd is always running again at the end.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/util/run.js';
import {
  LibvirtClient,
  isConnectionLost,
  isRetryable,
  type LifecycleEvent,
} from '../../src/libvirt/index.js';
import { daemonSkipReason, ktName, waitForEvents } from './helpers.js';

const skip = daemonSkipReason();

async function libvirtdRunning(): Promise<boolean> {
  return (await run(['pgrep', '-x', 'libvirtd'])).code === 0;
}

async function killLibvirtd(): Promise<void> {
  await run(['pkill', '-x', 'libvirtd']);
  const deadline = Date.now() + 30_000;
  while (await libvirtdRunning()) {
    if (Date.now() > deadline) throw new Error('libvirtd did not exit within 30 s of SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startLibvirtd(): Promise<void> {
  const r = await run(['scripts/start-libvirt'], { timeoutMs: 150_000 });
  if (r.code !== 0) throw new Error(`scripts/start-libvirt failed (${r.code}): ${r.stderr}`);
}

function testDomainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory unit='KiB'>65536</memory><os><type arch='x86_64'>hvm</type></os></domain>`;
}

describe('libvirt client survives a libvirtd restart', { skip: skip ?? false }, () => {
  after(async () => {
    if (!(await libvirtdRunning())) await startLibvirtd();
  });

  test(
    'calls fail retryably, the client reconnects, re-registers events and emits reconnected',
    { timeout: 240_000 },
    async () => {
      const client = await LibvirtClient.connect({
        uri: 'test+unix:///default',
        reconnectInitialDelayMs: 50,
        reconnectMaxDelayMs: 500,
      });
      const events: LifecycleEvent[] = [];
      client.events.on('lifecycle', (e) => {
        if (e.domain.name.startsWith('kt-rpc-restart')) events.push(e);
      });
      let disconnects = 0;
      let reconnects = 0;
      client.on('disconnected', () => disconnects++);
      client.on('reconnected', () => reconnects++);
      try {
        await client.subscribe('lifecycle');
        const before = ktName('restart');
        const d1 = await client.domains.defineXml(testDomainXml(before));
        await client.domains.undefine(d1);
        await waitForEvents(
          events,
          (evs) => evs.some((e) => e.domain.name === before && e.event === 'undefined'),
          5_000,
          (e) => e.event,
        );

        // A loop of calls, several in flight at once, running across the restart.
        let ok = 0;
        let stop = false;
        const failures: unknown[] = [];
        const loop = async () => {
          while (!stop) {
            try {
              await client.host.getLibVersion();
              ok++;
            } catch (e) {
              failures.push(e);
              await new Promise((r) => setTimeout(r, 20));
            }
          }
        };
        const loops = Array.from({ length: 4 }, () => loop());
        await new Promise((r) => setTimeout(r, 200));
        const okBefore = ok;
        assert.ok(okBefore > 0, 'calls were flowing before the restart');

        const reconnected = new Promise<void>((resolve) => client.once('reconnected', () => resolve()));
        await killLibvirtd();
        await startLibvirtd();
        await reconnected;
        const okAtReconnect = ok;
        await new Promise((r) => setTimeout(r, 300));
        stop = true;
        await Promise.all(loops);

        assert.equal(disconnects, 1);
        assert.equal(reconnects, 1);
        assert.ok(ok > okAtReconnect, 'calls succeed again after reconnecting');
        // With four callers there is always a call on the wire when the daemon goes: it must fail
        // clearly and retryably; calls made while reconnecting wait instead of failing.
        assert.ok(failures.length > 0, 'a call in flight at the restart failed');
        for (const f of failures) {
          assert.ok(isRetryable(f) && isConnectionLost(f), `unexpected failure during restart: ${String(f)}`);
          assert.match(
            (f as Error).message,
            /CONNECT_GET_LIB_VERSION failed: libvirtd closed the connection/,
          );
        }

        // Events flow again without the caller subscribing anew.
        const afterName = ktName('restart');
        const d2 = await client.domains.defineXml(testDomainXml(afterName));
        await client.domains.undefine(d2);
        await waitForEvents(
          events,
          (evs) => evs.some((e) => e.domain.name === afterName && e.event === 'undefined'),
          5_000,
          (e) => `${e.domain.name}:${e.event}`,
        );
        assert.deepEqual(
          events.filter((e) => e.domain.name === afterName).map((e) => e.event),
          ['defined', 'undefined'],
        );
      } finally {
        await client.close();
      }
    },
  );
});
