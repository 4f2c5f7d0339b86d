/**
 * Minimal proto3 wire-format reader/writer for the KES `KeyVersion` message
 * (kes-protocol.md §8.1):
 *
 *   KeyVersion { SecretKey key = 1; HMACKey hmac_key = 2; Timestamp created_at = 3; string created_by = 4; }
 *   SecretKey  { bytes key = 1; uint32 type = 2; }
 *   HMACKey    { bytes key = 1; uint32 hash = 2; }
 *   Timestamp  { int64 seconds = 1; int32 nanos = 2; }
 *
 * The writer reproduces Go's deterministic output (fields in number order, zero values
 * omitted). The reader follows protobuf-go: unknown fields and fields with an
 * unexpected wire type are skipped, repeated message fields are merged, repeated
 * scalars keep the last value, proto3 strings must be valid UTF-8.
 */

/** Thrown (internally) for malformed wire data. */
export class ProtobufError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ProtobufError';
  }
}

/** The decoded fields of a KeyVersion, before KES's semantic checks. */
export interface KeyVersionMessage {
  key?: { key: Uint8Array; type: number };
  hmacKey?: { key: Uint8Array; hash: number };
  createdAt?: { seconds: number; nanos: number };
  createdBy: string;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_SGROUP = 3;
const WIRE_EGROUP = 4;
const WIRE_I32 = 5;

interface Field {
  num: number;
  wire: number;
  /** Varint value (wire type 0). */
  varint: bigint;
  /** Payload view (wire type 2). */
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

class WireReader {
  #b: Uint8Array;
  #i = 0;

  constructor(b: Uint8Array) {
    this.#b = b;
  }

  get done(): boolean {
    return this.#i >= this.#b.length;
  }

