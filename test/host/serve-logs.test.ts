// kestrel serve's log: readable lines with [DEFAULT] log_format = text (and on a terminal, the
// default auto), JSON lines into a pipe. A real `kestrel serve --driver fake` on random ports.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRecord, wantsText } from '../../src/util/log-format.js';

const root = join(import.meta.dirname, '..', '..');
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-serve-logs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Starts serve, waits for the banner, asks one refused request (a log line), stops it. */
async function serveOnce(format: string | undefined): Promise<string> {
  const sub = join(dir, format ?? 'auto');
  const [identity, compute, image] = [await freePort(), await freePort(), await freePort()];
  const conf = join(dir, `${format ?? 'auto'}.conf`);
  await writeFile(
    conf,
    [
      '[network]',
      'enabled = false', // no guests here: no bridges, dnsmasq or nftables
      '[DEFAULT]',
      `state_path = ${sub}`,
      ...(format ? [`log_format = ${format}`] : []),
      '[api]',
      'listen_host = 127.0.0.1',
      `identity_port = ${identity}`,
      `compute_port = ${compute}`,
      `image_port = ${image}`,
      '',
    ].join('\n'),
  );
  const child = spawn(join(root, 'bin', 'kestrel'), ['serve', '--driver', 'fake', '--config', conf], {
    cwd: root,
    env: { ...process.env, KESTREL_FROM_SOURCE: '1', KESTREL_CONFIG: '', KESTREL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const deadline = Date.now() + 90_000;
    while (!/Compute v2\.1/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`serve did not start:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await fetch(`http://127.0.0.1:${compute}/v2.1/servers`); // 401: a "request refused" log line
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  return err;
}

test('log_format = text: readable lines (time, level, message, fields), no JSON', async () => {
  const err = await serveOnce('text');
  const lines = err.split('\n').filter(Boolean);
  assert.ok(lines.length > 0, err);
  assert.ok(
    lines.some((l) => /^\d\d:\d\d:\d\d INFO {2}request refused {2}.*status=401/.test(l)),
    err,
  );
  assert.ok(!lines.some((l) => l.startsWith('{')), err);
});

test('a pipe with the default auto gets JSON lines (one object per line)', async () => {
  const err = await serveOnce(undefined);
  const lines = err.split('\n').filter(Boolean);
  assert.ok(lines.length > 0, err);
  for (const l of lines) {
    const rec = JSON.parse(l) as { level: number; msg: string };
    assert.equal(typeof rec.level, 'number');
  }
  assert.ok(
    lines.some((l) => (JSON.parse(l) as { msg: string }).msg === 'request refused'),
    err,
  );
});

test('the formatter: head, fields quoted when needed, error stack below; auto follows the terminal', () => {
  const line = formatRecord({
    level: 40,
    time: Date.UTC(2026, 0, 1, 12, 3, 4),
    msg: 'disk slow',
    pid: 1,
    hostname: 'h',
    uuid: 'u-1',
    path: '/a b',
    n: 3,
  });
  assert.equal(line, '12:03:04 WARN  disk slow  uuid=u-1 path="/a b" n=3');
  const withErr = formatRecord({
    level: 50,
    time: 0,
    msg: 'failed',
    err: { message: 'boom', stack: 'Error: boom\n    at x' },
  });
  assert.match(withErr, /ERROR failed {2}err=boom\n {4}at x/);
  assert.equal(wantsText('auto', { isTTY: true }), true);
  assert.equal(wantsText('auto', { isTTY: false }), false);
  assert.equal(wantsText('json', { isTTY: true }), false);
  assert.equal(wantsText('text', {}), true);
});
