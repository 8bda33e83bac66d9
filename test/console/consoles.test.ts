// Remote consoles end to end: `kestrel serve` on real libvirt (TCG) with the Linux test guest
// (busybox shell on ttyS0, a banner on its VGA text screen), the Debian `openstack` CLI for
// `console url show [--novnc | --serial]`, websockets for the RFB handshake and every refusal,
// and headless Chromium (Debian chromium through playwright-core) for the noVNC and xterm.js
// pages: a screenshot of the guest's screen, a command typed into the guest's shell and its
// output read back. Screenshots: the test's temp dir and /tmp/kestrel-console-screenshots/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { ConsoleServe, serveUnavailable } from './serve-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = '/tmp/kestrel-console-screenshots';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const skip =
  serveUnavailable() ??
  (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`);

/** The websocket URL a console URL's page connects to (noVNC: its ?path=, serial: ?token=). */
function socketUrl(consoleUrl: string): string {
  const u = new URL(consoleUrl);
  const path = u.searchParams.get('path');
  const q = path ?? `?token=${u.searchParams.get('token')}`;
  return `ws://${u.host}/${q}`;
}

interface Opened {
  ws: WebSocket;
  status?: number;
  first: Promise<Buffer>;
  closed: Promise<{ code: number; reason: string }>;
}

function openSocket(url: string, headers: Record<string, string> = {}): Opened {
  const ws = new WebSocket(url, ['binary'], { headers });
  const o: Opened = {
    ws,
    first: new Promise((r) => ws.once('message', (m: Buffer) => r(m))),
    closed: new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() }))),
  };
  ws.once('upgrade', (res) => (o.status = res.statusCode));
  ws.on('error', () => undefined);
  return o;
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms)),
  ]);
}

// Page-side code as text: it runs in the browser, where the DOM and the page's globals live.
const TERM_TEXT = `(() => {
  const b = window.kestrelTerm.buffer.active;
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b.getLine(i)?.translateToString(true) ?? '') + '\\n';
  return s;
})()`;
const LIT_PIXELS = `(() => {
  const c = document.querySelector('canvas');
  if (!c || !c.width) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 150) n++;
  return n;
})()`;

const termText = (page: Page): Promise<string> => page.evaluate(TERM_TEXT) as Promise<string>;

