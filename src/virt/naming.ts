// Domain names: Nova-like (`instance-…`) but derived from the uuid, so they are unique per
// instance and stable across rebuilds of the XML. The prefix is an option so that tests
// (and several Kestrels on one libvirtd) keep their domains apart.
export const DEFAULT_NAME_PREFIX = 'instance-';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function domainNameFor(uuid: string, prefix = DEFAULT_NAME_PREFIX): string {
  if (!isUuid(uuid)) throw new Error(`instance uuid ${JSON.stringify(uuid)} is not a UUID`);
  return `${prefix}${uuid.toLowerCase()}`;
}