  varint(): bigint {
    const b = this.#b;
    let v = 0n;
    for (let k = 0; k < 10; k++) {
      if (this.#i >= b.length) throw new ProtobufError('truncated varint');
      const c = b[this.#i++]!;
      if (k === 9 && c > 1) throw new ProtobufError('varint overflow');
      v |= BigInt(c & 0x7f) << BigInt(7 * k);
      if (c < 0x80) return v;
    }
    throw new ProtobufError('varint overflow');
  }

  skip(n: number): void {
    if (n > this.#b.length - this.#i) throw new ProtobufError('truncated field');
    this.#i += n;
  }

  take(n: bigint): Uint8Array {
    if (n > BigInt(this.#b.length - this.#i)) throw new ProtobufError('truncated field');
    const len = Number(n);
    const out = this.#b.subarray(this.#i, this.#i + len);
    this.#i += len;
    return out;
  }

  tag(): { num: number; wire: number } {
    const t = this.varint();
    const num = t >> 3n;
    const wire = Number(t & 7n);
    if (num === 0n || num > 0x1fffffffn) throw new ProtobufError('invalid field number');
    return { num: Number(num), wire };
  }

  /** Consumes one field value of `wire` type; returns it (varint / bytes) or skips it. */
  value(num: number, wire: number): Field {
    switch (wire) {
      case WIRE_VARINT:
        return { num, wire, varint: this.varint(), bytes: EMPTY };
      case WIRE_LEN:
        return { num, wire, varint: 0n, bytes: this.take(this.varint()) };
      case WIRE_I64:
        this.skip(8);
        break;
      case WIRE_I32:
        this.skip(4);
        break;
      case WIRE_SGROUP:
        this.#skipGroup(num);
        break;
      default:
        // A stray end-group, or wire types 6 and 7.
        throw new ProtobufError('invalid wire type');
    }
    return { num, wire, varint: 0n, bytes: EMPTY };
  }

  #skipGroup(groupNum: number): void {
    for (;;) {
      if (this.done) throw new ProtobufError('truncated group');
      const { num, wire } = this.tag();
      if (wire === WIRE_EGROUP) {
        if (num !== groupNum) throw new ProtobufError('mismatched end group');
        return;
      }
      this.value(num, wire);
    }
  }
}

/** Every top-level field of a message, in wire order. */
function* fields(b: Uint8Array): Generator<Field> {
  const r = new WireReader(b);
  while (!r.done) {
    const { num, wire } = r.tag();
    yield r.value(num, wire);
  }
}

/**
 * Decodes a message whose occurrences (a repeated message field is merged as if its
 * encodings were concatenated) are given in order.
 */
function* mergedFields(parts: readonly Uint8Array[]): Generator<Field> {
  for (const p of parts) yield* fields(p);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes a KeyVersion. Structural errors only; the caller checks lengths and types.
 *
 * @throws ProtobufError on malformed wire data.
 */
export function decodeKeyVersion(b: Uint8Array): KeyVersionMessage {
  const keyParts: Uint8Array[] = [];
  const hmacParts: Uint8Array[] = [];
  const timeParts: Uint8Array[] = [];
  let createdBy: Uint8Array = EMPTY;
  for (const f of fields(b)) {
    if (f.wire !== WIRE_LEN) continue; // all four known fields are length-delimited
    if (f.num === 1) keyParts.push(f.bytes);
    else if (f.num === 2) hmacParts.push(f.bytes);
    else if (f.num === 3) timeParts.push(f.bytes);
    else if (f.num === 4) createdBy = f.bytes;
  }
  const msg: KeyVersionMessage = { createdBy: '' };
  const sub = (parts: Uint8Array[]) => {
    let key: Uint8Array = EMPTY;
    let n = 0;
    for (const f of mergedFields(parts)) {
      if (f.num === 1 && f.wire === WIRE_LEN) key = f.bytes;
      else if (f.num === 2 && f.wire === WIRE_VARINT) n = Number(BigInt.asUintN(32, f.varint));
    }
    return { key, n };
  };
  if (keyParts.length > 0) {
    const { key, n } = sub(keyParts);
    msg.key = { key, type: n };
  }
  if (hmacParts.length > 0) {
    const { key, n } = sub(hmacParts);
    msg.hmacKey = { key, hash: n };
  }
  if (timeParts.length > 0) {
    let seconds = 0;
    let nanos = 0;
    for (const f of mergedFields(timeParts)) {
      if (f.wire !== WIRE_VARINT) continue;
      if (f.num === 1) seconds = Number(BigInt.asIntN(64, f.varint));
      else if (f.num === 2) nanos = Number(BigInt.asIntN(32, f.varint));
    }
    msg.createdAt = { seconds, nanos };
  }
  try {
    msg.createdBy = strictUtf8.decode(createdBy);
  } catch {
    throw new ProtobufError('created_by is not valid UTF-8');
  }
  return msg;
}

// ---------------------------------------------------------------------------
// Writer

class WireWriter {
  #chunks: number[] = [];

  varint(v: bigint): this {
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.#chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.#chunks.push(Number(x));
    return this;
  }

  tag(num: number, wire: number): this {
    return this.varint(BigInt((num << 3) | wire));
  }

  bytes(num: number, b: Uint8Array): this {
    this.tag(num, WIRE_LEN).varint(BigInt(b.length));
    for (let i = 0; i < b.length; i++) this.#chunks.push(b[i]!);
    return this;
  }

  finish(): Uint8Array {
    const out = Uint8Array.from(this.#chunks);
    this.#chunks.fill(0); // may hold key bytes
    this.#chunks = [];
    return out;
  }
}

/** Encodes a sub-message with `bytes key = 1` and `uint32 <n> = 2`. */
function keyMessage(key: Uint8Array, n: number): Uint8Array {
  const w = new WireWriter();
  if (key.length > 0) w.bytes(1, key);
  if (n !== 0) w.tag(2, WIRE_VARINT).varint(BigInt(n >>> 0));
  return w.finish();
}

/**
 * Encodes a KeyVersion exactly as Go's deterministic proto3 marshaller does.
 * `createdAt` is always written (KES always sets it), its zero fields are omitted.
 */
export function encodeKeyVersion(msg: {
  key: { key: Uint8Array; type: number };
  hmacKey: { key: Uint8Array; hash: number };
  createdAt: { seconds: number; nanos: number };
  createdBy: string;
}): Uint8Array {
  const w = new WireWriter();
  const k = keyMessage(msg.key.key, msg.key.type);
  const h = keyMessage(msg.hmacKey.key, msg.hmacKey.hash);
  w.bytes(1, k).bytes(2, h);
  k.fill(0);
  h.fill(0);
  const t = new WireWriter();
  if (msg.createdAt.seconds !== 0) t.tag(1, WIRE_VARINT).varint(BigInt(Math.trunc(msg.createdAt.seconds)));
  if (msg.createdAt.nanos !== 0) t.tag(2, WIRE_VARINT).varint(BigInt(Math.trunc(msg.createdAt.nanos)));
  w.bytes(3, t.finish());
  if (msg.createdBy !== '') w.bytes(4, new TextEncoder().encode(msg.createdBy));
  return w.finish();
}
