// The service without sockets: database repositories, identity, control services, the
// in-process compute agent for this host and the three fastify apps. `kestrel serve` adds
// listening, bootstrap and files; API tests use this directly with inject().
import type { FastifyInstance } from 'fastify';
import { Repositories, type OpenedDatabase } from '../db/index.js';
import type { HypervisorDriver } from '../virt/driver.js';
import type { ImageStore } from '../images/store/store.js';
import { ComputeManager } from '../compute/manager.js';
import type { ComputeAgent } from '../compute/agent.js';
import type { BaseImages, RootDisks } from '../compute/disks.js';
import { GuestFiles, type ConfigDrivePolicy } from '../compute/guest-files.js';
import { publishHost, defaultRatios, type AllocationRatios } from '../compute/resources.js';
import type { CpuSetOptions } from '../virt/numa/host.js';
import { IdentityService, type Endpoints } from '../control/identity.js';
import { FlavorService } from '../control/flavors.js';
import { ImageService } from '../control/images.js';
import { KeypairService } from '../control/keypairs.js';
import { ServerService } from '../control/servers.js';
import { ServerOperations } from '../control/server-ops.js';
import { LifecycleOperations } from '../compute/actions-lifecycle.js';
import { createComputeApp } from '../api/compute/app.js';
import { createImageApp } from '../api/image/app.js';
import { createIdentityApp } from '../api/identity/app.js';
import type { ApiDeps } from '../api/deps.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface CoreOptions {
  db: OpenedDatabase;
  driver: HypervisorDriver;
  imageStore: ImageStore;
  disks: RootDisks;
  hostName: string;
  instancesPath: string;
  endpoints: () => Endpoints;
  ratios?: AllocationRatios;
  logger?: Logger;
  tokenTtlSeconds?: number;
  startedTimeoutMs?: number;
  shutdownTimeoutSeconds?: number;
  maxImageSize?: number;
  bodyLimit?: number;
  hostIp?: string;
  /** Seconds between service heartbeats (default 10). */
  heartbeatSeconds?: number;
  /** [compute] cpu_dedicated_set / cpu_shared_set and [DEFAULT] reserved_huge_pages. */
  cpuSets?: CpuSetOptions;
  /** [libvirt] hw_machine_type: SEV requests are checked against it at the API (control/sev.ts). */
  machineTypes?: Record<string, string>;
  /** [DEFAULT] shelved_offload_time (default 0) and reclaim_instance_interval (default 0). */
  shelvedOffloadTime?: number;
  reclaimInstanceInterval?: number;
  /**
   * The instance disk storage's size when it is not the instances_path filesystem (images_type
   * lvm: the volume group; rbd: the Ceph cluster, as Nova reports), for DISK_GB.
   */
  diskCapacity?: () => Promise<{ totalBytes: number }>;
  /** [image_store] show_image_direct_url / show_multiple_locations. */
  imageDisplay?: ApiDeps['imageDisplay'];
  /** [DEFAULT] force_config_drive, config_drive_format, mkisofs_cmd, [api] dhcp_domain (default: drives only when asked). */
  configDrive?: ConfigDrivePolicy;
  /** The image cache, for AMI-style images' kernel_id / ramdisk_id (without it they are refused). */
  bootImages?: BaseImages;
}

export interface Core {
  repos: Repositories;
  manager: ComputeManager;
  agents: Map<string, ComputeAgent>;
  identity: IdentityService;
  servers: ServerService;
  serverOps: ServerOperations;
  images: ImageService;
  apps: { identity: FastifyInstance; compute: FastifyInstance; image: FastifyInstance };
  /** Re-reads the host's status and republishes its inventories and traits. */
  refreshHost(): Promise<void>;
  close(): Promise<void>;
}

export async function createCore(o: CoreOptions): Promise<Core> {
  const log = o.logger ?? silentLogger;
  const repos = new Repositories(o.db.db);
  const manager = new ComputeManager({
    repos,
    driver: o.driver,
    disks: o.disks,
    imageStore: o.imageStore,
    host: o.hostName,
    instancesPath: o.instancesPath,
    logger: log,
    startedTimeoutMs: o.startedTimeoutMs,
    shutdownTimeoutSeconds: o.shutdownTimeoutSeconds,
    guestFiles: new GuestFiles(repos, o.instancesPath, o.configDrive, o.bootImages),
  });
  const agents = new Map<string, ComputeAgent>([[o.hostName, manager]]);
  const identity = new IdentityService(repos, o.endpoints, o.tokenTtlSeconds);
  const flavors = new FlavorService(repos);
  const images = new ImageService(repos, o.imageStore, { maxImageSize: o.maxImageSize ?? 1024 ** 4 });
  const keypairs = new KeypairService(repos);
  const servers = new ServerService(repos, flavors, images, agents, {
    logger: log,
    sevDefaults: { machineTypes: o.machineTypes },
  });
  const serverOps = new ServerOperations(repos, servers, images, [new LifecycleOperations(manager)], {
    logger: log,
    sev: { machineTypes: o.machineTypes },
    shelvedOffloadTime: o.shelvedOffloadTime,
    reclaimInstanceInterval: o.reclaimInstanceInterval,
  });

  const refreshHost = async () => {
    const status = await o.driver.hostStatus();
    if (o.diskCapacity) {
      try {
        status.localDiskGb = Math.floor((await o.diskCapacity()).totalBytes / 1024 ** 3);
      } catch (err) {
        log.warn({ err }, 'cannot read the disk backend capacity; DISK_GB keeps the instances_path size');
      }
    }
    await publishHost(repos, status, o.ratios ?? defaultRatios, o.hostName, o.cpuSets);
  };
  await refreshHost();
  const beat = async () => {
    await repos.services.heartbeat(o.hostName, 'nova-compute', 'compute', 'nova');
    await repos.services.heartbeat(o.hostName, 'nova-scheduler', 'scheduler', 'internal');
    await repos.services.heartbeat(o.hostName, 'nova-conductor', 'conductor', 'internal');
  };
  await beat();
  const heartbeat = setInterval(
    () => {
      beat().catch((err) => log.warn({ err }, 'service heartbeat failed'));
    },
    (o.heartbeatSeconds ?? 10) * 1000,
  );
  heartbeat.unref();
  manager.start();
  await serverOps.start();

  const deps: ApiDeps = {
    repos,
    identity,
    flavors,
    servers,
    serverOps,
    images,
    keypairs,
    agents,
    endpoints: o.endpoints,
    logger: log,
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    hostIp: o.hostIp ?? '127.0.0.1',
    startedAt: Date.now(),
    imageDisplay: o.imageDisplay,
  };
  const apps = {
    identity: createIdentityApp(deps),
    compute: createComputeApp(deps),
    image: createImageApp(deps),
  };
  return {
    repos,
    manager,
    agents,
    identity,
    servers,
    serverOps,
    images,
    apps,
    refreshHost,
    async close() {
      clearInterval(heartbeat);
      await Promise.all([apps.identity.close(), apps.compute.close(), apps.image.close()]);
      await servers.settle();
      await serverOps.stop();
      await manager.stop();
    },
  };
}
