// From INI text to a typed KestrelConfig: maps sections and keys onto the schema (deprecated
// names, unknown options), interpolates, converts each value, then runs the cross-option rules.
// Every problem is collected; nothing here throws for bad input.
import { parseIni, type IniSection, type IniValue } from './ini.js';
import { interpolate, InterpolationError } from './interpolate.js';
import { maskSecret, type ConfigProblem } from './problems.js';
import { checkRules, type Locate } from './rules.js';
import { groupNames, groupSpec, schema, type GroupName, type KestrelConfig } from './schema/index.js';
import type { AnyOption } from './schema/option.js';
import { nearest } from './suggest.js';

export interface LoadedConfig {
  config: KestrelConfig;
  /** The file read, or null when running on the defaults. */
  source: string | null;
  warnings: ConfigProblem[];
  errors: ConfigProblem[];
}

/** Where an option got its value in the file. */
interface Assignment {
  values: IniValue[];
  /** Set when the file used a deprecated name: problems then name what the file says. */
  writtenAs?: { group: string; option: string };
}

const key = (group: string, option: string): string => `${group}.${option}`;

// `[group] old_name` → the option that replaced it.
const deprecatedIndex = new Map<string, { group: GroupName; option: string }>();
for (const g of groupNames) {
  for (const [option, spec] of Object.entries(schema[g].options) as [string, AnyOption][]) {
    for (const d of spec.deprecatedNames ?? [])
      deprecatedIndex.set(key(d.group ?? g, d.name), { group: g, option });
  }
}

/**
 * oslo.config lowercases group names other than DEFAULT, so [Libvirt] is [libvirt]; sections
 * that meet under one name are merged, each key's occurrences kept in file order.
 */
function normalizeGroupNames(sections: Map<string, IniSection>): Map<string, IniSection> {
  const out = new Map<string, IniSection>();
  for (const [written, section] of sections) {
    const name = written === 'DEFAULT' ? written : written.toLowerCase();
    const into = out.get(name);
    if (!into) {
      out.set(name, { ...section, name, entries: new Map(section.entries) });
      continue;
    }
    for (const [k, values] of section.entries)
      into.entries.set(
        k,
        [...(into.entries.get(k) ?? []), ...values].sort((a, b) => a.line - b.line),
      );
  }
  return out;
}

function groupOf(option: string): GroupName | undefined {
  return groupNames.find((g) => Object.hasOwn(schema[g].options, option));
}

function shownValue(spec: AnyOption, value: string): string {
  return spec.secret ? maskSecret(value) : value;
}

