// [vnc], [serial_console], [consoleauth], [console]: the remote consoles (nova/conf/vnc.py,
// serial_console.py, consoleauth.py, console.py). The console proxy runs inside `kestrel serve`
// (Nova runs nova-novncproxy and nova-serialproxy); it listens on its own ports and hands out
// URLs built from the base URLs below, each carrying a one-time token.
import { isIP } from 'node:net';
import { bool, group, int, list, port, str } from './option.js';

function urlCheck(schemes: string[]): (v: string) => string | null {
  return (v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return `not a URL; use e.g. ${schemes[0]}://127.0.0.1:6080/vnc_lite.html`;
    }
    return schemes.includes(u.protocol.slice(0, -1)) ? null : `the scheme must be ${schemes.join(' or ')}`;
  };
}

export const vncGroup = group(
  'vnc',
  'The VNC console: a display per guest, reached in the browser through noVNC.',
  {
    enabled: bool({
      default: true,
      help: 'Give new guests a VNC display and hand out noVNC console URLs (os-getVNCConsole, remote-consoles vnc).',
      deprecatedNames: [{ group: 'DEFAULT', name: 'vnc_enabled' }],
    }),
    server_listen: str({
      default: 'unix',
      help:
        "Where QEMU's VNC server listens. 'unix' (Kestrel's default): a UNIX socket in the guest's private " +
        'libvirt directory, reachable only by root on this host, so no TCP port is opened. An IP address: a ' +
        "TCP port (5900+) on that address, without a VNC password — for a proxy on another host (Nova's " +
        'default is 127.0.0.1).',
      deprecatedNames: [{ group: 'DEFAULT', name: 'vncserver_listen' }],
      related: ['vnc.server_proxyclient_address'],
      check: (v) => (v === 'unix' || isIP(v) ? null : "use 'unix' or an IP address such as 127.0.0.1"),
    }),
    server_proxyclient_address: str({
      default: '127.0.0.1',
      help: 'The address the console proxy connects to for VNC displays on this host when server_listen is an IP address.',
      deprecatedNames: [{ group: 'DEFAULT', name: 'vncserver_proxyclient_address' }],
    }),
    novncproxy_base_url: str({
      default: null,
      defaultDoc:
        'unset: http://<novncproxy_host>:<novncproxy_port>/vnc_lite.html (127.0.0.1 when listening on every interface)',
      help: 'The noVNC page URL handed to users; Kestrel adds ?path=%3Ftoken%3D<token> as Nova does.',
      check: urlCheck(['http', 'https']),
    }),
    novncproxy_host: str({
      default: '127.0.0.1',
      help: "Address the noVNC proxy listens on (Nova's default is 0.0.0.0).",
    }),
    novncproxy_port: port({
      default: 6080,
      help: 'Port the noVNC proxy listens on (its page and its websocket).',
    }),
  },
);

export const serialConsoleGroup = group(
  'serial_console',
  "The serial console in the browser (an xterm.js page) or any websocket client, through libvirt's console stream.",
  {
    enabled: bool({
      default: true,
      help:
        'Hand out serial console URLs (os-getSerialConsole, remote-consoles serial). Every guest has its ' +
        'serial port on a pty with the console log kept, so this needs nothing on the guest side (Nova: false).',
    }),
    base_url: str({
      default: null,
      defaultDoc: 'unset: http://<serialproxy_host>:<serialproxy_port>/',
      help:
        'The URL handed to users, with ?token=<token> added. http(s): the same address serves the xterm.js page ' +
        "to a browser and the websocket to clients; ws(s) (Nova's default ws://127.0.0.1:6083/): for websocket clients.",
      check: urlCheck(['http', 'https', 'ws', 'wss']),
    }),
    serialproxy_host: str({
      default: '127.0.0.1',
      help: "Address the serial proxy listens on (Nova's default is 0.0.0.0).",
    }),
    serialproxy_port: port({ default: 6083, help: 'Port the serial proxy listens on.' }),
    port_range: str({
      default: '10000:20000',
      help:
        "Nova's TCP ports for guests' serial chardevs. Kestrel attaches through libvirt's console stream and " +
        'opens no such port; the range is checked and kept so a nova.conf reads unchanged.',
      check: (v) => {
        const m = /^(\d+):(\d+)$/.exec(v);
        if (!m) return 'use MIN:MAX, e.g. 10000:20000';
        const [a, b] = [Number(m[1]), Number(m[2])];
        return a >= 1 && b <= 65535 && a <= b ? null : 'MIN and MAX must be ports (1-65535) with MIN <= MAX';
      },
    }),
    proxyclient_address: str({
      default: '127.0.0.1',
      help: "The address the console proxy reaches this host's serial consoles at (several hosts).",
    }),
  },
);

export const consoleauthGroup = group('consoleauth', 'Console tokens.', {
  token_ttl: int({
    default: 600,
    min: 1,
    help: 'Seconds a console URL stays valid. A token is also spent by its first connection.',
  }),
});

export const consoleGroup = group('console', 'The console proxy.', {
  allowed_origins: list({
    default: [],
    help:
      'Host names a browser may open a console websocket from, besides the proxy itself (the Origin header ' +
      'is checked; clients that send no Origin, like websocket libraries, are not browsers and pass).',
  }),
});
