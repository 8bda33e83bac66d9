// The service without sockets: database repositories, identity, control services, the
// compute agent for this host (in-process, or behind the JSON loopback) registered in the
// agent directory, and the three fastify apps. `kestrel serve` adds
// listening, bootstrap and files; API tests use this directly with inject().
import type { FastifyInstance } from 'fastify';
import { Repositories, type OpenedDatabase } from '../db/index.js';
import type { HypervisorDriver } from '../virt/driver.js';
import type { ImageStore } from '../images/store/store.js';
import { ComputeManager } from '../compute/manager.js';
import type { ComputeAgent } from '../compute/contract/agent.js';
import { LoopbackAgent } from '../compute/contract/loopback.js';
import { jsonReportSink } from '../compute/contract/transport.js';
import { LocalAgent } from '../compute/local-agent.js';
import { AgentDirectory } from '../control/agent-directory.js';
import type { BaseImages, RootDisks } from '../compute/disks.js';
import { GuestFiles, type ConfigDrivePolicy } from '../compute/guest-files.js';
import { defaultRatios, type AllocationRatios } from '../compute/resources.js';
import type { CpuSetOptions } from '../virt/numa/host.js';
import { IdentityService, type Endpoints } from '../control/identity.js';
import { FlavorService } from '../control/flavors.js';
import { ImageService } from '../control/images.js';
import { KeypairService } from '../control/keypairs.js';
import { ServerService } from '../control/servers.js';
import { ServerOperations } from '../control/server-ops.js';
import { ConsoleService, type ConsoleOptions } from '../control/server-consoles.js';
import { createComputeApp } from '../api/compute/app.js';
import { createImageApp } from '../api/image/app.js';
import { createIdentityApp } from '../api/identity/app.js';
import { createNetworkApp } from '../api/network/app.js';
import { NetworkService } from '../control/network/service.js';
import { HostNetwork } from '../network/host-network.js';
import { bridgeName, tapName } from '../network/names.js';
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
  /** [DEFAULT] service_down_time: seconds without a heartbeat before a service is down (default 60). */
  serviceDownTime?: number;
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
  /** Remote consoles ([vnc], [serial_console], [consoleauth]); unset: none are served. */
  consoles?: ConsoleOptions & { vncProxyclientAddress?: string };
  /** [image_store] show_image_direct_url / show_multiple_locations. */
  imageDisplay?: ApiDeps['imageDisplay'];
  /** [DEFAULT] force_config_drive, config_drive_format, mkisofs_cmd, [api] dhcp_domain (default: drives only when asked). */
  configDrive?: ConfigDrivePolicy;
  /** The image cache, for AMI-style images' kernel_id / ramdisk_id (without it they are refused). */
  bootImages?: BaseImages;
  /**
   * How control reaches this host's agent: 'in-process' (the default, direct calls) or
   * 'loopback' (every call, reply, error and report through JSON: proves the contract).
   */
  agentTransport?: AgentTransportKind;
  /** Guest networking ([network] enabled): the Networking API and this host's data plane. */
  network?: { table: string; bridgePrefix: string; stateDir: string };
}

export type AgentTransportKind = 'in-process' | 'loopback';
export const AGENT_TRANSPORTS: readonly AgentTransportKind[] = ['in-process', 'loopback'];

export interface Core {
  repos: Repositories;
  manager: ComputeManager;
  /** This host's compute agent itself (what a transport serves). */
  localAgent: LocalAgent;
  /** Host → agent as control reaches it, with liveness. */
  agents: AgentDirectory;
  identity: IdentityService;
  servers: ServerService;
  serverOps: ServerOperations;
  images: ImageService;
  apps: {
    identity: FastifyInstance;
    compute: FastifyInstance;
    image: FastifyInstance;
    network?: FastifyInstance;
  };
  /** The Networking v2 service, when networking is on. */
  network?: NetworkService;
  /** Makes every host's network data plane match the database (start-up). */
  syncNetwork(): Promise<void>;
  /** Asks this host's agent for its report: republishes inventories, traits and host facts. */
  refreshHost(): Promise<void>;
  /** Waits for background work: control's, and the operations of this host's agent. */
  settle(): Promise<void>;
  /** Reaches this host's agent through another transport from now on (benchmarks compare them). */
  useAgentTransport(kind: AgentTransportKind): void;
  close(): Promise<void>;
}

