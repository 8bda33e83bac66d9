// GuestMetadata (tree.ts) for one instance, from the database: the instance row, its keypair
// (looked up under the instance's owner, so only the owner's key can be injected), its user
// data and its image. The config drive builds from this at spawn; the metadata service will
// answer from it too.
import type { ImageRecord, Instance, Repositories } from '../db/index.js';
import type { GuestMetadata, GuestPort } from './tree.js';

export interface GuestMetadataOptions {
  /** [api] dhcp_domain. */
  dhcpDomain: string;
  /** The instance's ports for network_data.json (none until servers have networks). */
  ports?: GuestPort[];
}

const ROOT_DEVICE: Record<string, string> = {
  virtio: '/dev/vda',
  scsi: '/dev/sda',
  sata: '/dev/sda',
  ide: '/dev/hda',
};

export async function guestMetadataFor(
  repos: Repositories,
  inst: Instance,
  image: ImageRecord,
  opts: GuestMetadataOptions,
): Promise<GuestMetadata> {
  const keypair = inst.keyName ? await repos.keypairs.get(inst.userId, inst.keyName) : undefined;
  const userData = await repos.instances.userData(inst.uuid);
  const props = image.properties;
  return {
    uuid: inst.uuid,
    name: inst.displayName,
    hostname: inst.hostname,
    dhcpDomain: opts.dhcpDomain,
    launchIndex: inst.launchIndex,
    availabilityZone: inst.availabilityZone,
    projectId: inst.projectId,
    meta: inst.metadata,
    key: keypair
      ? { name: keypair.name, type: keypair.type === 'x509' ? 'x509' : 'ssh', data: keypair.publicKey }
      : undefined,
    userData: userData ? Buffer.from(userData, 'base64') : undefined,
    reservationId: inst.reservationId,
    instanceNumber: inst.number,
    flavorName: inst.flavor.name,
    imageId: image.id,
    kernelId: props.kernel_id || undefined,
    ramdiskId: props.ramdisk_id || undefined,
    rootDeviceName: ROOT_DEVICE[props.hw_disk_bus ?? 'virtio'] ?? '/dev/vda',
    ports: opts.ports ?? [],
    securityGroups: ['default'],
    vendorData: {},
  };
}
