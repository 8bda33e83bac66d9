// `kestrel serve` all-in-one: the three APIs, the scheduler and this host's compute agent in
// one process. First start creates state_path, the database, the admin user and project
// (generated password, file mode 0600), <state_path>/clouds.yaml, the m1.* flavors, and a
// demo image when the test boot sector exists.
import { chmodSync, createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { KestrelConfig } from '../config/index.js';
import { openDatabase, type OpenedDatabase } from '../db/index.js';
import type { HypervisorDriver } from '../virt/driver.js';
import { createStorage, type Storage, type StorageTestHooks } from './storage.js';
import type { Endpoints } from '../control/identity.js';
import type { RequestContext } from '../control/context.js';
import { silentLogger, type Logger } from '../util/log.js';
import { bootstrap } from './bootstrap.js';
import { cloudsYaml, readCloudsPassword, writeSecretFile } from './clouds.js';
import { createCore, type Core } from './core.js';
import { ConsoleProxy } from '../console/proxy.js';
import { createDefaultNetwork } from './default-network.js';

export interface ServeOptions {
  config: KestrelConfig;
  driver: HypervisorDriver;
  logger?: Logger;
  /** Port overrides (0 = any free port), e.g. for tests. */
  ports?: {
    identity?: number;
    compute?: number;
    image?: number;
    novnc?: number;
    serial?: number;
    network?: number;
  };
  /** Where a demo image is looked for (default $KESTREL_TEST_IMAGES or /var/cache/kestrel/test-images). */
  testImagesDir?: string;
  /** Seconds the manager waits for a guest's "started" event. */
  startedTimeoutMs?: number;
  /** Test-only storage seams (LVM device paths on a machine without device-mapper). */
  storageHooks?: StorageTestHooks;
}

export interface RunningService {
  core: Core;
  db: OpenedDatabase;
  endpoints: Endpoints;
  statePath: string;
  cloudsFile: string;
  passwordFile: string;
  firstStart: boolean;
  demoImage?: string;
  /** Image store, image cache and disk backend as configured. */
  storage: Storage;
  /** The console proxy's base URLs (unset: that console is disabled). */
  consoleUrls: { novnc?: string; serial?: string };
  stop(): Promise<void>;
}

function hostForUrl(listen: string, publicHost: string | null): string {
  const wildcard = listen === '0.0.0.0' || listen === '::' || listen === '';
  let host = publicHost ?? (wildcard ? '127.0.0.1' : listen);
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return host;
}

export async function startService(o: ServeOptions): Promise<RunningService> {
  const log = o.logger ?? silentLogger;
  const c = o.config;
  const statePath = c.DEFAULT.state_path;
  const instancesPath = c.DEFAULT.instances_path;
  // QEMU (another user) must reach the disks under instances_path: directories on the way are
  // traversable (0711) but not listable; secrets inside are 0600 files.
  mkdirSync(statePath, { recursive: true, mode: 0o711 });
  chmodSync(statePath, 0o711);
  mkdirSync(instancesPath, { recursive: true, mode: 0o711 });

  const db = await openDatabase({ connection: c.database.connection || undefined, statePath });
  const sqliteFile = join(statePath, 'kestrel.sqlite');
  // Password hashes and token hashes live there: owner only (SQLite's -wal/-shm follow it).
  if (db.kind === 'sqlite' && existsSync(sqliteFile)) chmodSync(sqliteFile, 0o600);
  // Image store, image cache and disk backend from [image_store], [glance] and [libvirt]
  // images_type (storage.ts); image locations come from the image records once the core is up.
  const bound: { core?: Core } = {};
  const storage = createStorage({
    config: c,
    logger: log,
    hooks: o.storageHooks,
    locationsOf: async (id) => {
      const loc = (await bound.core?.repos.images.get(id))?.location;
      return loc ? [loc] : [];
    },
  });
  const { imageStore: store, cache, disks } = storage;

  const urlHost = hostForUrl(c.api.listen_host, c.api.public_host ?? null);
  const endpoints: Endpoints = { identity: '', compute: '', image: '', region: c.api.region_name };
  // The proxy's listeners bind after the core is up; URLs are built when a console is asked for.
  const consoleUrls: { novnc?: string; serial?: string } = {};
  const consoleProblems: { novnc?: string; serial?: string } = {};
  const net = c.network;
  const core = await createCore({
    consoles:
      c.vnc.enabled || c.serial_console.enabled
        ? {
            vncEnabled: c.vnc.enabled,
            serialEnabled: c.serial_console.enabled,
            tokenTtlSeconds: c.consoleauth.token_ttl,
            baseUrl: (kind) =>
              consoleUrls[kind] ?? {
                problem: consoleProblems[kind] ?? 'the console proxy is not listening yet',
              },
            vncProxyclientAddress: c.vnc.server_proxyclient_address,
          }
        : undefined,
    db,
    driver: o.driver,
    imageStore: store,
    disks,
    hostName: c.DEFAULT.host,
    instancesPath,
    endpoints: () => endpoints,
    cpuSets: {
      dedicatedSet: c.compute.cpu_dedicated_set ?? undefined,
      sharedSet: c.compute.cpu_shared_set ?? undefined,
      reservedHugePages: c.DEFAULT.reserved_huge_pages as { node: string; size: string; count: string }[],
    },
    ratios: {
      cpu: c.DEFAULT.cpu_allocation_ratio ?? c.DEFAULT.initial_cpu_allocation_ratio,
      ram: c.DEFAULT.ram_allocation_ratio ?? c.DEFAULT.initial_ram_allocation_ratio,
      disk: c.DEFAULT.disk_allocation_ratio ?? c.DEFAULT.initial_disk_allocation_ratio,
      reservedHostMemoryMb: c.DEFAULT.reserved_host_memory_mb,
      reservedHostDiskMb: c.DEFAULT.reserved_host_disk_mb,
    },
    logger: log,
    hostIp: c.DEFAULT.my_ip,
    heartbeatSeconds: c.DEFAULT.report_interval,
    serviceDownTime: c.DEFAULT.service_down_time,
    shelvedOffloadTime: c.DEFAULT.shelved_offload_time,
    reclaimInstanceInterval: c.DEFAULT.reclaim_instance_interval,
    startedTimeoutMs: o.startedTimeoutMs,
    machineTypes: { ...c.libvirt.hw_machine_type },
    diskCapacity: storage.backend.capabilities.ownCapacity ? () => storage.backend.capacity() : undefined,
    imageDisplay: {
      showDirectUrl: c.image_store.show_image_direct_url,
      showMultipleLocations: c.image_store.show_multiple_locations,
    },
    configDrive: {
      force: c.DEFAULT.force_config_drive,
      format: c.DEFAULT.config_drive_format as 'iso9660' | 'vfat',
      mkisofs: c.DEFAULT.mkisofs_cmd,
      dhcpDomain: c.api.dhcp_domain ?? '',
    },
    bootImages: cache,
    network: net.enabled
      ? { table: net.nft_table, bridgePrefix: net.bridge_prefix, stateDir: net.state_dir }
      : undefined,
  });
  bound.core = core;
  // Bridges, dnsmasq and nftables as the database says, before any guest is looked at.
  try {
    await core.syncNetwork();
  } catch (e) {
    await core.close();
    await db.close();
    throw new Error(
      `cannot set up guest networking: ${e instanceof Error ? e.message : String(e)}. Fix: install dnsmasq-base and nftables (npm run setup) and run as root, or set [network] enabled = false.`,
    );
  }
  await core.manager.reconcile(cache);

  const cloudsFile = join(statePath, 'clouds.yaml');
  const passwordFile = join(statePath, 'admin-password');
  // A configured admin_password is used as given; the built-in default is replaced by a
  // generated one on first start (never a well-known password on a fresh install).
  const configured =
    c.api.admin_password && c.api.admin_password !== 'admin' ? c.api.admin_password : undefined;
  const boot = await bootstrap(core.repos, {
    adminUser: c.api.admin_user,
    adminProject: c.api.admin_project,
    adminPassword: configured,
  });
  const password = boot.password ?? configured ?? readCloudsPassword(cloudsFile);
  if (boot.password) writeSecretFile(passwordFile, `${boot.password}\n`);

  const listen = async (app: Core['apps']['identity'], port: number) => {
    await app.listen({ host: c.api.listen_host, port });
    return (app.server.address() as AddressInfo).port;
  };
  let ports: { identity: number; compute: number; image: number; network?: number };
  try {
    ports = {
      identity: await listen(core.apps.identity, o.ports?.identity ?? c.api.identity_port),
      compute: await listen(core.apps.compute, o.ports?.compute ?? c.api.compute_port),
      image: await listen(core.apps.image, o.ports?.image ?? c.api.image_port),
      ...(core.apps.network
        ? { network: await listen(core.apps.network, o.ports?.network ?? c.api.network_port) }
        : {}),
    };
  } catch (e) {
    await core.close();
    await db.close();
    const err = e as NodeJS.ErrnoException;
    throw new Error(
      err.code === 'EADDRINUSE'
        ? `cannot listen: ${err.message}. Fix: stop the other service on that port, or set [api] identity_port / compute_port / image_port / network_port.`
        : `cannot listen on ${c.api.listen_host}: ${err.message}`,
    );
  }
  endpoints.identity = `http://${urlHost}:${ports.identity}/v3`;
  endpoints.compute = `http://${urlHost}:${ports.compute}/v2.1`;
  endpoints.image = `http://${urlHost}:${ports.image}`;
  if (ports.network) endpoints.network = `http://${urlHost}:${ports.network}`;
  if (password) {
    writeSecretFile(
      cloudsFile,
      cloudsYaml({
        authUrl: endpoints.identity,
        username: c.api.admin_user,
        password,
        projectName: c.api.admin_project,
        region: c.api.region_name,
      }),
    );
  }

  const proxy = new ConsoleProxy({
    repos: core.repos,
    agents: core.agents,
    contextFor: (token) => core.identity.contextFor(token, 'req-console-proxy'),
    allowedOrigins: c.console.allowed_origins,
    log,
  });
  // A port taken by another process disables that console (the API then says why) rather
  // than the whole service: the APIs and running guests matter more than a console.
  const listenProxy = async (
    kind: 'novnc' | 'serial',
    host: string,
    port: number,
    base: string | null,
    page: string,
  ) => {
    try {
      const bound = await proxy.listen(kind, host, port);
      consoleUrls[kind] = base ?? `http://${hostForUrl(host, c.api.public_host ?? null)}:${bound}${page}`;
    } catch (err) {
      consoleProblems[kind] =
        `the ${kind} console proxy cannot listen on ${host}:${port} (${(err as Error).message}); fix: free the port or set ${kind === 'novnc' ? '[vnc] novncproxy_port' : '[serial_console] serialproxy_port'}`;
      log.warn({ err }, consoleProblems[kind]);
    }
  };
  if (c.vnc.enabled) {
    await listenProxy(
      'novnc',
      c.vnc.novncproxy_host,
      o.ports?.novnc ?? c.vnc.novncproxy_port,
      c.vnc.novncproxy_base_url,
      '/vnc_lite.html',
    );
  }
  if (c.serial_console.enabled) {
    const sc = c.serial_console;
    await listenProxy(
      'serial',
      sc.serialproxy_host,
      o.ports?.serial ?? sc.serialproxy_port,
      sc.base_url,
      '/',
    );
  }

  if (boot.created && core.network && net.default_network) {
    await createDefaultNetwork(
      core.network,
      adminContext(boot),
      { privateCidr: net.default_cidr, externalCidr: net.external_cidr },
      log,
    ).catch((err) =>
      log.warn(
        { err },
        'the default networks could not be created; create them with openstack network create',
      ),
    );
  }

  let demoImage: string | undefined;
  if (boot.created) {
    demoImage = await importDemoImage(core, boot, o.testImagesDir, log).catch((err) => {
      log.warn({ err }, 'demo image import failed');
      return undefined;
    });
  }

  return {
    core,
    db,
    endpoints,
    statePath,
    cloudsFile,
    passwordFile,
    firstStart: boot.created,
    demoImage,
    storage,
    consoleUrls,
    async stop() {
      await proxy.close();
      await core.close();
      await db.close();
    },
  };
}

function adminContext(boot: { adminUserId: string; adminProjectId: string }): RequestContext {
  return {
    userId: boot.adminUserId,
    userName: 'admin',
    projectId: boot.adminProjectId,
    projectName: 'admin',
    roles: ['admin', 'member', 'reader'],
    isAdmin: true,
    requestId: 'req-bootstrap',
  };
}

async function importDemoImage(
  core: Core,
  boot: { adminUserId: string; adminProjectId: string },
  dir: string | undefined,
  log: Logger,
): Promise<string | undefined> {
  const base = dir ?? process.env.KESTREL_TEST_IMAGES ?? '/var/cache/kestrel/test-images';
  const file = join(base, 'boot.img');
  if (!existsSync(file)) return undefined;
  const ctx = adminContext(boot);
  const img = await core.images.create(ctx, {
    name: 'boot-sector',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'public',
    description: 'a 512-byte boot sector that prints GUEST-BOOTED on the serial console',
  });
  await core.images.upload(ctx, img.id, createReadStream(file));
  log.info({ image: img.id }, 'imported the demo image boot-sector');
  return img.id;
}
