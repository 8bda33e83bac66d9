// The repositories over one database handle (or one transaction).
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Db } from './util.js';
import { ConsoleTokenRepo } from './console-tokens.js';
import { IdentityRepo } from './identity.js';
import { FlavorRepo } from './flavors.js';
import { ImageRepo } from './images.js';
import { InstanceRepo } from './instances.js';
import { KeypairRepo } from './keypairs.js';
import { NumaRepo } from './numa.js';
import { PlacementRepo } from './placement.js';
import { ServiceRepo } from './services.js';
import { HostReportRepo } from './host-reports.js';
import { NetworkingRepo } from './networking.js';

export class Repositories {
  readonly identity: IdentityRepo;
  readonly flavors: FlavorRepo;
  readonly images: ImageRepo;
  readonly instances: InstanceRepo;
  readonly keypairs: KeypairRepo;
  readonly placement: PlacementRepo;
  readonly numa: NumaRepo;
  readonly services: ServiceRepo;
  readonly hostReports: HostReportRepo;
  readonly consoleTokens: ConsoleTokenRepo;
  readonly networking: NetworkingRepo;

  constructor(readonly db: Db) {
    this.identity = new IdentityRepo(db);
    this.flavors = new FlavorRepo(db);
    this.images = new ImageRepo(db);
    this.instances = new InstanceRepo(db);
    this.keypairs = new KeypairRepo(db);
    this.placement = new PlacementRepo(db);
    this.numa = new NumaRepo(db);
    this.services = new ServiceRepo(db);
    this.hostReports = new HostReportRepo(db);
    this.consoleTokens = new ConsoleTokenRepo(db);
    this.networking = new NetworkingRepo(db);
  }

  /** Runs fn in one transaction with repositories bound to it. */
  async transaction<T>(fn: (r: Repositories) => Promise<T>): Promise<T> {
    return (this.db as Kysely<Database>).transaction().execute((trx) => fn(new Repositories(trx)));
  }
}
