import type { Command } from 'commander';
// Owned by the images work (issue 4): `kestrel image inspect`. The API-client image
// subcommands (create/list/show/delete) are added by the service work in service.ts, under
// the same `image` command: find it with program.commands.find((c) => c.name() === 'image').
export function registerImageCommands(_program: Command): void {}
