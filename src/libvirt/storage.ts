// Secrets (Ceph/LUKS keys for disks) and storage pools/volumes (volume upload/download streams).
import { procedures as P } from './procedures.js';
import { uuidToBytes, type SecretRef, type StoragePoolRef, type StorageVolRef } from './handles.js';
import { downloadStream, uploadStream } from './stream.js';
import type { LibvirtClient } from './client.js';

/** virSecretUsageType */
export const SecretUsageType = { NONE: 0, VOLUME: 1, CEPH: 2, ISCSI: 3, TLS: 4, VTPM: 5 } as const;

export class SecretApi {
  constructor(private readonly client: LibvirtClient) {}

  async defineXml(xml: string, flags = 0): Promise<SecretRef> {
    return (await this.client.call(P.secretDefineXml, { xml, flags })).secret;
  }

  /** Sets the secret's value (raw bytes; never logged). */
  async setValue(secret: SecretRef, value: Uint8Array, flags = 0): Promise<void> {
    await this.client.call(P.secretSetValue, { secret, value: Buffer.from(value), flags });
  }

  /** Only works for non-private secrets (libvirt refuses to reveal private ones). */
  async getValue(secret: SecretRef): Promise<Buffer> {
    return (await this.client.call(P.secretGetValue, { secret, flags: 0 })).value;
  }

  async undefine(secret: SecretRef): Promise<void> {
    await this.client.call(P.secretUndefine, { secret });
  }

  async lookupByUuid(uuid: string | Uint8Array): Promise<SecretRef> {
    const bytes = typeof uuid === 'string' ? uuidToBytes(uuid) : Buffer.from(uuid);
    return (await this.client.call(P.secretLookupByUuid, { uuid: bytes })).secret;
  }

  async lookupByUsage(usageType: number, usageId: string): Promise<SecretRef> {
    return (await this.client.call(P.secretLookupByUsage, { usageType, usageId })).secret;
  }
}

export interface VolumeInfo {
  type: number;
  capacity: bigint;
  allocation: bigint;
}

export class StorageApi {
  constructor(private readonly client: LibvirtClient) {}

  /** Creates and starts a transient pool. */
  async poolCreateXml(xml: string, flags = 0): Promise<StoragePoolRef> {
    return (await this.client.call(P.storagePoolCreateXml, { xml, flags })).pool;
  }

  async poolLookupByName(name: string): Promise<StoragePoolRef> {
    return (await this.client.call(P.storagePoolLookupByName, { name })).pool;
  }

  /** Stops a pool (a transient one disappears). */
  async poolDestroy(pool: StoragePoolRef): Promise<void> {
    await this.client.call(P.storagePoolDestroy, { pool });
  }

  async poolRefresh(pool: StoragePoolRef): Promise<void> {
    await this.client.call(P.storagePoolRefresh, { pool, flags: 0 });
  }

  async volCreateXml(pool: StoragePoolRef, xml: string, flags = 0): Promise<StorageVolRef> {
    return (await this.client.call(P.storageVolCreateXml, { pool, xml, flags })).vol;
  }

  async volLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef> {
    return (await this.client.call(P.storageVolLookupByName, { pool, name })).vol;
  }

  async volDelete(vol: StorageVolRef, flags = 0): Promise<void> {
    await this.client.call(P.storageVolDelete, { vol, flags });
  }

  async volGetInfo(vol: StorageVolRef): Promise<VolumeInfo> {
    return this.client.call(P.storageVolGetInfo, { vol });
  }

  /** Writes `source` into the volume from `offset` (length 0 = to the end of the data). */
  async volUpload(
    vol: StorageVolRef,
    source: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: { offset?: bigint; length?: bigint; flags?: number } = {},
  ): Promise<{ bytes: number }> {
    return uploadStream(
      this.client,
      P.storageVolUpload,
      { vol, offset: opts.offset ?? 0n, length: opts.length ?? 0n, flags: opts.flags ?? 0 },
      source,
    );
  }

  /** Reads the volume's bytes (length 0 = all). */
  volDownload(
    vol: StorageVolRef,
    opts: { offset?: bigint; length?: bigint; flags?: number } = {},
  ): AsyncGenerator<Buffer> {
    return downloadStream(this.client, P.storageVolDownload, {
      vol,
      offset: opts.offset ?? 0n,
      length: opts.length ?? 0n,
      flags: opts.flags ?? 0,
    });
  }
}
