// Identity administration subcommands, thin clients of the Identity v3 API (admin only):
//   kestrel project create|list|show|set|delete
//   kestrel user create|list|show|set|delete
//   kestrel role list|show|add|remove, kestrel role assignment list
// Credentials as for every API command: OS_* variables or clouds.yaml (cloud "kestrel").
import type { Command } from 'commander';
import { ApiError, type KestrelClient } from '../../client/client.js';
import {
  api,
  apiClient as client,
  fields as fieldsOf,
  print,
  table,
  withCommon,
  type CommonOptions,
  type Row,
} from '../api-command.js';
import { UserError } from '../user-error.js';

type Common = CommonOptions;
type Kind = 'projects' | 'users' | 'roles';
const SINGULAR: Record<Kind, string> = { projects: 'project', users: 'user', roles: 'role' };

/** Runs the command's API calls; an API refusal becomes one line with its status. */
async function run(o: Common, fn: (c: KestrelClient) => Promise<void>): Promise<void> {
  await api(() => fn(client(o)));
}

/** Identity objects are shown without their links. */
const fields = (obj: Row): string => fieldsOf(obj, ['links']);

/** A project, user or role by id, else by name (as openstack's find does). */
async function find(c: KestrelClient, kind: Kind, ref: string): Promise<Row> {
  const one = SINGULAR[kind];
  try {
    return (await c.call<Record<string, Row>>('identity', 'GET', `/${kind}/${encodeURIComponent(ref)}`))[one];
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const list = (
    await c.call<Record<string, Row[]>>('identity', 'GET', `/${kind}?name=${encodeURIComponent(ref)}`)
  )[kind];
  if (list.length === 1) return list[0];
  throw new UserError(
    list.length ? `more than one ${one} is named ${ref}; use its id` : `no ${one} named or with id ${ref}`,
  );
}

function enabledFrom(o: { enable?: boolean; disable?: boolean }): boolean | undefined {
  if (o.enable && o.disable) throw new UserError('--enable and --disable contradict each other; give one');
  return o.enable ? true : o.disable ? false : undefined;
}

function registerProject(program: Command): void {
  const project = program.command('project').description('manage projects (Identity API, admin)');
  type SetOpts = Common & { name?: string; description?: string; enable?: boolean; disable?: boolean };
  withCommon(project.command('create <name>').description('create a project'))
    .option('--description <text>', 'description')
    .option('--disable', 'create it disabled')
    .action(async (name: string, o: SetOpts) =>
      run(o, async (c) => {
        const r = await c.call<{ project: Row }>('identity', 'POST', '/projects', {
          project: { name, description: o.description ?? '', enabled: !o.disable },
        });
        print(o, r.project, () => fields(r.project));
      }),
    );
  withCommon(project.command('list').description('list projects')).action(async (o: Common) =>
    run(o, async (c) => {
      const r = await c.call<{ projects: Row[] }>('identity', 'GET', '/projects');
      print(o, r.projects, () => table(r.projects, ['id', 'name', 'enabled', 'description']));
    }),
  );
  withCommon(project.command('show <project>').description('show a project')).action(
    async (ref: string, o: Common) =>
      run(o, async (c) => {
        const p = await find(c, 'projects', ref);
        print(o, p, () => fields(p));
      }),
  );
  withCommon(project.command('set <project>').description('rename, describe, enable or disable a project'))
    .option('--name <name>', 'new name')
    .option('--description <text>', 'new description')
    .option('--enable', 'enable')
    .option('--disable', 'disable (its tokens stop working at once)')
    .action(async (ref: string, o: SetOpts) =>
      run(o, async (c) => {
        const p = await find(c, 'projects', ref);
        const r = await c.call<{ project: Row }>('identity', 'PATCH', `/projects/${String(p.id)}`, {
          project: { name: o.name, description: o.description, enabled: enabledFrom(o) },
        });
        print(o, r.project, () => fields(r.project));
      }),
    );
  withCommon(
    project
      .command('delete <project>')
      .description('delete a project (refused while it owns servers or images)'),
  ).action(async (ref: string, o: Common) =>
    run(o, async (c) => {
      const p = await find(c, 'projects', ref);
      await c.call('identity', 'DELETE', `/projects/${String(p.id)}`);
      print(o, { deleted: p.id }, () => `deleted project ${String(p.name)} (${String(p.id)})`);
    }),
  );
}

function registerUser(program: Command): void {
  const user = program.command('user').description('manage users (Identity API, admin)');
  type UserOpts = Common & {
    name?: string;
    password?: string;
    project?: string;
    enable?: boolean;
    disable?: boolean;
  };
  withCommon(user.command('create <name>').description('create a user'))
    .requiredOption('--password <password>', 'its password')
    .option('--project <project>', 'default project (name or id); grant a role there with `kestrel role add`')
    .option('--disable', 'create it disabled')
    .action(async (name: string, o: UserOpts) =>
      run(o, async (c) => {
        const project = o.project ? String((await find(c, 'projects', o.project)).id) : undefined;
        const r = await c.call<{ user: Row }>('identity', 'POST', '/users', {
          user: { name, password: o.password, default_project_id: project, enabled: !o.disable },
        });
        print(o, r.user, () => fields(r.user));
      }),
    );
  withCommon(user.command('list').description('list users')).action(async (o: Common) =>
    run(o, async (c) => {
      const r = await c.call<{ users: Row[] }>('identity', 'GET', '/users');
      print(o, r.users, () => table(r.users, ['id', 'name', 'enabled', 'default_project_id']));
    }),
  );
  withCommon(user.command('show <user>').description('show a user')).action(async (ref: string, o: Common) =>
    run(o, async (c) => {
      const u = await find(c, 'users', ref);
      print(o, u, () => fields(u));
    }),
  );
  withCommon(user.command('set <user>').description('rename a user, change its password or default project'))
    .option('--name <name>', 'new name')
    .option('--password <password>', 'new password (its tokens stop working at once)')
    .option('--project <project>', 'new default project (name or id)')
    .option('--enable', 'enable')
    .option('--disable', 'disable (its tokens stop working at once)')
    .action(async (ref: string, o: UserOpts) =>
      run(o, async (c) => {
        const u = await find(c, 'users', ref);
        const project = o.project ? String((await find(c, 'projects', o.project)).id) : undefined;
        const r = await c.call<{ user: Row }>('identity', 'PATCH', `/users/${String(u.id)}`, {
          user: { name: o.name, password: o.password, default_project_id: project, enabled: enabledFrom(o) },
        });
        print(o, r.user, () => fields(r.user));
      }),
    );
  withCommon(
    user.command('delete <user>').description('delete a user (its tokens stop working at once)'),
  ).action(async (ref: string, o: Common) =>
    run(o, async (c) => {
      const u = await find(c, 'users', ref);
      await c.call('identity', 'DELETE', `/users/${String(u.id)}`);
      print(o, { deleted: u.id }, () => `deleted user ${String(u.name)} (${String(u.id)})`);
    }),
  );
}

function registerRole(program: Command): void {
  const role = program
    .command('role')
    .description('roles admin, member, reader and their assignments (admin)');
  type GrantOpts = Common & { project: string; user: string };
  withCommon(role.command('list').description('list roles')).action(async (o: Common) =>
    run(o, async (c) => {
      const r = await c.call<{ roles: Row[] }>('identity', 'GET', '/roles');
      print(o, r.roles, () => table(r.roles, ['id', 'name', 'description']));
    }),
  );
  withCommon(role.command('show <role>').description('show a role')).action(async (ref: string, o: Common) =>
    run(o, async (c) => {
      const r = await find(c, 'roles', ref);
      print(o, r, () => fields(r));
    }),
  );
  const grantPath = async (c: KestrelClient, ref: string, o: GrantOpts) => {
    const [p, u, r] = [
      await find(c, 'projects', o.project),
      await find(c, 'users', o.user),
      await find(c, 'roles', ref),
    ];
    return {
      path: `/projects/${String(p.id)}/users/${String(u.id)}/roles/${String(r.id)}`,
      text: `${String(r.name)} for user ${String(u.name)} on project ${String(p.name)}`,
    };
  };
  withCommon(role.command('add <role>').description('grant a role to a user on a project'))
    .requiredOption('--project <project>', 'project (name or id)')
    .requiredOption('--user <user>', 'user (name or id)')
    .action(async (ref: string, o: GrantOpts) =>
      run(o, async (c) => {
        const g = await grantPath(c, ref, o);
        await c.call('identity', 'PUT', g.path);
        print(o, { granted: g.path }, () => `granted ${g.text}`);
      }),
    );
  withCommon(
    role.command('remove <role>').description("revoke a user's role on a project (effective at once)"),
  )
    .requiredOption('--project <project>', 'project (name or id)')
    .requiredOption('--user <user>', 'user (name or id)')
    .action(async (ref: string, o: GrantOpts) =>
      run(o, async (c) => {
        const g = await grantPath(c, ref, o);
        await c.call('identity', 'DELETE', g.path);
        print(o, { revoked: g.path }, () => `revoked ${g.text}`);
      }),
    );
  const assignment = role.command('assignment').description('role assignments');
  withCommon(assignment.command('list').description('list role assignments'))
    .option('--project <project>', 'only on this project (name or id)')
    .option('--user <user>', 'only of this user (name or id)')
    .option('--role <role>', 'only this role (name or id)')
    .action(async (o: Common & { project?: string; user?: string; role?: string }) =>
      run(o, async (c) => {
        const q = new URLSearchParams({ include_names: 'true' });
        if (o.user) q.set('user.id', String((await find(c, 'users', o.user)).id));
        if (o.project) q.set('scope.project.id', String((await find(c, 'projects', o.project)).id));
        if (o.role) q.set('role.id', String((await find(c, 'roles', o.role)).id));
        const r = await c.call<{
          role_assignments: { role: Row; user: Row; scope: { project: Row } }[];
        }>('identity', 'GET', `/role_assignments?${q.toString()}`);
        const rows = r.role_assignments.map((a) => ({
          role: a.role.name,
          user: a.user.name,
          project: a.scope.project.name,
        }));
        print(o, r.role_assignments, () => table(rows, ['role', 'user', 'project']));
      }),
    );
}

export function registerIdentityCommands(program: Command): void {
  registerProject(program);
  registerUser(program);
  registerRole(program);
}
