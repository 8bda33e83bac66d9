// oslo.config value interpolation: `$option` and `${option}` name an option of the same group
// (then [DEFAULT]); `${group.option}` names one in another group; `$$` is a literal `$`.
// The referenced option's own text is interpolated first, so `$state_path/instances` follows
// state_path wherever it is set. An unknown name or a loop is an error, as in oslo.

// oslo's Template idpattern is [_a-z][._a-z0-9]* (case-insensitive), braced or not.
const PLACEHOLDER = /\$(?:(\$)|\{([_a-z][._a-z0-9]*)\}|([_a-z][._a-z0-9]*))/gi;

/** Gives the raw (uninterpolated) text of an option, or undefined if there is no such option. */
export type RawLookup = (group: string, option: string) => string | undefined;

export class InterpolationError extends Error {}

export function interpolate(text: string, group: string, lookup: RawLookup, seen: string[] = []): string {
  if (!text.includes('$')) return text;
  return text.replace(
    PLACEHOLDER,
    (_m, dollar: string | undefined, braced: string | undefined, bare: string | undefined) => {
      if (dollar) return '$';
      const name = (braced ?? bare) as string;
      const dot = name.indexOf('.');
      let where: [string, string] | null = null;
      if (dot > 0) {
        where = [name.slice(0, dot), name.slice(dot + 1)];
        if (lookup(where[0], where[1]) === undefined) where = null;
      } else if (lookup(group, name) !== undefined) where = [group, name];
      else if (lookup('DEFAULT', name) !== undefined) where = ['DEFAULT', name];
      if (!where)
        throw new InterpolationError(
          `"$${name}" names no option (write $$ for a literal $, or \${group.option} for another group)`,
        );
      const key = `${where[0]}.${where[1]}`;
      if (seen.includes(key))
        throw new InterpolationError(`interpolation loop: ${[...seen, key].join(' -> ')}`);
      return interpolate(lookup(where[0], where[1]) as string, where[0], lookup, [...seen, key]);
    },
  );
}
