// What the compute operations in src/compute/actions-*.ts need from the ComputeManager: its
// repositories, driver, disks and image store, the timed-phase recorder, the "started" waiter
// and the spec builder. The manager hands these out under the instance's lock
// (ComputeManager.runOperation), so these operations never race its own build/act/delete.
import type { ImageRecord, Instance, Repositories } from '../db/index.js';
import type { ImageStore } from '../images/store/store.js';
import type { HypervisorDriver, InstanceSpec } from '../virt/driver.js';
import type { Logger } from '../util/log.js';
import type { RootDisks } from './disks.js';
import type { DiskName } from '../images/backends/backend.js';
import type { GuestFiles } from './guest-files.js';

export interface ManagerSeams {
  repos: Repositories;
  driver: HypervisorDriver;
  disks: RootDisks;
  imageStore: ImageStore;
  host: string;
  instancesPath: string;
  /** Config drive, kernel and ramdisk of each spawn; removed with the disks. */
  guestFiles: GuestFiles;
  log: Logger;
  shutdownTimeoutSeconds: number;
  /** Runs fn as a timed event of the action (start, finish, result, traceback). */
  phase<T>(actionId: string, event: string, fn: () => Promise<T>): Promise<T>;
  /** Resolves on the guest's "started" event (or when it is seen running). */
  waitStarted(uuid: string): { promise: Promise<void>; cancel: () => void };
  /** Builds the config drive and fetches kernel / ramdisk, then returns the driver's spec. */
  specFor(inst: Instance, image: ImageRecord, rootDisk: InstanceSpec['rootDisk']): Promise<InstanceSpec>;
  /** Makes the flavor's ephemeral and swap disks, but those in kept, as a timed event of the action. */
  createLocalDisks(inst: Instance, actionId: string, kept?: readonly DiskName[]): Promise<void>;
}

/** The one method the manager exposes for these operations. */
export interface OperationRunner {
  readonly host: string;
  runOperation<T>(uuid: string, fn: (s: ManagerSeams) => Promise<T>): Promise<T>;
}
