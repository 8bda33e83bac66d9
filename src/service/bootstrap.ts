// First start: roles, the admin project and user (a generated password unless one was
// configured), the usual m1.* flavors plus m1.nano for the boot-sector test guest.
import { randomBytes } from 'node:crypto';
import type { Repositories } from '../db/index.js';

export const ROLES = ['admin', 'member', 'reader'] as const;

export const DEFAULT_FLAVORS = [
  { id: '0', name: 'm1.nano', vcpus: 1, memoryMb: 64, rootGb: 1 },
  { id: '1', name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
  { id: '3', name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 },
  { id: '5', name: 'm1.xlarge', vcpus: 8, memoryMb: 16384, rootGb: 160 },
];

export interface BootstrapResult {
  /** True on the first start (the admin was created now). */
  created: boolean;
  adminUserId: string;
  adminProjectId: string;
  /** The admin password, only when it was created now. */
  password?: string;
}

export async function bootstrap(
  repos: Repositories,
  opts: { adminUser: string; adminProject: string; adminPassword?: string; flavors?: boolean },
): Promise<BootstrapResult> {
  const roles = new Map<string, string>();
  for (const r of ROLES) roles.set(r, (await repos.identity.ensureRole(r)).id);
  let project = await repos.identity.findProject({ name: opts.adminProject, domainId: 'default' });
  project ??= await repos.identity.createProject({
    name: opts.adminProject,
    description: 'Kestrel administrators',
  });
  const existing = await repos.identity.findUser({ name: opts.adminUser, domainId: 'default' });
  let password: string | undefined;
  let userId: string;
  if (existing) {
    userId = existing.id;
  } else {
    password = opts.adminPassword ?? randomBytes(18).toString('base64url');
    userId = (
      await repos.identity.createUser({ name: opts.adminUser, password, defaultProjectId: project.id })
    ).id;
  }
  for (const r of ROLES) await repos.identity.assignRole(userId, project.id, roles.get(r)!);
  if (!existing && opts.flavors !== false) {
    for (const f of DEFAULT_FLAVORS) {
      if (await repos.flavors.get(f.id)) continue;
      if (await repos.flavors.findByName(f.name)) continue;
      await repos.flavors.create({ ...f, ephemeralGb: 0, swapMb: 0, rxtxFactor: 1, isPublic: true });
    }
  }
  return { created: !existing, adminUserId: userId, adminProjectId: project.id, password };
}
