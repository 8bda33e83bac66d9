import type { Command } from 'commander';
// Owned by the host-checks work (issue 2): `kestrel doctor`.
export function registerDoctorCommand(_program: Command): void {}
