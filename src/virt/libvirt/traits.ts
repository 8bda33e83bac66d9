// CPU feature traits this host offers Placement: host-model/passthrough →
// the host's features; custom → the union of every configured model; none → the default
// model; plus the extra flags. Only flags in the trait table become traits.
import { CPU_TRAITS_MAPPING } from './configure/cpu-traits.js';
import { extraFlagFeatures } from './configure/cpu.js';

export function cpuTraits(features: Iterable<string>, extraFlags: string[]): string[] {
  const flags = new Set(features);
  for (const f of extraFlagFeatures(extraFlags)) {
    if (f.policy === 'disable') flags.delete(f.name);
    else flags.add(f.name);
  }
  return Object.entries(CPU_TRAITS_MAPPING)
    .filter(([, flag]) => flags.has(flag))
    .map(([trait]) => trait)
    .sort();
}
