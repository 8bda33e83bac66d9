// CPU set strings as Nova and libvirt write them: "0-3,8,^2" (ranges, single ids, exclusions).
// Used by flavor extra specs (hw:numa_cpus.N, hw:cpu_dedicated_mask), [compute]
// cpu_dedicated_set / cpu_shared_set, and the cpuset attributes of the domain XML.

/** Parses "0-3,^2,8" into a sorted list of ids; throws with the offending part. */
export function parseCpuSet(spec: string): number[] {
  const include = new Set<number>();
  const exclude = new Set<number>();
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new Error(`"${spec}" names no CPUs; use ids and ranges such as 0-3,6`);
  for (const part of parts) {
    const negate = part.startsWith('^');
    const body = negate ? part.slice(1).trim() : part;
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(body);
    if (!m) throw new Error(`"${part}" in "${spec}" is not a CPU id or range (such as 4 or 0-3)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`range "${part}" in "${spec}" ends before it starts`);
    if (hi - lo > 4096) throw new Error(`range "${part}" in "${spec}" is too large`);
    for (let i = lo; i <= hi; i++) (negate ? exclude : include).add(i);
  }
  return [...include].filter((i) => !exclude.has(i)).sort((a, b) => a - b);
}

/** Formats ids as the shortest range string: [0,1,2,5] → "0-2,5". */
export function formatCpuSet(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
