// The typed option registry: each option is a spec that knows its type, default, allowed values
// and help, and how to turn the text of an INI value into a typed value. The group modules
// (default.ts, libvirt.ts, …) declare their options with these builders; KestrelConfig's types
// are inferred from them, so the schema is the single source of truth for values, checks and docs.

/** One allowed value of an option with choices, with a line of help for the docs. */
export interface Choice<V extends string = string> {
  value: V;
  help: string;
}

/** A name an option used to have (possibly in another group); still read, with a warning. */
export interface DeprecatedName {
  group?: string; // defaults to the option's own group
  name: string;
}

/** Result of converting one raw value. `warning` accepts the value but tells the operator. */
export type ParseResult<T> = { ok: true; value: T; warning?: string } | { ok: false; message: string };

export type OptKind =
  | 'string'
  | 'choice'
  | 'integer'
  | 'float'
  | 'boolean'
  | 'list'
  | 'dict'
  | 'port'
  | 'multi-dict'
  | 'arch-map';

export interface OptionSpec<T> {
  kind: OptKind;
  default: T;
  help: string;
  /** How the docs show the default when it is computed (e.g. the host name). */
  defaultDoc?: string;
  choices?: readonly Choice[];
  /** Old spellings of choices, accepted with a warning (e.g. images_type raw → flat). */
  aliases?: Record<string, string>;
  /** Values Nova knows that Kestrel refuses, with the reason. */
  refused?: Record<string, string>;
  min?: number;
  max?: number;
  deprecatedNames?: readonly DeprecatedName[];
  /** Set when the option itself is deprecated: why, and what to use instead. */
  deprecatedReason?: string;
  /** Other options that act together with this one, as `group.option`. */
  related?: readonly string[];
  /** Never print the value (passwords, tokens, URLs with credentials). */
  secret?: boolean;
  /** Repeated keys accumulate (oslo MultiOpt) instead of the last one winning. */
  multi?: boolean;
  /** Converts one raw (already interpolated) value. */
  parse(raw: string): ParseResult<T>;
}

// oslo.config accepts these spellings of booleans, in any case.
const TRUE_WORDS = new Set(['true', '1', 'on', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'off', 'no']);

export function parseBoolean(raw: string): ParseResult<boolean> {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return { ok: true, value: true };
  if (FALSE_WORDS.has(word)) return { ok: true, value: false };
  return { ok: false, message: 'expected a boolean: true/false, yes/no, on/off or 1/0' };
}

/** oslo ListOpt: comma-separated, each item stripped, empty text is the empty list. */
export function splitList(raw: string): string[] {
  const text = raw.trim();
  if (text === '') return [];
  return text.split(',').map((item) => item.trim());
}

/** oslo DictOpt: `k1:v1,k2:v2`. */
export function parseDict(raw: string): ParseResult<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const item of splitList(raw)) {
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon <= 0)
      return { ok: false, message: `expected key:value pairs separated by commas, got "${item}"` };
    out[item.slice(0, colon).trim()] = item.slice(colon + 1).trim();
  }
  return { ok: true, value: out };
}

interface Common {
  help: string;
  defaultDoc?: string;
  deprecatedNames?: readonly DeprecatedName[];
  deprecatedReason?: string;
  related?: readonly string[];
  secret?: boolean;
}

function spec<T>(
  kind: OptKind,
  o: Common & { default: T },
  parse: (raw: string) => ParseResult<T>,
  extra: Partial<OptionSpec<T>> = {},
): OptionSpec<T> {
  return { kind, ...o, ...extra, parse };
}

/** A free string. `check` may refuse a value (return the reason) — e.g. a UUID format. */
export function str(
  o: Common & { default: string; check?: (v: string) => string | null },
): OptionSpec<string>;
export function str(
  o: Common & { default: null; check?: (v: string) => string | null },
): OptionSpec<string | null>;
export function str(
  o: Common & { default: string | null; check?: (v: string) => string | null },
): OptionSpec<string | null> {
  const { check, ...rest } = o;
  return spec<string | null>('string', rest, (raw) => {
    const problem = check?.(raw) ?? null;
    return problem ? { ok: false, message: problem } : { ok: true, value: raw };
  });
}

/**
 * A string from a fixed set. `aliases` maps an old spelling to a choice (accepted with a
 * warning); `refused` maps values Nova knows but Kestrel does not support to the reason.
 */
export function choice<const V extends string>(
  o: Common & {
    default: V;
    choices: readonly Choice<V>[];
    aliases?: Record<string, V>;
    refused?: Record<string, string>;
  },
): OptionSpec<V>;
export function choice<const V extends string>(
  o: Common & {
    default: null;
    choices: readonly Choice<V>[];
    aliases?: Record<string, V>;
    refused?: Record<string, string>;
  },
): OptionSpec<V | null>;
export function choice<const V extends string>(
  o: Common & {
    default: V | null;
    choices: readonly Choice<V>[];
    aliases?: Record<string, V>;
    refused?: Record<string, string>;
  },
): OptionSpec<V | null> {
  const { aliases = {}, refused = {}, ...rest } = o;
  const allowed = o.choices.map((c) => c.value);
  return spec<V | null>(
    'choice',
    rest,
    (raw) => {
      if ((allowed as string[]).includes(raw)) return { ok: true, value: raw as V };
      const alias = Object.hasOwn(aliases, raw) ? aliases[raw] : undefined;
      if (alias !== undefined)
        return {
          ok: true,
          value: alias,
          warning: `"${raw}" is a deprecated alias of "${alias}"; write ${alias}`,
        };
      const reason = Object.hasOwn(refused, raw) ? refused[raw] : undefined;
      if (reason !== undefined) return { ok: false, message: `${reason}; allowed: ${allowed.join(', ')}` };
      return { ok: false, message: `must be one of: ${allowed.join(', ')}` };
    },
    { choices: o.choices, aliases, refused },
  );
}

