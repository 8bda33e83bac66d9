// virTypedParameter on the wire (remote_typed_param): a field name and a value whose XDR arm is
// chosen by the virTypedParameterType discriminant. Used by the migrate "params" family, block
// copy, job stats and guest info.
import { type Codec, XdrError, Limits, xarray } from './xdr.js';

export const TypedParamType = {
  INT: 1,
  UINT: 2,
  LLONG: 3,
  ULLONG: 4,
  DOUBLE: 5,
  BOOLEAN: 6,
  STRING: 7,
} as const;

export type TypedParam =
  | { field: string; type: 1 | 2; value: number }
  | { field: string; type: 3 | 4; value: bigint }
  | { field: string; type: 5; value: number }
  | { field: string; type: 6; value: boolean }
  | { field: string; type: 7; value: string };

/** Builders, so callers never write discriminants by hand. */
export const tp = {
  int: (field: string, value: number): TypedParam => ({ field, type: 1, value }),
  uint: (field: string, value: number): TypedParam => ({ field, type: 2, value }),
  llong: (field: string, value: bigint): TypedParam => ({ field, type: 3, value }),
  ullong: (field: string, value: bigint | number): TypedParam => ({ field, type: 4, value: BigInt(value) }),
  double: (field: string, value: number): TypedParam => ({ field, type: 5, value }),
  boolean: (field: string, value: boolean): TypedParam => ({ field, type: 6, value }),
  string: (field: string, value: string): TypedParam => ({ field, type: 7, value }),
};

export const xtypedParam: Codec<TypedParam> = {
  encode(w, p) {
    w.string(p.field, Limits.STRING_MAX);
    w.int(p.type);
    switch (p.type) {
      case 1:
        w.int(p.value);
        break;
      case 2:
        w.uint(p.value);
        break;
      case 3:
        w.hyper(p.value);
        break;
      case 4:
        w.uhyper(p.value);
        break;
      case 5:
        w.double(p.value);
        break;
      case 6:
        w.int(p.value ? 1 : 0);
        break;
      case 7:
        w.string(p.value, Limits.STRING_MAX);
        break;
      default:
        throw new XdrError(
          `typed parameter ${(p as TypedParam).field}: unknown type ${(p as { type: number }).type}`,
        );
    }
  },
  decode(r) {
    const field = r.string(Limits.STRING_MAX);
    const type = r.int();
    switch (type) {
      case 1:
        return { field, type, value: r.int() };
      case 2:
        return { field, type, value: r.uint() };
      case 3:
        return { field, type, value: r.hyper() };
      case 4:
        return { field, type, value: r.uhyper() };
      case 5:
        return { field, type, value: r.double() };
      case 6:
        return { field, type, value: r.int() !== 0 };
      case 7:
        return { field, type, value: r.string(Limits.STRING_MAX) };
      default:
        throw new XdrError(`typed parameter ${field}: unknown type discriminant ${type}`);
    }
  },
};

export function xtypedParams(max: number): Codec<TypedParam[]> {
  return xarray(xtypedParam, max);
}

/** Typed params as a plain record (a repeated field, e.g. migrate_disks, becomes an array). */
export function typedParamsToRecord(
  params: TypedParam[],
): Record<string, number | bigint | boolean | string | string[]> {
  const out: Record<string, number | bigint | boolean | string | string[]> = {};
  for (const p of params) {
    const prev = out[p.field];
    if (prev !== undefined && typeof p.value === 'string') {
      out[p.field] = Array.isArray(prev) ? [...prev, p.value] : [String(prev), p.value];
    } else {
      out[p.field] = p.value;
    }
  }
  return out;
}

/** The value types libvirt expects for the VIR_MIGRATE_PARAM_* names (libvirt-domain.h). */
const MIGRATE_PARAM_TYPES: Record<string, TypedParam['type']> = {
  migrate_uri: 7,
  destination_name: 7,
  destination_xml: 7,
  persistent_xml: 7,
  bandwidth: 4,
  'bandwidth.postcopy': 4,
  graphics_uri: 7,
  listen_address: 7,
  migrate_disks: 7,
  disks_port: 1,
  disks_uri: 7,
  compression: 7,
  'compression.mt.level': 1,
  'compression.mt.threads': 1,
  'compression.mt.dthreads': 1,
  'compression.xbzrle.cache': 4,
  'compression.zlib.level': 1,
  'compression.zstd.level': 1,
  'auto_converge.initial': 1,
  'auto_converge.increment': 1,
  'parallel.connections': 1,
  'tls.destination': 7,
};

export type MigrateParams = Partial<Record<string, string | string[] | number | bigint>>;

/**
 * Converts `{ migrate_uri: 'tcp://…', bandwidth: 100, migrate_disks: ['vda'] }` into typed
 * params with the types libvirt requires; an unknown name must come as a ready TypedParam.
 */
export function migrateParams(params: MigrateParams, extra: TypedParam[] = []): TypedParam[] {
  const out: TypedParam[] = [];
  for (const [field, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const type = MIGRATE_PARAM_TYPES[field];
    if (type === undefined) {
      throw new XdrError(
        `unknown migration parameter "${field}": pass it as a TypedParam (tp.string/tp.ullong/…) in extra`,
      );
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (type === 7) out.push(tp.string(field, String(v)));
      else if (type === 4) out.push(tp.ullong(field, BigInt(v)));
      else out.push(tp.int(field, Number(v)));
    }
  }
  return [...out, ...extra];
}