export async function createCore(o: CoreOptions): Promise<Core> {
  const log = o.logger ?? silentLogger;
  const repos = new Repositories(o.db.db);
  const agents = new AgentDirectory(repos, o.serviceDownTime);
  const net = o.network;
  const network = net
    ? new NetworkService(repos, {
        hosts: () => agents.all(),
        bridgePrefix: net.bridgePrefix,
        logger: log,
      })
    : undefined;
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
    vncProxyclientAddress: o.consoles?.vncProxyclientAddress,
    nicsFor: network
      ? async (uuid) =>
          (await network.servers.nics(uuid)).map((n) => ({
            bridge: bridgeName(net!.bridgePrefix, n.networkId),
            tap: tapName(n.portId),
            mac: n.mac,
          }))
      : undefined,
  });
  const localAgent = new LocalAgent({
    manager,
    repos,
    driver: o.driver,
    ratios: o.ratios ?? defaultRatios,
    cpuSets: o.cpuSets,
    diskCapacity: o.diskCapacity,
    reports: agents.report,
    network: net
      ? new HostNetwork({
          table: net.table,
          bridgePrefix: net.bridgePrefix,
          stateDir: net.stateDir,
          logger: log,
        })
      : undefined,
    logger: log,
  });
  let agent: ComputeAgent = localAgent;
  const useAgentTransport = (kind: AgentTransportKind) => {
    const loopback = kind === 'loopback';
    localAgent.reportTo(loopback ? jsonReportSink(agents.report) : agents.report);
    agent = loopback ? new LoopbackAgent(localAgent) : localAgent;
    agents.register(agent);
  };
  useAgentTransport(o.agentTransport ?? 'in-process');
  const identity = new IdentityService(repos, o.endpoints, o.tokenTtlSeconds);
  const flavors = new FlavorService(repos);
  const images = new ImageService(repos, o.imageStore, { maxImageSize: o.maxImageSize ?? 1024 ** 4 });
  const keypairs = new KeypairService(repos);
  const consoles = o.consoles ? new ConsoleService(repos, agents, o.consoles) : undefined;
  const servers = new ServerService(repos, flavors, images, agents, {
    logger: log,
    sevDefaults: { machineTypes: o.machineTypes },
    network: network?.servers,
  });
  const serverOps = new ServerOperations(repos, servers, images, agents, {
    logger: log,
    consoles,
    network: network?.servers,
    sev: { machineTypes: o.machineTypes },
    shelvedOffloadTime: o.shelvedOffloadTime,
    reclaimInstanceInterval: o.reclaimInstanceInterval,
  });

  const refreshHost = async () => {
    await agent.hostReport({});
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

  const settle = async () => {
    await servers.settle();
    await serverOps.settle();
    await localAgent.settle();
  };

  const deps: ApiDeps = {
    repos,
    identity,
    flavors,
    servers,
    serverOps,
    consoles,
    images,
    keypairs,
    endpoints: o.endpoints,
    logger: log,
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    hostIp: o.hostIp ?? '127.0.0.1',
    serviceDownTime: o.serviceDownTime,
    startedAt: Date.now(),
    imageDisplay: o.imageDisplay,
  };
  const apps = {
    identity: createIdentityApp(deps),
    compute: createComputeApp(deps),
    image: createImageApp(deps),
    ...(network ? { network: createNetworkApp(deps, network) } : {}),
  };
  const syncNetwork = async () => {
    if (!network) return;
    const state = await network.hostState();
    for (const agent of agents.all()) {
      const report = await agent.networkSync(state);
      log.info({ host: agent.host, ...report }, 'network data plane reconciled with the database');
    }
  };
  return {
    repos,
    manager,
    localAgent,
    agents,
    identity,
    servers,
    serverOps,
    images,
    apps,
    network,
    syncNetwork,
    refreshHost,
    settle,
    useAgentTransport,
    async close() {
      clearInterval(heartbeat);
      await Promise.all([
        apps.identity.close(),
        apps.compute.close(),
        apps.image.close(),
        apps.network?.close(),
      ]);
      await settle();
      await serverOps.stop();
      await localAgent.settle();
      await manager.stop();
    },
  };
}
