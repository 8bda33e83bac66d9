// Finding and reading the configuration file, with clear messages for every way a file can be
// unusable (missing, a directory, unreadable, binary, too large, not UTF-8).
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { defaultConfig, parseConfigText, type LoadedConfig } from './parse.js';

export const DEFAULT_CONFIG_PATH = '/etc/kestrel/kestrel.conf';
/** Configuration files are small; anything larger is a mistake (a disk image, a log). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadOptions {
  /** --config FILE: must exist. */
  path?: string;
  /** Environment to read KESTREL_CONFIG from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the configuration from opts.path, else $KESTREL_CONFIG, else /etc/kestrel/kestrel.conf
 * if it exists, else the defaults (source null). Never throws for a bad file: every problem is
 * in `errors`, and callers refuse to start when there is any.
 */
export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? (env.KESTREL_CONFIG ? env.KESTREL_CONFIG : undefined);
  const path = explicit ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (path === undefined) return { config: defaultConfig(), source: null, warnings: [], errors: [] };
  const text = await readConfigFile(
    path,
    explicit === opts.path && opts.path !== undefined ? '--config' : explicit ? 'KESTREL_CONFIG' : undefined,
  );
  if (typeof text !== 'string')
    return {
      config: defaultConfig(),
      source: path,
      warnings: [],
      errors: [{ file: path, message: text.problem }],
    };
  return parseConfigText(text, path);
}

/** The file's text, or why it cannot be used. `via` says where the path came from. */
export async function readConfigFile(path: string, via?: string): Promise<string | { problem: string }> {
  const from = via ? ` (given by ${via})` : '';
  try {
    const st = await stat(path);
    if (st.isDirectory())
      return {
        problem: `is a directory${from}; give the configuration file itself, e.g. ${path.replace(/\/$/, '')}/kestrel.conf`,
      };
    if (!st.isFile()) return { problem: `is not a regular file${from}` };
    if (st.size > MAX_CONFIG_BYTES)
      return {
        problem: `is ${st.size} bytes, larger than the ${MAX_CONFIG_BYTES}-byte limit for a configuration file: is it the right file?`,
      };
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_BYTES)
      return {
        problem: `is larger than the ${MAX_CONFIG_BYTES}-byte limit for a configuration file: is it the right file?`,
      };
    if (bytes.includes(0))
      return { problem: 'contains NUL bytes: it is a binary file, not an INI configuration file' };
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return { problem: 'is not UTF-8 text: save it as UTF-8' };
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return { problem: `does not exist${from}: check the path, or omit it to run on the defaults` };
    if (code === 'EACCES' || code === 'EPERM')
      return {
        problem: `cannot be read: permission denied${from}; run as a user that can read it (e.g. root) or fix its mode`,
      };
    if (code === 'ENOTDIR')
      return { problem: `does not exist${from}: a part of the path is not a directory` };
    return { problem: `cannot be read${from}: ${(e as Error).message}` };
  }
}
