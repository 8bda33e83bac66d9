// Image v2 response shapes (§3.2): core keys plus extra properties flattened as strings.
import type { ImageRecord } from '../../db/index.js';

const glanceTime = (iso: string) => iso.replace(/\.\d+Z$/, 'Z');

/** What Glance's show_image_direct_url / show_multiple_locations reveal. */
export interface ImageDisplay {
  showDirectUrl?: boolean;
  showMultipleLocations?: boolean;
}

export function imageView(i: ImageRecord, display: ImageDisplay = {}): Record<string, unknown> {
  // Glance: direct_url is the first location; locations lists them with their metadata.
  const where: Record<string, unknown> = {};
  if (display.showDirectUrl && i.location) where.direct_url = i.location;
  if (display.showMultipleLocations) where.locations = i.location ? [{ url: i.location, metadata: {} }] : [];
  return {
    ...where,
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: i.osHidden,
    owner: i.owner,
    tags: i.tags,
    container_format: i.containerFormat,
    disk_format: i.diskFormat,
    min_disk: i.minDisk,
    min_ram: i.minRam,
    size: i.size,
    virtual_size: i.virtualSize,
    checksum: i.checksum,
    os_hash_algo: i.osHashAlgo,
    os_hash_value: i.osHashValue,
    created_at: glanceTime(i.createdAt),
    updated_at: glanceTime(i.updatedAt),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

/** A static JSON schema in the spirit of Glance's (OSC 6 and glanceclient read it). */
export function imageSchema(): Record<string, unknown> {
  const str = { type: ['null', 'string'] };
  return {
    name: 'image',
    additionalProperties: { type: 'string' },
    links: [
      { href: '{self}', rel: 'self' },
      { href: '{file}', rel: 'enclosure' },
      { href: '{schema}', rel: 'describedby' },
    ],
    properties: {
      id: {
        type: 'string',
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      },
      name: { ...str, maxLength: 255 },
      status: {
        type: 'string',
        readOnly: true,
        enum: [
          'queued',
          'saving',
          'active',
          'killed',
          'deleted',
          'uploading',
          'importing',
          'pending_delete',
          'deactivated',
        ],
      },
      visibility: { type: 'string', enum: ['community', 'public', 'private', 'shared'] },
      protected: { type: 'boolean' },
      os_hidden: { type: 'boolean' },
      checksum: { ...str, readOnly: true, maxLength: 32 },
      os_hash_algo: { ...str, readOnly: true, maxLength: 64 },
      os_hash_value: { ...str, readOnly: true, maxLength: 128 },
      owner: { ...str, maxLength: 255 },
      size: { type: ['null', 'integer'], readOnly: true },
      virtual_size: { type: ['null', 'integer'], readOnly: true },
      container_format: {
        type: ['null', 'string'],
        enum: [null, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'],
      },
      disk_format: {
        type: ['null', 'string'],
        enum: [null, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'],
      },
      created_at: { type: 'string', readOnly: true },
      updated_at: { type: 'string', readOnly: true },
      tags: { type: 'array', items: { type: 'string', maxLength: 255 } },
      min_ram: { type: 'integer' },
      min_disk: { type: 'integer' },
      self: { type: 'string', readOnly: true },
      file: { type: 'string', readOnly: true },
      schema: { type: 'string', readOnly: true },
      direct_url: { type: 'string', readOnly: true },
      locations: { type: 'array', items: { type: 'object' } },
    },
  };
}
