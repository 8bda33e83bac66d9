import type { Command } from 'commander';
// `kestrel serve` (issue 2 first, then the service issue).
export function registerServeCommand(_program: Command): void {}
