// What ServerService's modules (server-create, server-list, server-power) share: the service's
// environment, the view and result types, and the field checks that create and update both use.
import type { Fault, ImageRecord, Instance, Repositories } from '../db/index.js';
import type { AgentDirectory } from './agent-directory.js';
import type { Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import type { FlavorService } from './flavors.js';
import { isUuid, type ImageService } from './images.js';
import type { SevHostDefaults } from './sev.js';
import { KestrelError, badRequest } from '../errors/index.js';
import { checkMetadata, MAX_SERVER_META } from './server-common.js';
import type { AddressView, ServerPorts } from './network/server-ports.js';

export interface ServerView {
  instance: Instance;
  fault?: Fault;
  /** Nova's `addresses` (by network name), when networking is on. */
  addresses?: Record<string, AddressView[]>;
}

export interface ServerCreateResult {
  servers: Instance[];
  adminPass: string;
  reservationId: string;
}

export interface ServerListQuery {
  [k: string]: string | string[] | undefined;
}

/** What the server functions need from ServerService. */
export interface ServerEnv {
  repos: Repositories;
  flavors: FlavorService;
  images: ImageService;
  /** The compute hosts' agents and their liveness. */
  agents: AgentDirectory;
  log: Logger;
  /** The largest max_count a create may ask for. */
  maxCount: number;
  sevDefaults: SevHostDefaults;
  /** The instance if the caller may see it (ServerService.find). */
  find(ctx: RequestContext, id: string): Promise<Instance>;
  /** Runs work after the reply (tracked, so tests and shutdown can wait for it). */
  background(p: Promise<unknown>): void;
  /** The servers' ports (Networking v2), when networking is on. */
  network?: ServerPorts;
}

export const GiB = 1024 ** 3;

/** The metadata of create and the metadata routes (Nova's rules, server-common's checkMetadata). */
export function checkServerMetadata(m: unknown): Record<string, string> {
  return checkMetadata(m, MAX_SERVER_META);
}

export function normalizeV6(ip: string): string {
  // The canonical short form, as Python's netaddr prints it (tempest compares to that).
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** The active image an imageRef (an id, or a URL ending in one) names; a 400 otherwise (create, rebuild). */
export async function activeImageFromRef(
  images: ImageService,
  ctx: RequestContext,
  ref: string,
): Promise<ImageRecord> {
  const id = ref.replace(/\/+$/, '').split('/').pop()!;
  if (!isUuid(id)) throw badRequest(`Invalid imageRef provided: ${ref} is not an image id.`);
  const image = await images.get(ctx, id).catch((e) => {
    if (e instanceof KestrelError && e.code === 'not-found')
      throw badRequest(`Image ${id} could not be found.`);
    throw e;
  });
  if (image.status !== 'active') throw badRequest(`Image ${id} is not active (it is ${image.status}).`);
  return image;
}