describe(
  'remote consoles through kestrel serve (real libvirt, TCG, Chromium)',
  { skip, timeout: 20 * 60_000 },
  () => {
    const serve = new ConsoleServe();
    let browser: BrowserContext;
    let shotDir: string;
    let vm = '';
    let stopped = '';

    before(async () => {
      await serve.start();
      shotDir = mkdtempSync(join(serve.dir, 'shots-'));
      mkdirSync(SHOTS, { recursive: true });
      const { image, flavor } = await serve.linuxImageAndFlavor();
      // Two guests at once: the Linux one for the consoles, a second one to stop (409).
      [vm, stopped] = await Promise.all([
        serve.createServer(`${serve.prefix}-vm`, image, flavor),
        serve.createServer(`${serve.prefix}-stopped`, image, flavor),
      ]);
      browser = await chromium.launchPersistentContext(mkdtempSync(join(serve.dir, 'chromium-')), {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_FLAGS,
        viewport: { width: 1024, height: 700 },
      });
    });

    after(async () => {
      await browser?.close().catch(() => undefined);
      await serve.stop();
    });

    const shoot = async (page: Page, name: string) => {
      const file = join(shotDir, name);
      await page.screenshot({ path: file });
      copyFileSync(file, join(SHOTS, name));
      return file;
    };

    test('console url show --novnc: RFB handshake, then the noVNC page shows the guest screen', async () => {
      const shown = await serve.json<{ type: string; url: string }>([
        'console',
        'url',
        'show',
        '--novnc',
        vm,
      ]);
      assert.equal(shown.type, 'novnc');
      assert.match(
        shown.url,
        new RegExp(
          `^http://127\\.0\\.0\\.1:${serve.ports.novnc}/vnc_lite\\.html\\?path=%3Ftoken%3D[\\w-]{43}$`,
        ),
      );

      // tempest's check: 101 Switching Protocols, then the server speaks RFB first.
      const s = openSocket(socketUrl(shown.url));
      const greeting = await within(s.first, 30_000, 'RFB greeting');
      assert.equal(s.status, 101);
      assert.match(greeting.toString('latin1'), /^RFB 003\.00\d\n$/);
      s.ws.close();

      // The same URL again: the token is spent.
      const again = openSocket(socketUrl(shown.url));
      const c = await within(again.closed, 10_000, 'reused token');
      assert.equal(c.code, 4003);
      assert.match(c.reason, /already used/);

      const page = await browser.newPage();
      const pageLog: string[] = [];
      page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => pageLog.push(`error: ${e.message}`));
      const { url } = await serve.json<{ url: string }>(['console', 'url', 'show', '--novnc', vm]);
      const html = await (await fetch(url)).text();
      assert.match(html, /noVNC/);
      assert.match(html, /<script/);
      await page.goto(url);
      await page
        .waitForSelector('body[data-state="connected"]', { timeout: 60_000 })
        .catch((e: Error) => assert.fail(`${e.message}\npage: ${pageLog.join('\n')}`));
      // The guest's VGA text console: the kernel's lines and the banner the test guest prints.
      const lit = () => page.evaluate(LIT_PIXELS) as Promise<number>;
      const end = Date.now() + 60_000;
      while ((await lit()) < 2000 && Date.now() < end) await page.waitForTimeout(500);
      assert.ok((await lit()) >= 2000, 'the noVNC canvas shows text (lit pixels) from the guest screen');
      await page.waitForTimeout(1500);
      const file = await shoot(page, 'novnc.png');
      assert.ok(existsSync(file));
      await page.close();
    });

    test('console url show --serial: the xterm.js page shows the guest and runs a shell command', async () => {
      const shown = await serve.json<{ type: string; url: string }>([
        'console',
        'url',
        'show',
        '--serial',
        vm,
      ]);
      assert.equal(shown.type, 'serial');
      assert.match(
        shown.url,
        new RegExp(`^http://127\\.0\\.0\\.1:${serve.ports.serial}/\\?token=[\\w-]{43}$`),
      );
      const page = await browser.newPage();
      await page.goto(shown.url);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 30_000 });
      // The console log's tail arrives first: the guest's boot text.
      const seen = Date.now() + 30_000;
      while (!/LINUX-BOOTED|BusyBox/.test(await termText(page)) && Date.now() < seen)
        await page.waitForTimeout(300);
      assert.match(await termText(page), /LINUX-BOOTED|BusyBox/, 'the guest text shows in the terminal');
      await page.click('#screen');
      await page.keyboard.press('Enter');
      await page.keyboard.type('echo KESTREL-$((6*7))');
      await page.keyboard.press('Enter');
      const end = Date.now() + 60_000;
      while (!/^KESTREL-42\s*$/m.test(await termText(page)) && Date.now() < end)
        await page.waitForTimeout(300);
      assert.match(
        await termText(page),
        /^KESTREL-42\s*$/m,
        "the shell's output came back through the proxy",
      );
      await shoot(page, 'serial.png');
      await page.close();
    });

    test('refusals: wrong, expired, other-project token, wrong proxy, foreign Origin; stopped guest 409; spice 400', async () => {
      const wrong = openSocket(`ws://127.0.0.1:${serve.ports.serial}/?token=not-a-token`);
      assert.deepEqual(await within(wrong.closed, 10_000, 'wrong'), {
        code: 4001,
        reason: 'invalid console token: ask for a new console URL',
      });
      const none = openSocket(`ws://127.0.0.1:${serve.ports.serial}/`);
      assert.equal((await within(none.closed, 10_000, 'no token')).code, 4000);

      // Expired: the token's row says so (the database is the proxy's only record of it).
      const exp = await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', vm]);
      const db = new SQLite(join(serve.dir, 'state', 'kestrel.sqlite'));
      db.prepare('UPDATE console_auth_tokens SET expires_at = ? WHERE used_at IS NULL').run(
        '2000-01-01T00:00:00.000Z',
      );
      db.close();
      const e = await within(openSocket(socketUrl(exp.url)).closed, 10_000, 'expired');
      assert.equal(e.code, 4002);
      assert.match(e.reason, /expired/);

      // A serial token on the VNC proxy.
      const ser = await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', vm]);
      const crossed = openSocket(`ws://127.0.0.1:${serve.ports.novnc}/${new URL(ser.url).search}`);
      assert.equal((await within(crossed.closed, 10_000, 'wrong proxy')).code, 4004);

      // A browser page elsewhere may not use a console URL.
      const o = await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', vm]);
      const foreign = openSocket(socketUrl(o.url), { Origin: 'http://evil.example' });
      const f = await within(foreign.closed, 10_000, 'origin');
      assert.equal(f.code, 4006);

      // Another project's credentials with this project's token.
      const p = `${serve.prefix}-other`;
      await serve.os(['project', 'create', p]);
      await serve.os(['user', 'create', '--project', p, '--password', 'secret-pw-1', p]);
      await serve.os(['role', 'add', '--user', p, '--project', p, 'member']);
      const auth = await fetch(`http://127.0.0.1:${serve.ports.identity}/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: p, domain: { id: 'default' }, password: 'secret-pw-1' } },
            },
            scope: { project: { name: p, domain: { id: 'default' } } },
          },
        }),
      });
      assert.equal(auth.status, 201, await auth.clone().text());
      const tok = auth.headers.get('x-subject-token') ?? '';
      const mine = await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', vm]);
      const other = openSocket(socketUrl(mine.url), { 'X-Auth-Token': tok });
      const oc = await within(other.closed, 10_000, 'other project');
      assert.equal(oc.code, 4005);
      assert.match(oc.reason, /another project/);
      // … and that project cannot ask for this server's console at all.
      const theirs = await fetch(`http://127.0.0.1:${serve.ports.compute}/v2.1/servers/${vm}/action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': tok },
        body: JSON.stringify({ 'os-getVNCConsole': { type: 'novnc' } }),
      });
      assert.equal(theirs.status, 404);

      await serve.os(['server', 'stop', stopped]);
      const deadline = Date.now() + 120_000;
      while (
        (await serve.json<{ status: string }>(['server', 'show', stopped])).status !== 'SHUTOFF' &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 1000));
      await assert.rejects(serve.os(['console', 'url', 'show', '--novnc', stopped]), /409|not ready/i);
      await assert.rejects(serve.os(['console', 'url', 'show', '--spice', vm]), /SPICE|400/);

      // remote-consoles: 2.6 and up only.
      const { id: token } = JSON.parse(await serve.os(['token', 'issue', '-f', 'json'])) as { id: string };
      const post = (version: string | undefined, body: unknown) =>
        fetch(`http://127.0.0.1:${serve.ports.compute}/v2.1/servers/${vm}/remote-consoles`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-auth-token': token,
            ...(version ? { 'OpenStack-API-Version': `compute ${version}` } : {}),
          },
          body: JSON.stringify(body),
        });
      const vnc = await post('2.6', { remote_console: { protocol: 'vnc', type: 'novnc' } });
      assert.equal(vnc.status, 200);
      assert.equal(vnc.headers.get('openstack-api-version'), 'compute 2.6');
      const rc = ((await vnc.json()) as { remote_console: { protocol: string; type: string; url: string } })
        .remote_console;
      assert.equal(rc.protocol, 'vnc');
      assert.match(rc.url, /vnc_lite\.html\?path=%3Ftoken%3D/);
      assert.equal(
        (await post(undefined, { remote_console: { protocol: 'vnc', type: 'novnc' } })).status,
        404,
      );
      const spice = await post('2.6', { remote_console: { protocol: 'spice', type: 'spice-html5' } });
      assert.equal(spice.status, 400);
      assert.match(JSON.stringify(await spice.json()), /SPICE/);
      assert.equal((await post('2.7', { remote_console: { protocol: 'vnc', type: 'novnc' } })).status, 406);
    });

    test('a server deleted while its consoles are open closes them cleanly', async () => {
      const v = await serve.json<{ url: string }>(['console', 'url', 'show', '--novnc', vm]);
      const s = await serve.json<{ url: string }>(['console', 'url', 'show', '--serial', vm]);
      const vs = openSocket(socketUrl(v.url));
      const ss = openSocket(socketUrl(s.url));
      await within(vs.first, 30_000, 'vnc open');
      await within(ss.first, 30_000, 'serial open');
      await serve.os(['server', 'delete', '--wait', vm]);
      const [vc, sc] = await Promise.all([
        within(vs.closed, 60_000, 'vnc close'),
        within(ss.closed, 60_000, 'serial close'),
      ]);
      assert.equal(vc.code, 1000);
      assert.match(vc.reason, /display closed/);
      assert.equal(sc.code, 1000);
      assert.match(sc.reason, /console ended/);
    });
  },
);
