// Every group Kestrel reads, in the order the docs list them, and the typed KestrelConfig.
import { apiGroup } from './api.js';
import { consoleGroup, consoleauthGroup, serialConsoleGroup, vncGroup } from './consoles.js';
import { computeGroup } from './compute.js';
import { databaseGroup } from './database.js';
import { defaultGroup } from './default.js';
import { glanceGroup } from './glance.js';
import { imageCacheGroup } from './image-cache.js';
import { imageStoreGroup } from './image-store.js';
import type { AnyOption, GroupSpec, GroupValues } from './option.js';
import { libvirtGroup } from './libvirt.js';
import { networkGroup } from './network.js';
import { workaroundsGroup } from './workarounds.js';

export const schema = {
  DEFAULT: defaultGroup,
  libvirt: libvirtGroup,
  glance: glanceGroup,
  image_cache: imageCacheGroup,
  image_store: imageStoreGroup,
  workarounds: workaroundsGroup,
  compute: computeGroup,
  api: apiGroup,
  database: databaseGroup,
  vnc: vncGroup,
  serial_console: serialConsoleGroup,
  consoleauth: consoleauthGroup,
  console: consoleGroup,
  network: networkGroup,
} as const;

export type GroupName = keyof typeof schema;

/** The whole configuration: groups keyed by their nova.conf names, options snake_case, values typed. */
export type KestrelConfig = { [G in GroupName]: GroupValues<(typeof schema)[G]> };

export const groupNames = Object.keys(schema) as GroupName[];

export function groupSpec(name: string): GroupSpec | undefined {
  return Object.hasOwn(schema, name) ? schema[name as GroupName] : undefined;
}

export function optionSpec(groupName: string, option: string): AnyOption | undefined {
  const g = groupSpec(groupName);
  return g && Object.hasOwn(g.options, option) ? g.options[option] : undefined;
}
