import type { Command } from 'commander';
// Owned by the configuration work (issue 2): `kestrel config check|docs`.
export function registerConfigCommands(_program: Command): void {}
