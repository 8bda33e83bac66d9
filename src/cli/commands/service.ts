// API-client subcommands, thin clients of the REST API: `image create|list|show|delete`,
// `flavor create|list|show|set`, `server create|list|show|stop|start|reboot|console|delete`,
// `hypervisor show`. Credentials from OS_* variables or clouds.yaml (cloud "kestrel").
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { ApiError, type KestrelClient } from '../../client/client.js';
import {
  api,
  apiClient as client,
  fields,
  print,
  table,
  withCommon,
  type CommonOptions,
  type Row,
} from '../api-command.js';
import { UserError } from '../user-error.js';

type Common = CommonOptions;

function properties(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UserError(`--property ${p}: expected KEY=VALUE`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findImage(c: KestrelClient, ref: string): Promise<Row> {
  if (UUID.test(ref)) {
    try {
      return await c.call<Row>('image', 'GET', `/v2/images/${ref}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  const r = await c.call<{ images: Row[] }>('image', 'GET', `/v2/images?name=${encodeURIComponent(ref)}`);
  if (r.images.length === 1) return r.images[0];
  throw new UserError(
    r.images.length ? `more than one image is named ${ref}; use its id` : `no image named or with id ${ref}`,
  );
}

async function findFlavor(c: KestrelClient, ref: string): Promise<Row> {
  try {
    return (await c.call<{ flavor: Row }>('compute', 'GET', `/flavors/${encodeURIComponent(ref)}`)).flavor;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const all = (await c.call<{ flavors: Row[] }>('compute', 'GET', '/flavors/detail?is_public=None')).flavors;
  const f = all.find((x) => x.name === ref);
  if (!f) throw new UserError(`no flavor named or with id ${ref}`);
  return f;
}

async function findServer(c: KestrelClient, ref: string): Promise<Row> {
  if (UUID.test(ref)) {
    try {
      return (await c.call<{ server: Row }>('compute', 'GET', `/servers/${ref}`)).server;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  const esc = ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const all = (
    await c.call<{ servers: Row[] }>(
      'compute',
      'GET',
      `/servers/detail?name=${encodeURIComponent(`^${esc}$`)}`,
    )
  ).servers;
  if (all.length === 1) return all[0];
  throw new UserError(
    all.length ? `more than one server is named ${ref}; use its id` : `no server named or with id ${ref}`,
  );
}

async function waitServer(
  c: KestrelClient,
  id: string,
  want: (s: Row) => boolean,
  timeoutS: number,
): Promise<Row> {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    let s: Row;
    try {
      s = (await c.call<{ server: Row }>('compute', 'GET', `/servers/${id}`)).server;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return {};
      throw e;
    }
    if (s.status === 'ERROR') {
      const fault = s.fault as { message?: string } | undefined;
      throw new UserError(`server ${id} is in ERROR: ${fault?.message ?? 'no fault recorded'}`);
    }
    if (want(s)) return s;
    if (Date.now() > end)
      throw new UserError(`server ${id} is still ${String(s.status)} after ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function registerImage(image: Command): void {
  withCommon(image.command('create <name>').description('create an image and upload its data'))
    .requiredOption('--file <path>', 'image file to upload')
    .option('--disk-format <fmt>', 'qcow2, raw, …', 'qcow2')
    .option('--container-format <fmt>', 'container format', 'bare')
    .option('--property <key=value>', 'image property (repeatable)', collect)
    .option('--public', 'visible to every project (admin)')
    .action(
      async (
        name: string,
        o: Common & {
          file: string;
          diskFormat: string;
          containerFormat: string;
          property?: string[];
          public?: boolean;
        },
      ) => {
        const c = client(o);
        let size: number;
        try {
          size = statSync(o.file).size;
        } catch (e) {
          throw new UserError(`cannot read ${o.file}: ${(e as Error).message}`);
        }
        const img = await api(() =>
          c.call<Row>('image', 'POST', '/v2/images', {
            name,
            disk_format: o.diskFormat,
            container_format: o.containerFormat,
            ...(o.public ? { visibility: 'public' } : {}),
            ...properties(o.property),
          }),
        );
        const bar =
          process.stderr.isTTY && !o.json
            ? new cliProgress.SingleBar(
                { format: `${basename(o.file)} [{bar}] {percentage}% {value}/{total} bytes` },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
        bar?.start(size, 0);
        try {
          await api(() => c.upload(String(img.id), createReadStream(o.file), size, (n) => bar?.update(n)));
        } finally {
          bar?.stop();
        }
        const shown = await api(() => c.call<Row>('image', 'GET', `/v2/images/${String(img.id)}`));
        print(o, shown, () => fields(shown));
      },
    );
  withCommon(image.command('list').description('list images')).action(async (o: Common) => {
    const r = await api(() => client(o).call<{ images: Row[] }>('image', 'GET', '/v2/images'));
    print(o, r.images, () => table(r.images, ['id', 'name', 'status', 'disk_format', 'size']));
  });
  withCommon(image.command('show <image>').description('show an image')).action(
    async (ref: string, o: Common) => {
      const img = await api(() => findImage(client(o), ref));
      print(o, img, () => fields(img));
    },
  );
  withCommon(image.command('delete <image>').description('delete an image')).action(
    async (ref: string, o: Common) => {
      const c = client(o);
      const img = await api(() => findImage(c, ref));
      await api(() => c.call('image', 'DELETE', `/v2/images/${String(img.id)}`));
      print(o, { deleted: img.id }, () => `deleted image ${String(img.id)}`);
    },
  );
}

function registerFlavor(program: Command): void {
  const flavor = program.command('flavor').description('manage flavors (Compute API)');
  withCommon(flavor.command('create <name>').description('create a flavor (admin)'))
    .requiredOption('--ram <mb>', 'memory in MB')
    .requiredOption('--vcpus <n>', 'virtual CPUs')
    .option('--disk <gb>', 'root disk in GB', '1')
    .option('--id <id>', 'flavor id (default: a UUID)')
    .option('--property <key=value>', 'extra spec (repeatable)', collect)
    .action(
      async (
        name: string,
        o: Common & { ram: string; vcpus: string; disk: string; id?: string; property?: string[] },
      ) => {
        const c = client(o);
        const num = (v: string, what: string) => {
          if (!/^\d+$/.test(v)) throw new UserError(`--${what} ${v}: a whole number is needed`);
          return Number(v);
        };
        const f = await api(() =>
          c.call<{ flavor: Row }>('compute', 'POST', '/flavors', {
            flavor: {
              name,
              ram: num(o.ram, 'ram'),
              vcpus: num(o.vcpus, 'vcpus'),
              disk: num(o.disk, 'disk'),
              id: o.id ?? null,
            },
          }),
        );
        const specs = properties(o.property);
        let extra: Row = {};
        if (Object.keys(specs).length) {
          extra = (
            await api(() =>
              c.call<{ extra_specs: Row }>(
                'compute',
                'POST',
                `/flavors/${String(f.flavor.id)}/os-extra_specs`,
                { extra_specs: specs },
              ),
            )
          ).extra_specs;
        }
        const out = { ...f.flavor, properties: extra };
        print(o, out, () => fields(out));
      },
    );
  withCommon(flavor.command('list').description('list flavors')).action(async (o: Common) => {
    const r = await api(() =>
      client(o).call<{ flavors: Row[] }>('compute', 'GET', '/flavors/detail?is_public=None'),
    );
    print(o, r.flavors, () =>
      table(r.flavors, ['id', 'name', 'vcpus', 'ram', 'disk', 'os-flavor-access:is_public']),
    );
  });
  withCommon(flavor.command('show <flavor>').description('show a flavor and its extra specs')).action(
    async (ref: string, o: Common) => {
      const c = client(o);
      const f = await api(() => findFlavor(c, ref));
      const specs = (
        await api(() =>
          c.call<{ extra_specs: Row }>('compute', 'GET', `/flavors/${String(f.id)}/os-extra_specs`),
        )
      ).extra_specs;
      const out = { ...f, properties: specs };
      print(o, out, () => fields(out));
    },
  );
  withCommon(flavor.command('set <flavor>').description('set extra specs (admin)'))
    .requiredOption('--property <key=value>', 'extra spec (repeatable)', collect)
    .action(async (ref: string, o: Common & { property: string[] }) => {
      const c = client(o);
      const f = await api(() => findFlavor(c, ref));
      const r = await api(() =>
        c.call<{ extra_specs: Row }>('compute', 'POST', `/flavors/${String(f.id)}/os-extra_specs`, {
          extra_specs: properties(o.property),
        }),
      );
      print(o, r.extra_specs, () => fields(r.extra_specs));
    });
}

const SERVER_COLUMNS = ['id', 'name', 'status', 'OS-EXT-STS:power_state', 'OS-EXT-STS:task_state'];

function registerServer(program: Command): void {
  const server = program.command('server').description('manage servers (Compute API)');
  withCommon(server.command('create <name>').description('boot a server'))
    .requiredOption('--image <image>', 'image name or id')
    .requiredOption('--flavor <flavor>', 'flavor name or id')
    .option('--key-name <name>', 'keypair')
    .option('--property <key=value>', 'server metadata (repeatable)', collect)
    .option('--wait', 'wait until ACTIVE (or fail on ERROR)')
    .option('--timeout <seconds>', 'how long --wait waits', '600')
    .action(
      async (
        name: string,
        o: Common & {
          image: string;
          flavor: string;
          keyName?: string;
          property?: string[];
          wait?: boolean;
          timeout: string;
        },
      ) => {
        const c = client(o);
        const img = await api(() => findImage(c, o.image));
        const fl = await api(() => findFlavor(c, o.flavor));
        const r = await api(() =>
          c.call<{ server: Row }>('compute', 'POST', '/servers', {
            server: {
              name,
              imageRef: img.id,
              flavorRef: fl.id,
              ...(o.keyName ? { key_name: o.keyName } : {}),
              ...(o.property ? { metadata: properties(o.property) } : {}),
            },
          }),
        );
        const id = String(r.server.id);
        const s = o.wait
          ? await waitServer(c, id, (x) => x.status === 'ACTIVE', Number(o.timeout))
          : (await api(() => c.call<{ server: Row }>('compute', 'GET', `/servers/${id}`))).server;
        print(o, s, () => fields(s));
      },
    );
  withCommon(server.command('list').description('list servers')).action(async (o: Common) => {
    const r = await api(() => client(o).call<{ servers: Row[] }>('compute', 'GET', '/servers/detail'));
    print(o, r.servers, () => table(r.servers, SERVER_COLUMNS));
  });
  withCommon(server.command('show <server>').description('show a server')).action(
    async (ref: string, o: Common) => {
      const s = await api(() => findServer(client(o), ref));
      print(o, s, () => fields(s));
    },
  );
  const action = (
    cmd: string,
    desc: string,
    body: (o: Common & { hard?: boolean }) => unknown,
    done?: string,
  ) =>
    withCommon(server.command(`${cmd} <server>`).description(desc))
      .option('--wait', `wait until ${done ?? 'the action completes'}`)
      .option('--hard', 'hard reboot (reboot only)')
      .action(async (ref: string, o: Common & { hard?: boolean; wait?: boolean }) => {
        const c = client(o);
        const s = await api(() => findServer(c, ref));
        await api(() => c.call('compute', 'POST', `/servers/${String(s.id)}/action`, body(o)));
        if (o.wait) {
          await waitServer(
            c,
            String(s.id),
            (x) => x.status === (done ?? x.status) && x['OS-EXT-STS:task_state'] === null,
            600,
          );
        }
        print(o, { id: s.id, action: cmd }, () => `${cmd}: accepted for server ${String(s.id)}`);
      });
  action('stop', 'stop a server', () => ({ 'os-stop': null }), 'SHUTOFF');
  action('start', 'start a server', () => ({ 'os-start': null }), 'ACTIVE');
  action('reboot', 'reboot a server', (o) => ({ reboot: { type: o.hard ? 'HARD' : 'SOFT' } }), 'ACTIVE');
  withCommon(server.command('console <server>').description("show the server's serial console log"))
    .option('--lines <n>', 'only the last N lines')
    .action(async (ref: string, o: Common & { lines?: string }) => {
      const c = client(o);
      const s = await api(() => findServer(c, ref));
      const r = await api(() =>
        c.call<{ output: string }>('compute', 'POST', `/servers/${String(s.id)}/action`, {
          'os-getConsoleOutput': o.lines ? { length: Number(o.lines) } : {},
        }),
      );
      print(o, r, () => r.output);
    });
  withCommon(server.command('delete <server>').description('delete a server'))
    .option('--wait', 'wait until it is gone')
    .action(async (ref: string, o: Common & { wait?: boolean }) => {
      const c = client(o);
      const s = await api(() => findServer(c, ref));
      await api(() => c.call('compute', 'DELETE', `/servers/${String(s.id)}`));
      if (o.wait) await waitServer(c, String(s.id), () => false, 600);
      print(o, { deleted: s.id }, () => `deleted server ${String(s.id)}`);
    });
}

function registerHypervisor(program: Command): void {
  const hv = program.command('hypervisor').description('compute hosts (admin)');
  withCommon(hv.command('show [id]').description('show a hypervisor (default: the first)')).action(
    async (id: string | undefined, o: Common) => {
      const c = client(o);
      const all = (
        await api(() => c.call<{ hypervisors: Row[] }>('compute', 'GET', '/os-hypervisors/detail'))
      ).hypervisors;
      const h =
        id === undefined ? all[0] : all.find((x) => String(x.id) === id || x.hypervisor_hostname === id);
      if (!h) throw new UserError(id === undefined ? 'there are no hypervisors' : `no hypervisor ${id}`);
      print(o, h, () => fields(h));
    },
  );
}

export function registerServiceCommands(program: Command, image: Command): void {
  registerImage(image);
  registerFlavor(program);
  registerServer(program);
  registerHypervisor(program);
}
