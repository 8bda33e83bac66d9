// The Networking v2 service: one object holding each resource's operations, sharing one
// NetworkContext (repositories, visibility, the push to the hosts' data planes).
import type { Repositories } from '../../db/index.js';
import type { HostNetworkState } from '../../network/contract.js';
import { NetworkContext, type NetworkContextOptions } from './context.js';
import { FloatingIps } from './floating-ips.js';
import { hostState } from './host-state.js';
import { Networks } from './networks.js';
import { Ports } from './ports.js';
import { Quotas } from './quotas.js';
import { Routers } from './routers.js';
import { SecurityGroups } from './security-groups.js';
import { ServerPorts } from './server-ports.js';

export class NetworkService {
  readonly nc: NetworkContext;
  readonly quotas: Quotas;
  readonly networks: Networks;
  readonly ports: Ports;
  readonly securityGroups: SecurityGroups;
  readonly routers: Routers;
  readonly floatingIps: FloatingIps;
  readonly servers: ServerPorts;

  constructor(repos: Repositories, opts: NetworkContextOptions) {
    this.nc = new NetworkContext(repos, opts);
    this.quotas = new Quotas(this.nc);
    this.ports = new Ports(this.nc, this.quotas, () => this.securityGroups);
    this.networks = new Networks(this.nc, this.quotas, () => this.ports);
    this.securityGroups = new SecurityGroups(this.nc, this.quotas, () => this.ports);
    this.routers = new Routers(this.nc, this.quotas, this.ports);
    this.floatingIps = new FloatingIps(this.nc, this.quotas, this.ports, this.routers);
    this.servers = new ServerPorts(this.nc, this.ports);
  }

  /** Everything every host must carry (start-up reconciliation). */
  hostState(): Promise<HostNetworkState> {
    return hostState(this.nc);
  }
}
