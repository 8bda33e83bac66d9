// The database: open (SQLite default, PostgreSQL option), migrate, repositories.
export { openDatabase, parseConnection, migrate, redact, DatabaseConfigError } from './connect.js';
export type { OpenedDatabase, DatabaseKind } from './connect.js';
export { Repositories } from './repos/index.js';
export type { Project, User, Role, TokenRecord } from './repos/identity.js';
export { hashPassword, verifyPassword } from './repos/identity.js';
export type { Flavor, NewFlavor } from './repos/flavors.js';
export type { ImageRecord, ImagePatch } from './repos/images.js';
export type {
  Instance,
  NewInstance,
  InstancePatch,
  InstanceFilter,
  InstanceAction,
  ActionEvent,
  Fault,
  FlavorSnapshot,
} from './repos/instances.js';
export type { Keypair } from './repos/keypairs.js';
export type { ConsoleTokenRecord, ConsoleType, SpendResult } from './repos/console-tokens.js';
export type { Inventory, ProviderState } from './repos/placement.js';
export type { ServiceRecord } from './repos/services.js';
export type { HostReportRecord } from './repos/host-reports.js';
export type { NetworkResource, NetworkResourceKind, ResourceFilter } from './repos/networking.js';
