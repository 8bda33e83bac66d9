// What the three APIs need from the service.
import type { Repositories } from '../db/index.js';
import type { IdentityService, Endpoints } from '../control/identity.js';
import type { FlavorService } from '../control/flavors.js';
import type { ServerService } from '../control/servers.js';
import type { ConsoleService } from '../control/server-consoles.js';
import type { ImageService } from '../control/images.js';
import type { KeypairService } from '../control/keypairs.js';
import type { ServerOperations } from '../control/server-ops.js';
import type { Logger } from '../util/log.js';
import type { ImageDisplay } from './image/views.js';

export interface ApiDeps {
  repos: Repositories;
  identity: IdentityService;
  flavors: FlavorService;
  servers: ServerService;
  /** Every server action (the action table), the delete and diagnostics (control/server-ops.ts). */
  serverOps: ServerOperations;
  /** Remote consoles; unset when neither [vnc] nor [serial_console] is enabled. */
  consoles?: ConsoleService;
  images: ImageService;
  keypairs: KeypairService;
  endpoints: () => Endpoints;
  logger?: Logger;
  /** Largest JSON body accepted (bytes); image data has its own limit. */
  bodyLimit: number;
  hostIp: string;
  /** [DEFAULT] service_down_time in seconds (Nova's 60 by default). */
  serviceDownTime?: number;
  startedAt: number;
  /** [image_store] show_image_direct_url / show_multiple_locations (Image v2 views). */
  imageDisplay?: ImageDisplay;
}
