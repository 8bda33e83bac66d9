// One pino logger for the whole process. Secrets are redacted by path wherever they appear.
import { pino, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'key',
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
];

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'kestrel',
    level: opts.level ?? process.env.KESTREL_LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
  });
}

/** A logger that writes nothing, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
