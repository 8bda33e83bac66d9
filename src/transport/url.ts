// [DEFAULT] transport_url for NATS, in oslo.messaging's shape: one URL, or several servers
// separated by commas, each either a whole URL or user:pass@host:port after the first:
//   nats://kestrel:secret@10.0.0.2:4222
//   nats://kestrel:secret@nats1:4222,kestrel:secret@nats2:4222,nats3:4222
// tls:// instead of nats:// requires TLS. User and password are percent-decoded; every server
// shares them (a NATS connection authenticates once, whichever server it reaches).

export interface TransportTarget {
  /** host:port of each server, in the given order. */
  servers: string[];
  user?: string;
  pass?: string;
  tls: boolean;
  /** The URL with the password replaced, for logs and messages. */
  redacted: string;
}

const EXAMPLE = 'nats://user:password@host:4222';

export class TransportUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportUrlError';
  }
}

export function redactTransportUrl(url: string): string {
  return url.replace(/(\/\/|,)([^:/,@]*):([^@,]*)@/g, '$1$2:***@');
}

export function parseTransportUrl(url: string): TransportTarget {
  const redacted = redactTransportUrl(url.trim());
  const fail = (why: string) =>
    new TransportUrlError(
      `[DEFAULT] transport_url "${redacted}" ${why}. Fix: use ${EXAMPLE} (several servers comma-separated)`,
    );
  const m = /^([a-z][a-z0-9+]*):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw fail('is not a URL');
  const scheme = m[1].toLowerCase();
  if (scheme === 'rabbit' || scheme === 'amqp' || scheme === 'kafka')
    throw new TransportUrlError(
      `[DEFAULT] transport_url "${redacted}" names ${scheme}, which Kestrel does not speak: its message bus is NATS. Fix: run nats-server and use ${EXAMPLE}`,
    );
  if (scheme !== 'nats' && scheme !== 'tls') throw fail(`uses "${scheme}://", not nats:// or tls://`);
  let user: string | undefined;
  let pass: string | undefined;
  const servers: string[] = [];
  for (const raw of m[2].split(',')) {
    let piece = raw.trim().replace(/^(nats|tls):\/\//i, '');
    piece = piece.replace(/\/.*$/, '');
    if (!piece) throw fail('has an empty server');
    const at = piece.lastIndexOf('@');
    if (at >= 0) {
      const cred = piece.slice(0, at);
      piece = piece.slice(at + 1);
      const colon = cred.indexOf(':');
      const u = decodeURIComponent(colon >= 0 ? cred.slice(0, colon) : cred);
      const p = colon >= 0 ? decodeURIComponent(cred.slice(colon + 1)) : undefined;
      if (user !== undefined && (u !== user || p !== pass))
        throw fail(
          'gives different credentials to different servers (one NATS connection authenticates once)',
        );
      user = u;
      pass = p;
    }
    const hp = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d+))?$/i.exec(piece);
    if (!hp) throw fail(`has a server "${piece}" that is not host:port`);
    const port = hp[2] ? Number(hp[2]) : 4222;
    if (port < 1 || port > 65535) throw fail(`has a server port ${port} outside 1-65535`);
    servers.push(`${hp[1]}:${port}`);
  }
  return { servers, user, pass, tls: scheme === 'tls', redacted };
}
