// What ServerService's modules (server-create, server-list, server-power) share: the service's
// environment, the view and result types, and the field checks that create and update both use.
import type { Fault, ImageRecord, Instance, Repositories } from '../db/index.js';
import type { ComputeAgent } from '../compute/agent.js';
import type { Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import type { FlavorService } from './flavors.js';
import { isUuid, type ImageService } from './images.js';
import type { SevHostDefaults } from './sev.js';
import { KestrelError, badRequest } from '../errors/index.js';

export interface ServerView {
  instance: Instance;
  fault?: Fault;
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
  agents: Map<string, ComputeAgent>;
  log: Logger;
  /** The largest max_count a create may ask for. */
  maxCount: number;
  sevDefaults: SevHostDefaults;
  /** The instance if the caller may see it (ServerService.find). */
  find(ctx: RequestContext, id: string): Promise<Instance>;
  /** Runs work after the reply (tracked, so tests and shutdown can wait for it). */
  background(p: Promise<unknown>): void;
}

export const GiB = 1024 ** 3;

/** The metadata of create and the metadata routes: keys 1–255, string values ≤ 255, ≤ 128 items. */
export function checkServerMetadata(m: unknown): Record<string, string> {
  if (m === undefined || m === null) return {};
  if (typeof m !== 'object' || Array.isArray(m)) throw badRequest('metadata must be an object of strings.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (k.length === 0 || k.length > 255) throw badRequest('Metadata keys are 1 to 255 characters.');
    if (typeof v !== 'string' || v.length > 255)
      throw badRequest(`Metadata value for ${k} must be a string of at most 255 characters.`);
    out[k] = v;
  }
  if (Object.keys(out).length > 128) throw badRequest('At most 128 metadata items per server.');
  return out;
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
