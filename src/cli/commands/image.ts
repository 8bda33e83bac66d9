import type { Command } from 'commander';
// Owned by the images work (issue 4): `kestrel image inspect`, registered on the shared
// `image` command (the service work adds create/list/show/delete to it).
export function registerImageCommands(_image: Command): void {}
