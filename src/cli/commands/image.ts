import type { Command } from 'commander';
// Owned by the images work (issue 4): `kestrel image inspect`.
export function registerImageCommands(_program: Command): void {}
