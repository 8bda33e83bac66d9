// Every error Kestrel raises, by stable code, with the HTTP status it answers and what it
// means. The API (src/api/errors.ts) renders a KestrelError's status and message into the
// OpenStack fault body of its service; an instance fault records the same status. Bad input
// and refused requests are 4xx; a 5xx means the host or Kestrel itself failed.
export const ERROR_CATALOGUE = {
  // The request
  'bad-request': { status: 400, means: 'the request is malformed or names something invalid' },
  unauthorized: { status: 401, means: 'no valid token' },
  forbidden: { status: 403, means: 'the token may not do this' },
  'not-found': { status: 404, means: 'the named resource does not exist (or is not visible)' },
  'method-not-allowed': { status: 405, means: 'the resource does not take this HTTP method' },
  'not-acceptable': { status: 406, means: 'the requested microversion or media type is not served' },
  conflict: { status: 409, means: 'the resource is in a state that does not allow this' },
  'payload-too-large': { status: 413, means: 'the request body is larger than allowed' },
  'unsupported-media-type': { status: 415, means: 'the Content-Type is not one the API reads' },
  'over-quota': { status: 403, means: "the project's quota does not allow this" },
  'not-implemented': { status: 501, means: 'Kestrel does not implement this' },
  unavailable: { status: 503, means: 'a service Kestrel needs is not reachable now' },
  internal: { status: 500, means: 'a bug or an unexpected failure; the log has the details' },

  // Scheduling
  'no-valid-host': { status: 500, means: 'no host has room for or supports the requested server' },

  // Images and disks
  'image-refused': { status: 400, means: "the image's data failed inspection" },
  'image-too-large': { status: 413, means: 'the upload is larger than the image size limit' },
  'image-upload-interrupted': { status: 400, means: 'the upload stream ended early; nothing was kept' },
  'image-not-found': { status: 404, means: 'the image has no data in the store' },
  'image-conflict': { status: 409, means: 'the image already has data' },
  'image-in-use': { status: 409, means: 'instance disks are still clones of the image' },
  'image-unacceptable': { status: 400, means: 'the image cannot back a disk of this backend' },
  'image-cache': { status: 500, means: 'the cached base image could not be prepared' },
  'invalid-image-id': { status: 400, means: 'the image id is not a plain name' },
  'invalid-instance-uuid': { status: 400, means: 'the instance uuid is not a plain name' },
  'flavor-disk-too-small': { status: 400, means: "the flavor's root disk is smaller than the image" },
  'disk-exists': { status: 409, means: 'the instance already has a disk' },
  'disk-not-found': { status: 404, means: 'the instance has no disk' },
  'disk-in-use': { status: 409, means: 'a running guest still holds the disk open' },
  'storage-misconfigured': { status: 500, means: 'a storage option is missing or wrong' },
  'storage-full': { status: 507, means: 'the disk backend has no room for the disk' },
  'storage-unavailable': { status: 503, means: 'the storage (Ceph, LVM, qemu-img) failed or is unreachable' },
  'state-path-unreachable': {
    status: 500,
    means: "QEMU's user cannot reach a file under the state path (a directory is not traversable)",
  },

  // The hypervisor
  'instance-not-found': { status: 404, means: 'the instance has no guest on this hypervisor' },
  'instance-exists': { status: 409, means: 'a guest with this uuid is already defined' },
  'invalid-state': { status: 409, means: 'the guest is in a state that does not allow this' },
  'unsupported-config': {
    status: 400,
    means: 'the flavor or image asks for something this host cannot give',
  },
  'invalid-machine-type': { status: 400, means: 'the machine type is unknown to this host' },
  'firmware-not-found': { status: 400, means: 'no firmware of the requested kind is installed' },
  'cpu-model-unknown': { status: 400, means: 'the CPU model is unknown to libvirt' },
  'cpu-incompatible': { status: 400, means: "the host's CPU cannot run the CPU model" },
  'cpu-no-model-for-traits': { status: 400, means: 'no configured CPU model has the required traits' },
  'cpu-mode-invalid': { status: 400, means: 'the [libvirt] cpu_mode options contradict each other' },
  'version-too-old': { status: 503, means: 'libvirt or QEMU is older than Kestrel needs' },
  'kvm-unavailable': { status: 503, means: 'KVM is not usable on this host' },
  'nested-virt-conflict': { status: 409, means: 'nested virtualization settings conflict' },
  'agent-not-configured': { status: 409, means: 'the guest has no QEMU guest agent channel' },
  'agent-not-connected': { status: 409, means: 'the guest agent is not running in the guest' },
  'agent-timeout': { status: 503, means: 'the guest agent did not answer in time' },
  'agent-failed': { status: 500, means: 'the guest agent refused the command' },
  'console-unavailable': { status: 409, means: 'the guest has no console of the requested kind' },
  'guest-start-failed': { status: 500, means: 'QEMU did not start the guest' },
  'power-off-timeout': { status: 500, means: 'the guest did not stop in time' },
  'snapshot-failed': { status: 500, means: 'the snapshot could not be taken' },
  'hypervisor-error': { status: 500, means: 'libvirt failed the call' },

  // The compute-agent contract (src/compute/contract)
  'host-unreachable': {
    status: 409,
    means: "the server's compute host does not answer (its agent is down, not started or not registered)",
  },
  'not-plain-data': { status: 500, means: 'an agent call or reply that is not plain JSON data (a bug)' },
  'unknown-operation': {
    status: 500,
    means: 'the compute agent does not know the operation (versions differ)',
  },
} as const satisfies Record<string, { status: number; means: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}
