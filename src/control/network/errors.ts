// Networking errors carry Neutron's exception type (NetworkNotFound, IpAddressInUse …) as well
// as Kestrel's error code: the Networking API renders {"NeutronError": {type, message, detail}}
// and clients (openstacksdk, Terraform) branch on the type.
import { KestrelError, type ErrorCode } from '../../errors/index.js';

export class NeutronError extends KestrelError {
  constructor(
    code: ErrorCode,
    readonly neutronType: string,
    message: string,
  ) {
    super(code, message);
  }
}

export const invalidInput = (m: string) => new NeutronError('bad-request', 'HTTPBadRequest', m);
export const resourceNotFound = (type: string, kind: string, id: string) =>
  new NeutronError('not-found', type, `${kind} ${id} could not be found.`);
export const inUse = (type: string, m: string) => new NeutronError('conflict', type, m);
export const notAuthorized = (m: string) => new NeutronError('forbidden', 'HTTPForbidden', m);
export const overQuota = (resource: string, limit: number) =>
  new NeutronError(
    'conflict',
    'OverQuota',
    `Quota exceeded for resources: ['${resource}'] (limit ${limit}). Fix: delete unused ${resource}s or ask an admin to raise the quota (openstack quota set --${resource.replace('_', '-')}s N).`,
  );
