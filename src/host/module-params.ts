// Kernel module parameters under /sys/module/<module>/parameters/<name>.
import { readHostFile } from './host-files.js';

/** The parameter's trimmed text, or undefined when the module or parameter does not exist. */
export async function readModuleParam(
  hostRoot: string,
  module: string,
  name: string,
): Promise<string | undefined> {
  const text = await readHostFile(hostRoot, `/sys/module/${module}/parameters/${name}`);
  return text?.trim();
}

/** Kernel boolean parameters print Y/N (newer kernels) or 1/0 (older ones); both are accepted. */
export function isParamEnabled(value: string | undefined): boolean {
  return value !== undefined && /^(y|yes|1|true|on)$/i.test(value.trim());
}
