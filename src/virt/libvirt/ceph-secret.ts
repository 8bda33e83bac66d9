// The libvirt secret that holds the Ceph client key for RBD disks (`[libvirt] rbd_secret_uuid`,
// usage type ceph), as Nova expects the operator to define it. Kestrel defines it itself through
// its RPC client when it is missing, once, before the first guest with an RBD disk starts. The key
// is fetched only then and never logged.
import type { LibvirtClient } from '../../libvirt/index.js';
import { isNoSecret } from '../../libvirt/index.js';
import type { Logger } from '../../util/log.js';
import { KestrelError, messageOf } from '../../errors/index.js';
import { renderCephSecretXml } from './domain/render.js';

export interface CephSecretOptions {
  /** `[libvirt] rbd_secret_uuid`. */
  uuid: string;
  /** `[libvirt] rbd_user` (the client id without "client."). */
  user: string;
  /** The client's key (base64, as `ceph auth get-key` prints it). */
  key: () => Promise<string>;
}

/** Makes sure the secret exists; defines it with the key when it does not. */
export async function ensureCephSecret(lv: LibvirtClient, o: CephSecretOptions, log: Logger): Promise<void> {
  try {
    await lv.secrets.lookupByUuid(o.uuid);
    return; // the operator's (or an earlier start's) secret stands
  } catch (e) {
    if (!isNoSecret(e)) throw e;
  }
  let key: string;
  try {
    key = await o.key();
  } catch (e) {
    throw new KestrelError(
      'storage-misconfigured',
      `the libvirt secret ${o.uuid} ([libvirt] rbd_secret_uuid) is not defined and the key of client.${o.user} ` +
        `could not be read to define it: ${messageOf(e)}.`,
      {
        fix: `define it yourself (virsh secret-define + virsh secret-set-value ${o.uuid} <key>) or give Kestrel an admin keyring`,
      },
    );
  }
  const xml = renderCephSecretXml(o.uuid, o.user);
  const secret = await lv.secrets.defineXml(xml);
  try {
    await lv.secrets.setValue(secret, Buffer.from(key, 'base64'));
  } catch (e) {
    await lv.secrets.undefine(secret).catch(() => undefined);
    throw e;
  }
  log.info({ secret: o.uuid, user: o.user }, 'defined the libvirt ceph secret for RBD disks');
}
