import type { Command } from 'commander';
// Owned by the service work (issue 6): API-client subcommands (flavor, server, hypervisor on
// `program`; create/list/show/delete on the shared `image` command).
export function registerServiceCommands(_program: Command, _image: Command): void {}
