// One NATS connection per process, from [DEFAULT] transport_url. It reconnects for ever (a
// NATS restart is an outage, not an end); the first connection fails at once with the cause
// and the fix, so a wrong password or a missing server is said at start-up.
import { connect, ErrorCode, NatsError, type NatsConnection } from 'nats';
import type { TransportTarget } from '../url.js';
import { silentLogger, type Logger } from '../../util/log.js';

export interface NatsConnectOptions {
  /** Shown in the server's connection list (e.g. "kestrel-compute host1"). */
  name: string;
  logger?: Logger;
  /** PEM CA bundle for tls:// servers (the system's CAs when unset). */
  tlsCaFile?: string;
  /** How long the first connection may take (default 10 s). */
  timeoutMs?: number;
}

export async function connectNats(target: TransportTarget, o: NatsConnectOptions): Promise<NatsConnection> {
  const log = o.logger ?? silentLogger;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: target.servers,
      user: target.user,
      pass: target.pass,
      name: o.name,
      timeout: o.timeoutMs ?? 10_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      tls: target.tls ? (o.tlsCaFile ? { caFile: o.tlsCaFile } : {}) : undefined,
    });
  } catch (e) {
    throw explainConnectError(e, target);
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error')
        log.warn({ nats: s.type, server: String(s.data) }, `NATS ${s.type}`);
    }
  })();
  return nc;
}

function explainConnectError(e: unknown, t: TransportTarget): Error {
  const where = t.servers.join(', ');
  if (e instanceof NatsError) {
    if (e.code === ErrorCode.AuthorizationViolation || e.code === ErrorCode.AuthenticationExpired)
      return new Error(
        `NATS at ${where} refused ${t.user ? `user "${t.user}"` : 'a connection without credentials'} (${e.message}). Fix: set the user and password nats-server expects in [DEFAULT] transport_url (${t.redacted})`,
        { cause: e },
      );
    if (e.code === ErrorCode.ConnectionRefused || e.code === ErrorCode.ConnectionTimeout)
      return new Error(
        `no NATS server answers at ${where} (${e.message}). Fix: start nats-server there (with JetStream on), or correct [DEFAULT] transport_url (${t.redacted})`,
        { cause: e },
      );
  }
  return new Error(`cannot connect to NATS at ${where}: ${(e as Error).message}`, { cause: e });
}
