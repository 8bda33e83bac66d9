// Remote consoles (Nova's get_vnc_console / get_serial_console): checks the request and the
// server, issues a one-time token and answers the URL the console proxy (src/console/) serves.
// The token is random (256 bits); only its SHA-256 is stored, with the instance, its project
// and host, and an expiry ([consoleauth] token_ttl). Used by POST /servers/{id}/remote-consoles
// (2.6+) and the 2.1 actions os-getVNCConsole / os-getSerialConsole / os-getSPICEConsole.
import { createHash, randomBytes } from 'node:crypto';
import type { ConsoleType, Instance, Repositories } from '../db/index.js';
import type { AgentDirectory } from './agent-directory.js';
import { KestrelError, badRequest, conflict } from '../errors/index.js';

export interface ConsoleOptions {
  vncEnabled: boolean;
  serialEnabled: boolean;
  tokenTtlSeconds: number;
  /** The noVNC page or the serial page/websocket as users reach them, or why the proxy cannot serve it. */
  baseUrl: (type: ConsoleType) => string | { problem: string };
  now?: () => number;
}

export interface RemoteConsole {
  protocol: 'vnc' | 'serial';
  type: ConsoleType;
  url: string;
}

/** The 2.1 action names and the console type each asks for in its body. */
export const CONSOLE_ACTIONS: Record<string, 'vnc' | 'serial' | 'spice' | 'rdp'> = {
  'os-getVNCConsole': 'vnc',
  'os-getSerialConsole': 'serial',
  'os-getSPICEConsole': 'spice',
  'os-getRDPConsole': 'rdp',
};

const SERVED: Record<string, { type: ConsoleType; option: string }> = {
  vnc: { type: 'novnc', option: '[vnc] enabled' },
  serial: { type: 'serial', option: '[serial_console] enabled' },
};

const NOT_SERVED: Record<string, string> = {
  spice:
    'Kestrel serves no SPICE consoles (its guests have a VNC display, not a SPICE server, and there is no spice-html5 proxy); ask for protocol "vnc", type "novnc".',
  rdp: 'RDP consoles are for Hyper-V guests; Kestrel guests offer protocol "vnc" (type "novnc") and "serial".',
  mks: 'MKS consoles are for VMware guests; Kestrel guests offer protocol "vnc" (type "novnc") and "serial".',
};

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class ConsoleService {
  constructor(
    private readonly repos: Repositories,
    private readonly agents: AgentDirectory,
    private readonly opts: ConsoleOptions,
  ) {}

  /** POST /servers/{id}/remote-consoles body {"remote_console": {protocol, type}}. */
  checkRemoteConsoleBody(body: unknown): { protocol: string; type: string } {
    const rc = (body as { remote_console?: unknown } | undefined)?.remote_console as
      Record<string, unknown> | undefined;
    if (!rc || typeof rc !== 'object' || Array.isArray(rc))
      throw badRequest('The body must be {"remote_console": {"protocol": "vnc", "type": "novnc"}}.');
    const extra = Object.keys(rc).filter((k) => k !== 'protocol' && k !== 'type');
    if (extra.length)
      throw badRequest(
        `remote_console has unknown field(s) ${extra.join(', ')}; it takes protocol and type.`,
      );
    const { protocol, type } = rc;
    if (typeof protocol !== 'string' || typeof type !== 'string')
      throw badRequest(
        'remote_console needs protocol and type as strings, e.g. "vnc" and "novnc", or "serial" and "serial".',
      );
    return { protocol, type };
  }

  /** The 2.1 actions: {"os-getVNCConsole": {"type": "novnc"}} and the like. */
  fromAction(name: string, arg: unknown): { protocol: string; type: string } {
    const protocol = CONSOLE_ACTIONS[name];
    const type = (arg as { type?: unknown } | null)?.type;
    if (typeof type !== 'string') {
      const example = protocol === 'serial' ? 'serial' : protocol === 'vnc' ? 'novnc' : `${protocol}-html5`;
      throw badRequest(`${name} needs {"type": "${example}"}.`);
    }
    return { protocol, type };
  }

  async create(inst: Instance, protocol: string, type: string): Promise<RemoteConsole> {
    if (NOT_SERVED[protocol]) throw badRequest(NOT_SERVED[protocol]);
    const served = SERVED[protocol];
    if (!served)
      throw badRequest(
        `Unknown console protocol ${JSON.stringify(protocol)}; use "vnc" (type "novnc") or "serial" (type "serial").`,
      );
    if (type !== served.type) {
      throw badRequest(
        `Unavailable console type ${JSON.stringify(type)} for protocol ${protocol}: Kestrel serves type "${served.type}"` +
          (type === 'xvpvnc' ? ' (the XenAPI VNC proxy is gone from Nova too).' : '.'),
      );
    }
    const enabled = protocol === 'vnc' ? this.opts.vncEnabled : this.opts.serialEnabled;
    if (!enabled)
      throw badRequest(`Unavailable console type ${type}: ${served.option} is false on this cloud.`);
    if (inst.vmState !== 'active' || !inst.host) {
      throw conflict(
        `Instance ${inst.uuid} is not ready for a console: it is ${inst.vmState}${inst.taskState ? ` (task ${inst.taskState})` : ''}; a console needs it active (running). Start it first.`,
      );
    }
    const base = this.opts.baseUrl(served.type);
    if (typeof base !== 'string')
      throw new KestrelError('unavailable', `No ${type} console can be served now: ${base.problem}.`);
    // Ask the host now, so a guest without a display is a 409 here rather than a dead URL.
    // A host that does not answer is the directory's 409 (host unreachable, and what to do).
    const agent = await this.agents.reach(inst.host);
    if (protocol === 'vnc') await agent.vncEndpoint({ instanceUuid: inst.uuid });
    const token = randomBytes(32).toString('base64url');
    const now = (this.opts.now ?? Date.now)();
    await this.repos.consoleTokens.purgeExpired(new Date(now).toISOString());
    await this.repos.consoleTokens.insert({
      tokenHash: hashToken(token),
      consoleType: served.type,
      instanceUuid: inst.uuid,
      projectId: inst.projectId,
      host: inst.host,
      expiresAt: new Date(now + this.opts.tokenTtlSeconds * 1000).toISOString(),
    });
    return {
      protocol: protocol as 'vnc' | 'serial',
      type: served.type,
      url: this.url(served.type, base, token),
    };
  }

  private url(type: ConsoleType, base: string, token: string): string {
    const u = new URL(base);
    // noVNC's page connects its websocket to `path` (Nova's ?path=%3Ftoken%3D… form).
    if (type === 'novnc') u.searchParams.set('path', `?token=${token}`);
    else u.searchParams.set('token', token);
    return u.toString();
  }
}