/** Parses and validates configuration text. `file` only labels the problems. */
export function parseConfigText(text: string, file?: string): LoadedConfig {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const at = (line?: number): Pick<ConfigProblem, 'file' | 'line'> => ({
    ...(file !== undefined && { file }),
    ...(line !== undefined && { line }),
  });

  const doc = parseIni(text);
  for (const e of doc.errors) errors.push({ ...at(e.line), message: e.message });

  const assigned = new Map<string, Assignment>();
  for (const [sectionName, section] of normalizeGroupNames(doc.sections)) {
    const spec = groupSpec(sectionName);
    for (const [name, values] of section.entries) {
      const line = values[0].line;
      if (sectionName === '') {
        const home = groupOf(name);
        errors.push({
          ...at(line),
          option: name,
          message: `comes before any [section] header; put it under [${home ?? 'DEFAULT'}]`,
        });
        continue;
      }
      if (!spec) {
        // Other services' and other Nova drivers' groups: ignored silently, so nova.conf works
        // as is. Only [default], a near-certain slip for [DEFAULT], is worth a word.
        if (sectionName === 'default' && name === [...section.entries.keys()][0])
          warnings.push({
            ...at(section.line),
            group: sectionName,
            message: 'unknown group, ignored: group names are case-sensitive for DEFAULT; write [DEFAULT]',
          });
        continue;
      }
      if (Object.hasOwn(spec.options, name)) {
        assigned.set(key(sectionName, name), { values });
        continue;
      }
      const moved = deprecatedIndex.get(key(sectionName, name));
      if (moved) {
        warnings.push({
          ...at(line),
          group: sectionName,
          option: name,
          message: `deprecated name; write "${moved.option}" in [${moved.group}] instead`,
        });
        const target = key(moved.group, moved.option);
        // The current name wins over a deprecated one, wherever each appears.
        if (!assigned.has(target) || assigned.get(target)?.writtenAs)
          assigned.set(target, { values, writtenAs: { group: sectionName, option: name } });
        continue;
      }
      const candidates = [
        ...Object.keys(spec.options),
        ...[...deprecatedIndex.keys()]
          .filter((k) => k.startsWith(`${sectionName}.`))
          .map((k) => k.slice(sectionName.length + 1)),
      ];
      const close = nearest(name, candidates);
      const home = groupOf(name);
      const hint = close
        ? `did you mean ${close}?`
        : home
          ? `it belongs in [${home}]`
          : `Kestrel does not use it`;
      warnings.push({
        ...at(line),
        group: sectionName,
        option: name,
        message: `unknown option, ignored; ${hint}`,
      });
    }
  }
  // A current name that appears as well as its deprecated one: say which won.
  // (Handled above by precedence; nothing more to report.)

  // The raw text of each option, for interpolation: the file's last value, else the default.
  const rawOf = (group: string, option: string): string | undefined => {
    const spec = groupSpec(group)?.options[option];
    if (!spec || !Object.hasOwn(groupSpec(group)?.options ?? {}, option)) return undefined;
    const a = assigned.get(key(group, option));
    if (a) return a.values[a.values.length - 1].value;
    const d: unknown = spec.default;
    return d === null || d === undefined ? '' : Array.isArray(d) ? d.join(',') : String(d);
  };

  const config = {} as Record<string, Record<string, unknown>>;
  const lines = new Map<string, { line: number; value: string; group: string; option: string }>();
  for (const g of groupNames) {
    const values: Record<string, unknown> = {};
    for (const [option, spec] of Object.entries(schema[g].options) as [string, AnyOption][]) {
      values[option] = resolveOption(g, option, spec);
    }
    config[g] = values;
  }

  function resolveOption(g: GroupName, option: string, spec: AnyOption): unknown {
    const a = assigned.get(key(g, option));
    if (!a) {
      if (spec.kind !== 'string' || typeof spec.default !== 'string') return spec.default;
      try {
        return interpolate(spec.default, g, rawOf, [key(g, option)]);
      } catch (e) {
        errors.push({ group: g, option, message: `default ${spec.default}: ${(e as Error).message}` });
        return spec.default;
      }
    }
    const occurrences = spec.multi ? a.values : [a.values[a.values.length - 1]];
    const written = a.writtenAs ?? { group: g, option };
    lines.set(key(g, option), {
      ...written,
      line: occurrences[0].line,
      value: shownValue(spec, occurrences[occurrences.length - 1].value),
    });
    const results: unknown[] = [];
    for (const occ of occurrences) {
      const where = { ...at(occ.line), ...written, value: shownValue(spec, occ.value) };
      let text: string;
      try {
        text = interpolate(occ.value, g, rawOf, [key(g, option)]);
      } catch (e) {
        if (!(e instanceof InterpolationError)) throw e;
        // The message quotes part of the value, so a secret gets a message that does not.
        const message = spec.secret
          ? 'a "$" in the value names no option or makes a loop; write $$ for a literal $'
          : e.message;
        errors.push({ ...where, message });
        return spec.default;
      }
      const r = spec.parse(text);
      if (!r.ok) {
        errors.push({ ...where, message: r.message });
        return spec.default;
      }
      if (r.warning) warnings.push({ ...where, message: r.warning });
      if (spec.deprecatedReason)
        warnings.push({ ...where, message: `deprecated option: ${spec.deprecatedReason}` });
      results.push(r.value);
    }
    return spec.multi ? results.flat() : results[0];
  }

  // Problems point at the line the operator wrote, under the name written there.
  const locate: Locate = (g, option) => {
    const l = lines.get(key(g, option));
    return l
      ? { ...at(l.line), group: l.group, option: l.option, value: l.value }
      : { ...at(), group: g, option };
  };
  const typed = config as unknown as KestrelConfig;
  const ruled = checkRules(typed, locate, (g, o) => assigned.has(key(g, o)));
  errors.push(...ruled.errors);
  warnings.push(...ruled.warnings);

  const byLine = (a: ConfigProblem, b: ConfigProblem): number => (a.line ?? Infinity) - (b.line ?? Infinity);
  return {
    config: typed,
    source: file ?? null,
    warnings: warnings.sort(byLine),
    errors: errors.sort(byLine),
  };
}

/** Every option at its default (interpolated), for tests and as the start-up fallback. */
export function defaultConfig(): KestrelConfig {
  return parseConfigText('').config;
}
