// An oslo.config-compatible INI reader (oslo_config/iniparser.py semantics):
// - `[section]` headers; `key = value` or `key: value` (whichever separator comes first);
// - `#` and `;` start a comment only at the start of a line: `a;b#c` is a literal value;
// - a line starting with a space or tab continues the previous value (joined with "\n");
//   a blank line ends it;
// - matching surrounding quotes are stripped;
// - repeated keys are all kept, in order (MultiOpts read them all; other options the last).
// It only reads structure; types, defaults and interpolation belong to the loader.

export interface IniValue {
  value: string;
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  /** key → every occurrence, in file order. */
  entries: Map<string, IniValue[]>;
}

export interface IniSyntaxError {
  line: number;
  message: string;
}

export interface IniDocument {
  /** Sections by name; a section repeated in the file is merged into one. Options that come
   *  before any header are in the section named "". */
  sections: Map<string, IniSection>;
  errors: IniSyntaxError[];
}

export function parseIni(text: string): IniDocument {
  const sections = new Map<string, IniSection>();
  const errors: IniSyntaxError[] = [];
  let section: IniSection | null = null;
  // The assignment being read, kept open for continuation lines.
  let pending: { key: string; parts: string[]; line: number } | null = null;

  const flush = (): void => {
    if (!pending) return;
    if (section) {
      const list = section.entries.get(pending.key) ?? [];
      list.push({ value: pending.parts.join('\n'), line: pending.line });
      section.entries.set(pending.key, list);
    }
    pending = null;
  };

  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[0].startsWith('\uFEFF')) lines[0] = lines[0].slice(1);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trimEnd();
    if (line === '') {
      flush();
      return;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (pending) pending.parts.push(line.trimStart());
      else if (!/^\s*[#;]/.test(line))
        errors.push({
          line: lineNo,
          message:
            'indented line continues nothing: remove the leading spaces, or put it right after a "key = value" line',
        });
      return;
    }
    flush();
    if (line[0] === '#' || line[0] === ';') return;
    if (line[0] === '[') {
      const name = line.endsWith(']') ? line.slice(1, -1).trim() : null;
      if (name === null || name === '') {
        errors.push({
          line: lineNo,
          message:
            name === null
              ? `invalid section header "${shorten(line)}": it must end with "]"`
              : 'empty section name "[]"',
        });
        // Options up to the next valid header go nowhere rather than into the previous group.
        section = { name: '', line: lineNo, entries: new Map() };
      } else {
        section = sections.get(name) ?? { name, line: lineNo, entries: new Map() };
        sections.set(name, section);
      }
      return;
    }
    const eq = line.indexOf('=');
    const colon = line.indexOf(':');
    if (eq < 0 && colon < 0) {
      errors.push({
        line: lineNo,
        message: `"${shorten(line)}" is not "key = value", a [section] header or a comment (comments start with # or ;)`,
      });
      return;
    }
    const at = colon < 0 || (eq >= 0 && eq < colon) ? eq : colon;
    const key = line.slice(0, at).trim();
    let value = line.slice(at + 1).trim();
    if (key === '') {
      errors.push({ line: lineNo, message: `"${shorten(line)}" has no option name before "${line[at]}"` });
      return;
    }
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0])
      value = value.slice(1, -1);
    // Options before any header are kept in the section named "" so that the loader can say
    // which group each belongs in (oslo refuses them).
    if (!section) {
      section = sections.get('') ?? { name: '', line: lineNo, entries: new Map() };
      sections.set('', section);
    }
    pending = { key, parts: [value], line: lineNo };
  });
  flush();
  return { sections, errors };
}

function shorten(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
