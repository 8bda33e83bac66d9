// What every API-client subcommand shares (service.ts: image/flavor/server/hypervisor,
// identity.ts: project/user/role): credentials, clean API errors, and table / field output.
import type { Command } from 'commander';
import { ApiError, KestrelClient } from '../client/client.js';
import { CredentialsError, findCredentials } from '../client/credentials.js';
import { UserError } from './user-error.js';

export interface CommonOptions {
  json?: boolean;
  osCloud?: string;
}

export type Row = Record<string, unknown>;

/** A client with the caller's credentials (OS_* variables or clouds.yaml); none → one clear line. */
export function apiClient(o: CommonOptions): KestrelClient {
  try {
    return new KestrelClient(findCredentials({ cloud: o.osCloud }));
  } catch (e) {
    if (e instanceof CredentialsError) throw new UserError(e.message);
    throw e;
  }
}

/** Runs API calls; an API refusal becomes one line with its status, not a stack trace. */
export async function api<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError) throw new UserError(e.status ? `${e.message} (HTTP ${e.status})` : e.message);
    throw e;
  }
}

/** The options every API command takes. */
export function withCommon(cmd: Command): Command {
  return cmd
    .option('--json', 'print JSON')
    .option('--os-cloud <name>', 'cloud in clouds.yaml (default: $OS_CLOUD or kestrel)');
}

const cell = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** A plain aligned table: a header, a rule, a line a row. */
export function table(rows: Row[], columns: string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

/** One object as `key  value` lines, keys sorted; `omit` leaves keys out (e.g. links). */
export function fields(obj: Row, omit: string[] = []): string {
  const keys = Object.keys(obj)
    .filter((k) => !omit.includes(k))
    .sort();
  const w = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => `${k.padEnd(w)}  ${cell(obj[k])}`).join('\n');
}

/** JSON with --json, else the human rendering. */
export function print(o: CommonOptions, data: unknown, human: () => string): void {
  process.stdout.write(`${o.json ? JSON.stringify(data, null, 2) : human()}\n`);
}
