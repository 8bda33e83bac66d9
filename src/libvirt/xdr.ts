// XDR (RFC 4506) as libvirt's remote protocol uses it: big-endian, every item padded to a
// multiple of 4 bytes, char/short widened to 4 bytes, optional pointers as a 0/1 word, and
// (unsigned) hypers as bigint because counters and versions pass 2^53.
//
// A Codec<T> encodes and decodes one XDR type. Procedure shapes are built from the
// combinators below (struct, array, optional, …) so that no XDR leaks past procedures.ts.

/** A malformed or over-limit XDR value: names the field path where decoding or encoding failed. */
export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

/** Growable big-endian writer. reset() lets one instance serve many packets without reallocating. */
export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  reset(at = 0): void {
    this.pos = at;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  hyper(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  uhyper(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Raw bytes followed by zero padding to the next multiple of 4. */
  bytes(b: Uint8Array): void {
    const pad = (4 - (b.length & 3)) & 3;
    this.ensure(b.length + pad);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    if (pad) {
      this.buf.fill(0, this.pos, this.pos + pad);
      this.pos += pad;
    }
  }

  /** A string written in place (avoids an intermediate Buffer for the common case). */
  string(s: string, max: number): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds the protocol limit of ${max}`);
    const pad = (4 - (len & 3)) & 3;
    this.ensure(4 + len + pad);
    this.buf.writeUInt32BE(len, this.pos);
    this.pos += 4;
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
    if (pad) {
      this.buf.fill(0, this.pos, this.pos + pad);
      this.pos += pad;
    }
  }

  /** Overwrites a 32-bit word already written (for length prefixes). */
  patchUint(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  /** A copy of what was written (safe to keep after reset()). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** A view of what was written (valid until the next write or reset()). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Bounds-checked big-endian reader over one packet payload. */
export class XdrReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
  ) {
    this.pos = offset;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new XdrError(
        `truncated payload: ${what} needs ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`,
      );
    }
  }

  int(): number {
    this.need(4, 'int');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4, 'unsigned int');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8, 'hyper');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8, 'unsigned hyper');
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8, 'double');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** n raw bytes plus padding; returns a copy so the packet buffer can be released. */
  bytes(n: number, what: string): Buffer {
    const padded = n + ((4 - (n & 3)) & 3);
    this.need(padded, what);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += padded;
    return out;
  }

  string(max: number): string {
    const len = this.uint();
    if (len > max) throw new XdrError(`string length ${len} exceeds the protocol limit of ${max}`);
    const padded = len + ((4 - (len & 3)) & 3);
    this.need(padded, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += padded;
    return s;
  }
}

export interface Codec<T> {
  encode(w: XdrWriter, v: T): void;
  decode(r: XdrReader): T;
}

export type CodecType<C> = C extends Codec<infer T> ? T : never;

/** libvirt's limits (remote_protocol.x / virnetprotocol.x). */
export const Limits = {
  STRING_MAX: 4 * 1024 * 1024,
  MIGRATE_COOKIE_MAX: 4 * 1024 * 1024,
  DOMAIN_LIST_MAX: 16384,
  CPU_MODELS_MAX: 8192,
  CPU_BASELINE_MAX: 256,
  MIGRATE_PARAM_LIST_MAX: 64,
  BLOCK_COPY_PARAMETERS_MAX: 16,
  JOB_STATS_MAX: 64,
  AUTH_TYPE_LIST_MAX: 20,
  SECRET_VALUE_MAX: 65536,
} as const;

export const xvoid: Codec<void> = {
  encode() {},
  decode() {},
};

export const xint: Codec<number> = {
  encode: (w, v) => w.int(v),
  decode: (r) => r.int(),
};

export const xuint: Codec<number> = {
  encode: (w, v) => w.uint(v),
  decode: (r) => r.uint(),
};

export const xhyper: Codec<bigint> = {
  encode: (w, v) => w.hyper(v),
  decode: (r) => r.hyper(),
};

export const xuhyper: Codec<bigint> = {
  encode: (w, v) => w.uhyper(v),
  decode: (r) => r.uhyper(),
};

export const xdouble: Codec<number> = {
  encode: (w, v) => w.double(v),
  decode: (r) => r.double(),
};

/** XDR bool: a 4-byte word, 0 or 1 (any non-zero decodes as true). */
export const xbool: Codec<boolean> = {
  encode: (w, v) => w.int(v ? 1 : 0),
  decode: (r) => r.int() !== 0,
};

export function xstring(max: number = Limits.STRING_MAX): Codec<string> {
  return {
    encode: (w, v) => w.string(v, max),
    decode: (r) => r.string(max),
  };
}

/** remote_nonnull_string */
export const xstr = xstring();

/** Fixed-length opaque (`opaque x[n]`), e.g. remote_uuid (16 bytes). */
export function xfixedOpaque(n: number): Codec<Buffer> {
  return {
    encode(w, v) {
      if (v.length !== n) throw new XdrError(`fixed opaque needs exactly ${n} bytes, got ${v.length}`);
      w.bytes(v);
    },
    decode: (r) => r.bytes(n, `opaque[${n}]`),
  };
}

/** Variable-length opaque (`opaque x<max>`). */
export function xopaque(max: number): Codec<Buffer> {
  return {
    encode(w, v) {
      if (v.length > max)
        throw new XdrError(`opaque of ${v.length} bytes exceeds the protocol limit of ${max}`);
      w.uint(v.length);
      w.bytes(v);
    },
    decode(r) {
      const n = r.uint();
      if (n > max) throw new XdrError(`opaque length ${n} exceeds the protocol limit of ${max}`);
      return r.bytes(n, `opaque<${max}>`);
    },
  };
}

/** Optional pointer (`T *x`): a 0/1 word, then T when present. null stands for NULL. */
export function xoptional<T>(inner: Codec<T>): Codec<T | null> {
  return {
    encode(w, v) {
      if (v === null || v === undefined) {
        w.uint(0);
      } else {
        w.uint(1);
        inner.encode(w, v);
      }
    },
    decode(r) {
      const present = r.uint();
      if (present === 0) return null;
      if (present !== 1) throw new XdrError(`optional pointer flag must be 0 or 1, got ${present}`);
      return inner.decode(r);
    },
  };
}

/** remote_string (optional string) */
export const xostr = xoptional(xstr);

/** Variable-length array (`T x<max>`); the bound is enforced both ways (the daemon rejects over-long arrays). */
export function xarray<T>(inner: Codec<T>, max: number): Codec<T[]> {
  return {
    encode(w, v) {
      if (v.length > max)
        throw new XdrError(`array of ${v.length} items exceeds the protocol limit of ${max}`);
      w.uint(v.length);
      for (const item of v) inner.encode(w, item);
    },
    decode(r) {
      const n = r.uint();
      if (n > max) throw new XdrError(`array length ${n} exceeds the protocol limit of ${max}`);
      // Each element takes at least 4 bytes: a cheap guard against a hostile count.
      if (n * 4 > r.remaining)
        throw new XdrError(`array length ${n} cannot fit in the ${r.remaining} bytes left`);
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = inner.decode(r);
      return out;
    },
  };
}

/** Fixed-length array (`T x[n]`). */
export function xfixedArray<T>(inner: Codec<T>, n: number): Codec<T[]> {
  return {
    encode(w, v) {
      if (v.length !== n) throw new XdrError(`fixed array needs exactly ${n} items, got ${v.length}`);
      for (const item of v) inner.encode(w, item);
    },
    decode(r) {
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = inner.decode(r);
      return out;
    },
  };
}

/**
 * `char x[n]` as a string: every char is widened to a 4-byte word on the wire (so
 * node_get_info's `char model[32]` takes 128 bytes); the text ends at the first NUL.
 */
export function xcharArray(n: number): Codec<string> {
  return {
    encode(w, v) {
      const bytes = Buffer.from(v, 'latin1');
      for (let i = 0; i < n; i++) w.int(i < bytes.length ? (bytes[i] << 24) >> 24 : 0);
    },
    decode(r) {
      const bytes: number[] = [];
      let ended = false;
      for (let i = 0; i < n; i++) {
        const c = r.int() & 0xff;
        if (c === 0) ended = true;
        if (!ended) bytes.push(c);
      }
      return Buffer.from(bytes).toString('latin1');
    },
  };
}

export type Fields = Record<string, Codec<unknown>>;
export type StructType<F extends Fields> = { [K in keyof F]: CodecType<F[K]> };

/** A struct: its fields in declaration order, no padding beyond each field's own. */
export function xstruct<F extends Fields>(fields: F): Codec<StructType<F>> {
  const entries = Object.entries(fields);
  return {
    encode(w, v) {
      for (const [name, codec] of entries) {
        const value = (v as Record<string, unknown>)[name];
        try {
          codec.encode(w, value);
        } catch (e) {
          throw fieldError(e, name);
        }
      }
    },
    decode(r) {
      const out: Record<string, unknown> = {};
      for (const [name, codec] of entries) {
        try {
          out[name] = codec.decode(r);
        } catch (e) {
          throw fieldError(e, name);
        }
      }
      return out as StructType<F>;
    },
  };
}

function fieldError(e: unknown, field: string): Error {
  if (e instanceof XdrError) return new XdrError(`${field}: ${e.message}`);
  if (e instanceof Error) return new XdrError(`${field}: ${e.message}`);
  return new XdrError(`${field}: ${String(e)}`);
}

/** Maps a codec's value both ways, e.g. to present a wire struct as a class. */
export function xmap<W, T>(inner: Codec<W>, from: (w: W) => T, to: (t: T) => W): Codec<T> {
  return {
    encode: (w, v) => inner.encode(w, to(v)),
    decode: (r) => from(inner.decode(r)),
  };
}

/** Encodes a value to a fresh Buffer. */
export function encode<T>(codec: Codec<T>, value: T): Buffer {
  const w = new XdrWriter(256);
  codec.encode(w, value);
  return w.toBuffer();
}

/** Decodes a whole payload; trailing bytes mean the shape is wrong, so they are an error. */
export function decode<T>(codec: Codec<T>, buf: Buffer, offset = 0, end = buf.length): T {
  const r = new XdrReader(buf, offset, end);
  const v = codec.decode(r);
  if (r.pos !== end) throw new XdrError(`${end - r.pos} unexpected trailing bytes after the payload`);
  return v;
}
