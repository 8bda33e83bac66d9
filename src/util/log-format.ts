// Log lines a person can read: pino's JSON objects turned into `12:03:04 INFO  message key=value`
// on a terminal, and left as JSON lines for files, pipes and log collectors (or when
// [DEFAULT] log_format says so). A small formatter instead of pino-pretty: one line per record,
// no worker thread, nothing to install.
import { Writable } from 'node:stream';

export type LogFormat = 'auto' | 'text' | 'json';

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** pino's own fields, shown in the line's head (or not at all). */
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One pino record as one readable line (the error's stack, if any, on the lines after it). */
export function formatRecord(rec: Record<string, unknown>, colour = false): string {
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 19) : '';
  const name = LEVELS[level] ?? String(level);
  const head = colour ? `\x1b[${COLOURS[level] ?? '0'}m${name.padEnd(5)}\x1b[0m` : name.padEnd(5);
  const fields: string[] = [];
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (SKIP.has(k) || v === undefined) continue;
    if ((k === 'err' || k === 'error') && v && typeof v === 'object') {
      const err = v as { message?: unknown; stack?: unknown };
      fields.push(`${k}=${value(err.message ?? '')}`);
      if (typeof err.stack === 'string')
        stack = `\n    ${err.stack.split('\n').slice(1).join('\n    ').trim()}`;
      continue;
    }
    fields.push(`${k}=${value(v)}`);
  }
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  return `${time} ${head} ${msg}${fields.length ? `  ${fields.join(' ')}` : ''}${stack}`;
}

/** Whether records should be written as readable text to this stream. */
export function wantsText(format: LogFormat, stream: { isTTY?: boolean }): boolean {
  return format === 'text' || (format === 'auto' && stream.isTTY === true);
}

/** A destination for pino that writes readable lines to `out` (pino writes one JSON line per call). */
export function textDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      let nl: number;
      let text = '';
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line) continue;
        try {
          text += `${formatRecord(JSON.parse(line) as Record<string, unknown>, out.isTTY === true)}\n`;
        } catch {
          text += `${line}\n`;
        }
      }
      if (text) out.write(text);
      done();
    },
  });
}