function numberSpec(
  kind: 'integer' | 'float' | 'port',
  o: Common & { default: number | null; min?: number; max?: number },
): OptionSpec<number | null> {
  const { min, max } = o;
  const pattern = kind === 'float' ? /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/ : /^[+-]?\d+$/;
  return spec<number | null>(
    kind,
    o,
    (raw) => {
      const text = raw.trim();
      const range =
        min !== undefined && max !== undefined
          ? ` between ${min} and ${max}`
          : min !== undefined
            ? ` of at least ${min}`
            : max !== undefined
              ? ` of at most ${max}`
              : '';
      const what = kind === 'float' ? 'a number' : kind === 'port' ? 'a TCP port number' : 'an integer';
      if (!pattern.test(text)) return { ok: false, message: `expected ${what}${range}` };
      const value = Number(text);
      if ((min !== undefined && value < min) || (max !== undefined && value > max))
        return { ok: false, message: `out of range: expected ${what}${range}` };
      return { ok: true, value };
    },
    { min, max },
  );
}

type NumOpts = Common & { min?: number; max?: number };
export function int(o: NumOpts & { default: number }): OptionSpec<number>;
export function int(o: NumOpts & { default: null }): OptionSpec<number | null>;
export function int(o: NumOpts & { default: number | null }): OptionSpec<number | null> {
  return numberSpec('integer', o);
}
export function float(o: NumOpts & { default: number }): OptionSpec<number>;
export function float(o: NumOpts & { default: null }): OptionSpec<number | null>;
export function float(o: NumOpts & { default: number | null }): OptionSpec<number | null> {
  return numberSpec('float', o);
}
export function port(o: Common & { default: number }): OptionSpec<number> {
  return numberSpec('port', { ...o, min: 1, max: 65535 }) as OptionSpec<number>;
}

export function bool(o: Common & { default: boolean }): OptionSpec<boolean> {
  return spec('boolean', o, parseBoolean);
}

/** ListOpt. `lowercase` folds items (oslo ignore_case); `item` may refuse an item (return why). */
export function list(
  o: Common & { default: string[]; lowercase?: boolean; item?: (v: string) => string | null },
): OptionSpec<string[]> {
  const { lowercase, item, ...rest } = o;
  return spec('list', rest, (raw) => {
    const items = splitList(raw).map((v) => (lowercase ? v.toLowerCase() : v));
    for (const v of items) {
      const problem = v === '' ? 'empty item in the list (stray comma?)' : (item?.(v) ?? null);
      if (problem) return { ok: false, message: `item "${v}": ${problem}` };
    }
    return { ok: true, value: items };
  });
}

/** A MultiOpt of DictOpt: each repeated key adds one `k:v,k:v` dictionary. */
export function multiDict(
  o: Common & { default: Record<string, string>[]; check?: (d: Record<string, string>) => string | null },
): OptionSpec<Record<string, string>[]> {
  const { check, ...rest } = o;
  // parse() handles one occurrence; the loader collects the occurrences into the array.
  return spec(
    'multi-dict',
    rest,
    (raw) => {
      const d = parseDict(raw);
      if (!d.ok) return d;
      const problem = check?.(d.value) ?? null;
      return problem ? { ok: false, message: problem } : { ok: true, value: [d.value] };
    },
    { multi: true },
  );
}

/**
 * Nova's `[libvirt] hw_machine_type`: a ListOpt of `arch=machine` items, split by Nova itself.
 * As in Nova, an item without a machine type is skipped with a warning; the first item for an
 * architecture wins.
 */
export function archMap(o: Common & { default: Record<string, string> }): OptionSpec<Record<string, string>> {
  return spec('arch-map', o, (raw) => {
    const out: Record<string, string> = {};
    const skipped: string[] = [];
    for (const item of splitList(raw)) {
      const eq = item.indexOf('=');
      const arch = eq < 0 ? item : item.slice(0, eq).trim();
      const machine = eq < 0 ? '' : item.slice(eq + 1).trim();
      if (arch === '' || machine === '') skipped.push(item);
      else if (!(arch in out)) out[arch] = machine;
    }
    return skipped.length
      ? {
          ok: true,
          value: out,
          warning: `skipped ${skipped.map((s) => `"${s}"`).join(', ')}: each item must be arch=machine_type, e.g. x86_64=q35`,
        }
      : { ok: true, value: out };
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds specs of every value type
export type AnyOption = OptionSpec<any>;

export interface GroupSpec<O extends Record<string, AnyOption> = Record<string, AnyOption>> {
  name: string;
  help: string;
  options: O;
}

export function group<O extends Record<string, AnyOption>>(
  name: string,
  help: string,
  options: O,
): GroupSpec<O> {
  return { name, help, options };
}

/** The typed values of a group: `{ option: value type }`, inferred from the specs. */
export type GroupValues<G extends GroupSpec> = {
  [K in keyof G['options']]: G['options'][K] extends OptionSpec<infer T> ? T : never;
};
