// `kestrel serve --role`: all (one process, today's default), controller (the APIs, the
// scheduler and the only holder of the database) or compute (the agent of this host's
// libvirtd, reached over [DEFAULT] transport_url). What each role refuses, with the fix, is
// decided here from the configuration alone, before anything starts.
import type { KestrelConfig } from '../config/index.js';
import { parseTransportUrl, TransportUrlError } from '../transport/url.js';

export const ROLES = ['all', 'controller', 'compute'] as const;
export type Role = (typeof ROLES)[number];

export function parseRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new Error(
    `--role ${value}: use all (APIs, scheduler and this host's agent in one process), controller or compute`,
  );
}

const isPostgres = (url: string) => /^postgres(ql)?(\+[a-z0-9]+)?:\/\//i.test(url.trim());

/** Why this configuration cannot run the role (each with its fix); empty when it can. */
export function roleProblems(role: Role, c: KestrelConfig): string[] {
  const problems: string[] = [];
  if (role === 'all') return problems;
  const url = c.DEFAULT.transport_url;
  if (!url) {
    problems.push(
      `--role ${role} needs a message bus between the controller and the compute hosts, and [DEFAULT] transport_url is unset. Fix: run nats-server (with JetStream) and set transport_url = nats://user:password@host:4222`,
    );
  } else {
    try {
      parseTransportUrl(url);
    } catch (e) {
      if (!(e instanceof TransportUrlError)) throw e;
      problems.push(e.message);
    }
  }
  const db = c.database.connection ?? '';
  if (role === 'controller' && !isPostgres(db)) {
    problems.push(
      `--role controller keeps the state of every host, and [database] connection is SQLite (${db.replace(/^sqlite:\/\/\/?/, '') || 'in state_path'}), which one machine's process alone can use. Fix: set [database] connection = postgresql://user:password@host/kestrel (or run --role all for one machine)`,
    );
  }
  if (role === 'compute' && isPostgres(db)) {
    problems.push(
      "--role compute holds no database credentials (it reports to the controller over the message bus, as nova-compute talks to its conductor), and [database] connection is set. Fix: remove [database] connection from the compute host's configuration",
    );
  }
  return problems;
}
