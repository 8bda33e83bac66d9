// JSON encoding of contract messages with a strict check that they are plain data: a bigint,
// a function, undefined in an array, a non-finite number, or an object that is not a plain
// object (a Date, a Map, a Buffer, a class instance) is refused with the path to it, so a
// contract change that would not survive a real transport fails in the loopback already.
// Errors cross as the catalogue's plain form (errorToJson / errorFromJson).
import { KestrelError, type ErrorJson } from '../../errors/index.js';

/** A call on the wire: the operation and its single argument. */
export type CallEnvelope = { operation: string; request: unknown };
/** A reply on the wire: the result, or the error as data. */
export type ReplyEnvelope = { ok: true; result: unknown } | { ok: false; error: ErrorJson };

function check(v: unknown, path: string): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) throw notPlain(path, `the number ${v} has no JSON form`);
      return;
    case 'object': {
      if (v === null) return;
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          if (x === undefined) throw notPlain(`${path}[${i}]`, 'undefined in an array');
          check(x, `${path}[${i}]`);
        });
        return;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
        throw notPlain(path, `an instance of ${name}, not a plain object`);
      }
      for (const [k, x] of Object.entries(v)) if (x !== undefined) check(x, `${path}.${k}`);
      return;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      throw notPlain(path, `a ${typeof v}`);
  }
}

function notPlain(path: string, what: string): KestrelError {
  return new KestrelError(
    'not-plain-data',
    `${path} is ${what}: the agent contract carries plain JSON data only.`,
    {
      fix: 'send strings, numbers, booleans, null, arrays and plain objects (a bigint as a number or a string).',
    },
  );
}

/** JSON text of a plain-data value; throws not-plain-data naming the first offending path. */
export function encode(value: unknown, what = 'message'): string {
  check(value, what);
  return JSON.stringify(value);
}

export function decode<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function encodeCall(operation: string, request: unknown): string {
  return encode({ operation, request } satisfies CallEnvelope, operation);
}

export function encodeReply(reply: ReplyEnvelope): string {
  return encode(reply, 'reply');
}
