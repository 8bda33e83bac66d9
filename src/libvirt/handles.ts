// Handles for libvirt objects as the wire names them (remote_nonnull_domain & co.), with UUIDs
// both as the 16 raw bytes the protocol carries and as the usual string.
import { XdrError, xfixedOpaque, xint, xmap, xstr, xstruct } from './xdr.js';

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function uuidToString(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidToBytes(s: string): Buffer {
  if (!UUID_RE.test(s)) throw new XdrError(`"${s}" is not a UUID (expected 32 hex digits, dashes optional)`);
  return Buffer.from(s.replace(/-/g, ''), 'hex');
}

/** A domain: name, 16-byte UUID, and id (-1 while inactive). libvirtd looks domains up by UUID. */
export class DomainRef {
  readonly uuid: Buffer;
  constructor(
    readonly name: string,
    uuid: Uint8Array | string,
    readonly id = -1,
  ) {
    this.uuid = typeof uuid === 'string' ? uuidToBytes(uuid) : Buffer.from(uuid);
    if (this.uuid.length !== 16)
      throw new XdrError(`domain ${name}: a UUID has 16 bytes, got ${this.uuid.length}`);
  }

  get uuidString(): string {
    return uuidToString(this.uuid);
  }

  toJSON(): { name: string; uuid: string; id: number } {
    return { name: this.name, uuid: this.uuidString, id: this.id };
  }
}

export interface SecretRef {
  uuid: Buffer;
  uuidString: string;
  /** virSecretUsageType: 0 none, 1 volume, 2 ceph, 3 iscsi, 4 tls, 5 vtpm. */
  usageType: number;
  usageId: string;
}

export interface StoragePoolRef {
  name: string;
  uuid: Buffer;
  uuidString: string;
}

export interface StorageVolRef {
  pool: string;
  name: string;
  key: string;
}

export interface SnapshotRef {
  name: string;
  domain: DomainRef;
}

export const xuuid = xfixedOpaque(16);

/** remote_nonnull_domain */
export const xdomain = xmap(
  xstruct({ name: xstr, uuid: xuuid, id: xint }),
  (w) => new DomainRef(w.name, w.uuid, w.id),
  (d: DomainRef) => ({ name: d.name, uuid: d.uuid, id: d.id }),
);

/** remote_nonnull_secret */
export const xsecret = xmap(
  xstruct({ uuid: xuuid, usageType: xint, usageId: xstr }),
  (w): SecretRef => ({ ...w, uuidString: uuidToString(w.uuid) }),
  (s: SecretRef) => ({ uuid: s.uuid, usageType: s.usageType, usageId: s.usageId }),
);

/** remote_nonnull_storage_pool */
export const xstoragePool = xmap(
  xstruct({ name: xstr, uuid: xuuid }),
  (w): StoragePoolRef => ({ ...w, uuidString: uuidToString(w.uuid) }),
  (p: StoragePoolRef) => ({ name: p.name, uuid: p.uuid }),
);

/** remote_nonnull_storage_vol */
export const xstorageVol = xstruct({ pool: xstr, name: xstr, key: xstr });

/** remote_nonnull_domain_snapshot */
export const xsnapshot = xmap(
  xstruct({ name: xstr, dom: xdomain }),
  (w): SnapshotRef => ({ name: w.name, domain: w.dom }),
  (s: SnapshotRef) => ({ name: s.name, dom: s.domain }),
);
