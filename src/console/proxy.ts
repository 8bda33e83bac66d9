// The console proxy inside `kestrel serve`: Nova's nova-novncproxy and nova-serialproxy as one
// module with two listeners (default 6080 and 6083). Each serves its page over HTTP and takes
// websockets: the token (from ?token=, the noVNC page's path) is checked and spent, the
// Origin checked, then the socket is spliced to the guest — the VNC display's UNIX socket (or
// the host's proxyclient address) or the shared serial console stream. A refused socket is
// accepted and closed with a 4xxx code and the reason, so the page can say why (no bare 1006).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ComputeAgent } from '../compute/contract/agent.js';
import type { AgentDirectory } from '../control/agent-directory.js';
import type { ConsoleTokenRecord, ConsoleType, Repositories } from '../db/index.js';
import type { RequestContext } from '../control/context.js';
import { hashToken } from '../control/server-consoles.js';
import { isKestrelError } from '../errors/index.js';
import { silentLogger, type Logger } from '../util/log.js';
import { staticFile } from './pages.js';
import { SerialHubs, type SerialSession } from './serial-hub.js';

/** Close codes (4000–4999 are the application's) with the reason sent alongside. */
export const CloseCode = {
  NO_TOKEN: 4000,
  UNKNOWN_TOKEN: 4001,
  EXPIRED_TOKEN: 4002,
  USED_TOKEN: 4003,
  WRONG_CONSOLE: 4004,
  OTHER_PROJECT: 4005,
  ORIGIN: 4006,
  NOT_RUNNING: 4009,
  GONE: 4010,
  UNAVAILABLE: 4011,
} as const;

export interface ConsoleProxyOptions {
  repos: Repositories;
  agents: AgentDirectory;
  /** Resolves an X-Auth-Token a websocket client may send: its project must own the console. */
  contextFor?: (token: string) => Promise<RequestContext | undefined>;
  /** [console] allowed_origins: host names a browser page may connect from, besides the proxy's own. */
  allowedOrigins?: string[];
  log?: Logger;
}

class Refusal extends Error {
  constructor(
    readonly code: number,
    reason: string,
  ) {
    super(reason);
  }
}

// A websocket close reason is at most 123 bytes.
const short = (s: string): string =>
  Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString() + '…';

export class ConsoleProxy {
  private readonly servers: Server[] = [];
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  private readonly hubs = new SerialHubs();
  private readonly log: Logger;
  private readonly live = new Set<WebSocket>();

  constructor(private readonly o: ConsoleProxyOptions) {
    this.log = (o.log ?? silentLogger).child({ component: 'console-proxy' });
  }

  /** Open console websockets (both kinds). */
  get sessions(): number {
    return this.live.size;
  }

