import type { Command } from 'commander';
// Owned by the service work (issue 6): API-client subcommands (image create/list/…, flavor, server, hypervisor).
export function registerServiceCommands(_program: Command): void {}
