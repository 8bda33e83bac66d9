// Remote consoles on a real TCG guest (the busybox shell test guest) behind `kestrel serve`:
//   keystroke → echo: one character typed, until the guest's tty echoes it back, through the
//     serial proxy (websocket → proxy → libvirt console stream) against the same libvirt
//     console stream read and written directly with Kestrel's RPC client (the baseline),
//     interleaved in rounds; medians and their ratio (target ≤ 1.2).
//   sessions: N (default 200) serial console websockets held at once on one guest (one
//     shared console stream), the service's RSS before and with them, and a line typed in one
//     session seen by all.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { ConsoleFlags, LibvirtClient } from '../src/libvirt/index.js';
import { ConsoleServe, serveUnavailable } from '../test/console/serve-harness.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 200);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const ROUNDS = 3;

const why = serveUnavailable();
if (why) {
  console.error(`console bench: ${why}`);
  process.exit(2);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const rssKb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** A byte channel to the guest: send bytes, wait until the output contains a string. */
interface Channel {
  send(s: string): Promise<void>;
  waitFor(s: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

function waiter() {
  let buf = '';
  let want: { s: string; resolve: () => void } | undefined;
  return {
    feed(chunk: Buffer) {
      buf += chunk.toString('latin1');
      if (want && buf.includes(want.s)) {
        const w = want;
        want = undefined;
        buf = '';
        w.resolve();
      }
    },
    waitFor(s: string, ms = 10_000): Promise<void> {
      if (buf.includes(s)) {
        buf = '';
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${JSON.stringify(s)} within ${ms} ms`)), ms);
        want = {
          s,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        };
      });
    },
    reset() {
      buf = '';
    },
  };
}

async function direct(client: LibvirtClient, domName: string): Promise<Channel> {
  const dom = await client.domains.lookupByName(domName);
  const stream = await client.domains.openConsole(dom, null, ConsoleFlags.FORCE);
  const w = waiter();
  void (async () => {
    for await (const c of stream.read()) w.feed(c);
  })().catch(() => undefined);
  return { send: (s) => stream.write(Buffer.from(s)), waitFor: w.waitFor, close: () => stream.close() };
}

async function viaProxy(url: string): Promise<Channel> {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/?token=${u.searchParams.get('token')}`, ['binary']);
  const w = waiter();
  ws.on('message', (m: Buffer) => w.feed(m));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return {
    send: (s) => new Promise((r) => ws.send(Buffer.from(s), () => r())),
    waitFor: w.waitFor,
    close: async () => ws.close(),
  };
}

/** Types a character and waits for the tty's echo, then erases it (SAMPLES times). */
async function keystrokes(ch: Channel, n: number): Promise<number[]> {
  await ch.send('\n');
  await ch.waitFor('# ', 20_000);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = String.fromCharCode(97 + (i % 26));
    const t0 = process.hrtime.bigint();
    await ch.send(c);
    await ch.waitFor(c);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await ch.send('\x7f');
    await ch.waitFor('\b');
  }
  return out;
}

const serve = new ConsoleServe();
try {
  await serve.start();
  const { image, flavor } = await serve.linuxImageAndFlavor();
  const id = await serve.createServer(`${serve.prefix}-bench`, image, flavor);
  const serialUrl = async () =>
    (await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', id])).url;
  const client = await LibvirtClient.connect({ uri: 'qemu:///system' });

  const d: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await direct(client, `instance-${id}`);
    d.push(...(await keystrokes(a, SAMPLES)));
    await a.close();
    const b = await viaProxy(await serialUrl());
    p.push(...(await keystrokes(b, SAMPLES)));
    await b.close();
    await new Promise((res) => setTimeout(res, 300)); // the proxy detaches the stream
  }
  const ratio = median(p) / median(d);
  console.log(`keystroke → echo, ${d.length} samples each, ${ROUNDS} interleaved rounds (TCG guest):`);
  console.log(
    `  direct libvirt console stream  median ${median(d).toFixed(2)} ms  p90 ${p90(d).toFixed(2)} ms`,
  );
  console.log(
    `  through the serial proxy       median ${median(p).toFixed(2)} ms  p90 ${p90(p).toFixed(2)} ms`,
  );
  console.log(`  ratio proxy / direct           ${ratio.toFixed(2)} (target ≤ 1.2)`);

  // Sessions: tokens through the API (2.1 action), then N websockets held at once.
  const { id: token } = JSON.parse(await serve.os(['token', 'issue', '-f', 'json'])) as { id: string };
  const urls: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const res = await fetch(`http://127.0.0.1:${serve.ports.compute}/v2.1/servers/${id}/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ 'os-getSerialConsole': { type: 'serial' } }),
    });
    urls.push(((await res.json()) as { console: { url: string } }).console.url);
  }
  const pid = serve.pid!;
  const before = rssKb(pid);
  const t0 = Date.now();
  const chans = await Promise.all(urls.map((u) => viaProxy(u)));
  const openMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1000));
  const held = rssKb(pid);
  const seen = Promise.allSettled(chans.map((c) => c.waitFor('BROADCAST-42', 30_000)));
  await chans[0].send('echo BROADCAST-$((40+2))\n');
  const got = (await seen).filter((s) => s.status === 'fulfilled').length;
  await Promise.all(chans.map((c) => c.close()));
  console.log(`sessions: ${SESSIONS} serial websockets on one guest, opened in ${openMs} ms`);
  console.log(
    `  service RSS  before ${(before / 1024).toFixed(1)} MiB  with them ${(held / 1024).toFixed(1)} MiB  (+${((held - before) / SESSIONS).toFixed(1)} KiB each)`,
  );
  console.log(`  a line typed in one session reached ${got} of ${SESSIONS}`);
  await client.close();
  console.log(
    `BENCH ${JSON.stringify({
      bench: 'console',
      keystroke_echo_ms: {
        direct_median: median(d),
        proxy_median: median(p),
        direct_p90: p90(d),
        proxy_p90: p90(p),
        ratio,
        samples: d.length,
      },
      sessions: {
        count: SESSIONS,
        open_ms: openMs,
        rss_before_kb: before,
        rss_held_kb: held,
        per_session_kb: (held - before) / SESSIONS,
        broadcast_received: got,
      },
    })}`,
  );
} finally {
  await serve.stop();
}