  /** Listens for one kind of console; resolves with the bound port. */
  async listen(kind: ConsoleType, host: string, port: number): Promise<number> {
    const server = createServer((req, res) => void this.page(kind, req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => void this.session(kind, ws, req));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    return (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    this.hubs.closeAll('the console proxy is stopping');
    for (const ws of this.live) ws.close(1001, 'the console proxy is stopping');
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    );
    this.wss.close();
  }

  private async page(kind: ConsoleType, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const f = req.method === 'GET' || req.method === 'HEAD' ? await staticFile(kind, path) : undefined;
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        `Not found: ${path}. The console page is ${kind === 'novnc' ? '/vnc_lite.html' : '/'}?token=…\n`,
      );
      return;
    }
    res.writeHead(200, {
      'content-type': f.type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // The pages load only their own scripts and connect only back to this host.
      'content-security-policy':
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:",
    });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  }

  private async session(kind: ConsoleType, ws: WebSocket, req: IncomingMessage): Promise<void> {
    this.live.add(ws);
    ws.once('close', () => this.live.delete(ws));
    try {
      const t = await this.authorize(kind, req);
      const agent = await this.o.agents.reach(t.host).catch((e: Error) => {
        throw new Refusal(CloseCode.UNAVAILABLE, e.message);
      });
      if (kind === 'novnc') await this.spliceVnc(ws, agent, t.instanceUuid);
      else await this.spliceSerial(ws, agent, t.instanceUuid);
      this.log.info({ instance: t.instanceUuid, kind }, 'console session opened');
    } catch (e) {
      const code = e instanceof Refusal ? e.code : 1011;
      const reason =
        e instanceof Refusal ? e.message : `the console could not be opened: ${(e as Error).message}`;
      this.log.info({ kind, code, reason }, 'console session refused');
      if (ws.readyState === ws.OPEN) ws.close(code, short(reason));
    }
  }

  private async authorize(kind: ConsoleType, req: IncomingMessage): Promise<ConsoleTokenRecord> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    this.checkOrigin(req);
    const token = url.searchParams.get('token');
    if (!token)
      throw new Refusal(
        CloseCode.NO_TOKEN,
        'no console token: open the URL the console API gave (it ends in token=…)',
      );
    const r = await this.o.repos.consoleTokens.spend(hashToken(token));
    if (!r.ok) {
      const why = {
        unknown: [CloseCode.UNKNOWN_TOKEN, 'invalid console token: ask for a new console URL'],
        used: [
          CloseCode.USED_TOKEN,
          'this console token was already used: each URL opens one session; ask for a new one',
        ],
        expired: [
          CloseCode.EXPIRED_TOKEN,
          'the console token expired ([consoleauth] token_ttl): ask for a new console URL',
        ],
      } as const;
      throw new Refusal(why[r.reason][0], why[r.reason][1]);
    }
    const t = r.token;
    if (t.consoleType !== kind) {
      throw new Refusal(
        CloseCode.WRONG_CONSOLE,
        `this is a ${t.consoleType} console token; open it on the ${t.consoleType} proxy`,
      );
    }
    const auth = req.headers['x-auth-token'];
    if (typeof auth === 'string' && this.o.contextFor) {
      const ctx = await this.o.contextFor(auth);
      if (!ctx) throw new Refusal(CloseCode.OTHER_PROJECT, 'the X-Auth-Token sent is unknown or expired');
      if (!ctx.isAdmin && ctx.projectId !== t.projectId)
        throw new Refusal(CloseCode.OTHER_PROJECT, "this console token belongs to another project's server");
    }
    const inst = await this.o.repos.instances.get(t.instanceUuid);
    if (!inst || inst.deleted) throw new Refusal(CloseCode.GONE, 'the server was deleted');
    if (inst.vmState !== 'active')
      throw new Refusal(CloseCode.NOT_RUNNING, `the server is ${inst.vmState}, not running`);
    return t;
  }

  /** A browser's Origin must be this proxy's own host or an allowed one; non-browsers send none. */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      throw new Refusal(CloseCode.ORIGIN, `Origin ${short(origin)} is not a URL`);
    }
    if (o.host === req.headers.host || (this.o.allowedOrigins ?? []).includes(o.hostname)) return;
    throw new Refusal(
      CloseCode.ORIGIN,
      `Origin ${o.host} may not open consoles here ([console] allowed_origins)`,
    );
  }

  private async spliceVnc(ws: WebSocket, agent: ComputeAgent, uuid: string): Promise<void> {
    const at = await this.guestCall(() => agent.vncEndpoint({ instanceUuid: uuid }));
    const sock: Socket = at.kind === 'unix' ? connect(at.path) : connect(at.port, at.host);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (e) =>
        reject(new Refusal(CloseCode.UNAVAILABLE, `the guest's display does not answer: ${e.message}`)),
      );
    });
    sock.on('data', (d: Buffer) => {
      ws.send(d);
      // Slow browser: stop reading the display until the socket drains.
      if (ws.bufferedAmount > 4 * 1024 * 1024) {
        sock.pause();
        const wait = setInterval(() => {
          if (ws.bufferedAmount < 1024 * 1024 || ws.readyState !== ws.OPEN) {
            clearInterval(wait);
            sock.resume();
          }
        }, 20);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (ws.readyState === ws.OPEN)
        ws.close(1000, "the guest's display closed: the server stopped or was deleted");
    });
    ws.on('message', (m: Buffer) => sock.write(m));
    ws.on('close', () => sock.destroy());
  }

  private async spliceSerial(ws: WebSocket, agent: ComputeAgent, uuid: string): Promise<void> {
    const session: SerialSession = {
      send: (d) => ws.send(d),
      close: (code, reason) => ws.readyState === ws.OPEN && ws.close(code, short(reason)),
    };
    // What the guest printed before this session: the console log's tail.
    const history = await agent
      .consoleOutput({ instanceUuid: uuid, maxBytes: 8 * 1024 })
      .then((r) => r.output)
      .catch(() => '');
    const write = await this.guestCall(() =>
      this.hubs.attach(uuid, session, () => agent.openSerialConsole({ instanceUuid: uuid })),
    );
    if (history) ws.send(Buffer.from(history.replace(/(?<!\r)\n/g, '\r\n')));
    ws.on('message', (m: Buffer) => write(m));
    ws.on('close', () => this.hubs.detach(uuid, session));
  }

  /** A call to the guest's host; its refusals (not running, no display) become close reasons. */
  private async guestCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isKestrelError(e, 'instance-not-found'))
        throw new Refusal(CloseCode.GONE, 'the server has no guest on its host');
      if (isKestrelError(e, 'invalid-state'))
        throw new Refusal(CloseCode.NOT_RUNNING, 'the server is not running');
      if (isKestrelError(e, 'console-unavailable')) throw new Refusal(CloseCode.UNAVAILABLE, e.message);
      throw e;
    }
  }
}
