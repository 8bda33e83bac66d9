// What the proxy serves over plain HTTP: the noVNC page (on the VNC port) and the xterm.js page
// (on the serial port), and the browser code they load, read from the npm packages
// @novnc/novnc and @xterm/xterm on this host — nothing from a CDN. Only files below the
// packages' code folders, with a known extension, are served; anything else is a 404.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';

const require = createRequire(import.meta.url);
// @novnc/novnc exports ./core/rfb.js, @xterm/xterm its lib/xterm.js: the package is two levels up.
const NOVNC = dirname(dirname(require.resolve('@novnc/novnc')));
const XTERM = dirname(dirname(require.resolve('@xterm/xterm')));
const XTERM_FIT = dirname(dirname(require.resolve('@xterm/addon-fit')));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL prefix → folder it serves (code folders of the packages only). */
const ASSETS: Record<'novnc' | 'serial', Record<string, string>> = {
  novnc: { '/novnc/core/': join(NOVNC, 'core'), '/novnc/vendor/': join(NOVNC, 'vendor') },
  serial: {
    '/xterm/lib/': join(XTERM, 'lib'),
    '/xterm/css/': join(XTERM, 'css'),
    '/xterm-fit/lib/': join(XTERM_FIT, 'lib'),
  },
};

// A console page keeps the close reason the proxy sends (a refused token, the guest stopped) to
// show it: noVNC's disconnect event does not carry it.
const KEEP_CLOSE_REASON = `
window.WebSocket = new Proxy(window.WebSocket, {
  construct(Native, args) {
    const ws = new Native(...args);
    ws.addEventListener('close', (e) => { window.kestrelClose = { code: e.code, reason: e.reason }; });
    return ws;
  },
});`;

/** The websocket URL a page connects to: this page's host, with the token from its query. */
const WS_URL = `
function consoleSocketUrl() {
  const q = new URLSearchParams(location.search);
  let path = q.get('path') || (q.get('token') ? '?token=' + encodeURIComponent(q.get('token')) : '');
  if (!path.startsWith('/')) path = '/' + path;
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
}`;

const STYLE = `body{margin:0;background:#1e1e1e;color:#ddd;font:14px sans-serif;display:flex;flex-direction:column;height:100vh}
#status{padding:4px 8px;background:#333}#screen{flex:1;overflow:hidden}`;

export const NOVNC_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Kestrel console (noVNC)</title><style>${STYLE}</style></head>
<body data-state="connecting">
<div id="status">noVNC: connecting…</div>
<div id="screen"></div>
<script type="module">
${KEEP_CLOSE_REASON}
${WS_URL}
import RFB from './novnc/core/rfb.js';
const status = document.getElementById('status');
const rfb = new RFB(document.getElementById('screen'), consoleSocketUrl(), { shared: true });
rfb.scaleViewport = true;
rfb.addEventListener('connect', () => {
  document.body.dataset.state = 'connected';
  status.textContent = 'noVNC: connected to ' + (rfb._fbName || 'the guest');
});
rfb.addEventListener('desktopname', (e) => (status.textContent = 'noVNC: connected to ' + e.detail.name));
rfb.addEventListener('disconnect', () => {
  document.body.dataset.state = 'disconnected';
  const c = window.kestrelClose;
  status.textContent = 'noVNC: disconnected' + (c && c.reason ? ': ' + c.reason : '');
});
</script>
</body>
</html>
`;

export const SERIAL_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Kestrel serial console</title>
<link rel="stylesheet" href="/xterm/css/xterm.css"><style>${STYLE}</style></head>
<body data-state="connecting">
<div id="status">serial console: connecting…</div>
<div id="screen"></div>
<script src="/xterm/lib/xterm.js"></script>
<script src="/xterm-fit/lib/addon-fit.js"></script>
<script>
${WS_URL}
const status = document.getElementById('status');
const term = new Terminal({ cursorBlink: true, scrollback: 5000 });
const fit = new FitAddon.FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('screen'));
fit.fit();
window.addEventListener('resize', () => fit.fit());
window.kestrelTerm = term;
const ws = new WebSocket(consoleSocketUrl(), ['binary']);
ws.binaryType = 'arraybuffer';
ws.onopen = () => {
  document.body.dataset.state = 'connected';
  status.textContent = 'serial console: connected';
  term.focus();
};
ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
const enc = new TextEncoder();
term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
ws.onclose = (e) => {
  document.body.dataset.state = 'disconnected';
  window.kestrelClose = { code: e.code, reason: e.reason };
  status.textContent = 'serial console: closed' + (e.reason ? ': ' + e.reason : '');
  term.write('\\r\\n[console closed' + (e.reason ? ': ' + e.reason : '') + ']\\r\\n');
};
</script>
</body>
</html>
`;

/** The page paths of each listener ('/' on the serial port, as its base URL is a bare host). */
export const PAGES: Record<'novnc' | 'serial', Record<string, string>> = {
  novnc: { '/vnc_lite.html': NOVNC_PAGE, '/vnc.html': NOVNC_PAGE, '/vnc_auto.html': NOVNC_PAGE },
  serial: { '/': SERIAL_PAGE, '/serial.html': SERIAL_PAGE },
};

/** A page or asset for GET `path` on the `kind` listener, or undefined (404). */
export async function staticFile(
  kind: 'novnc' | 'serial',
  path: string,
): Promise<{ type: string; body: string | Buffer } | undefined> {
  const page = PAGES[kind][path];
  if (page) return { type: 'text/html; charset=utf-8', body: page };
  for (const [prefix, dir] of Object.entries(ASSETS[kind])) {
    if (!path.startsWith(prefix)) continue;
    const type = TYPES[extname(path)];
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(prefix.length));
    } catch {
      return undefined;
    }
    const file = normalize(join(dir, rel));
    if (!type || !file.startsWith(dir + sep) || rel.includes('\0')) return undefined;
    try {
      return { type, body: await readFile(file) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
