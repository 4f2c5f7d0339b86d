/**
 * Parser for the MessagePack ciphertext format written by KES v0.19.2 – v0.23.0
 * (kes-protocol.md §7.4): a fixarray of exactly five items — algorithm (str),
 * key id (str), iv (bin, 16 B), nonce (bin, 12 B), sealed bytes (bin) — and
 * nothing after it. Only what that format needs is implemented.
 */

/** The fields of a structured (MessagePack or JSON) legacy ciphertext. */
export interface LegacyCiphertext {
  readonly algorithm: string;
  readonly sealed: Uint8Array;
  readonly iv: Uint8Array;
  readonly nonce: Uint8Array;
}

const latin1 = new TextDecoder('latin1');

class Cursor {
  i = 0;
  constructor(readonly b: Uint8Array) {}

  /** Big-endian unsigned integer of `n` bytes, or -1 past the end. */
  uint(n: number): number {
    if (this.i + n > this.b.length) return -1;
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + this.b[this.i + k]!;
    this.i += n;
    return v;
  }

  take(n: number): Uint8Array | undefined {
    if (n < 0 || this.i + n > this.b.length) return undefined;
    const out = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return out;
  }

  /** A msgpack str (fixstr, str8/16/32). */
  str(): Uint8Array | undefined {
    const t = this.uint(1);
    if (t >= 0xa0 && t <= 0xbf) return this.take(t & 0x1f);
    if (t === 0xd9) return this.take(this.uint(1));
    if (t === 0xda) return this.take(this.uint(2));
    if (t === 0xdb) return this.take(this.uint(4));
    return undefined;
  }

  /** A msgpack bin (bin8/16/32). */
  bin(): Uint8Array | undefined {
    const t = this.uint(1);
    if (t === 0xc4) return this.take(this.uint(1));
    if (t === 0xc5) return this.take(this.uint(2));
    if (t === 0xc6) return this.take(this.uint(4));
    return undefined;
  }
}

/**
 * Parses a MessagePack ciphertext; `undefined` on any deviation from the format
 * (the caller then falls back to the raw format, as KES does). The returned byte
 * arrays are views into `b` (no copies). The algorithm text is returned as is; the
 * caller validates it.
 */
export function parseMsgpackCiphertext(b: Uint8Array): LegacyCiphertext | undefined {
  if (b[0] !== 0x95) return undefined;
  const c = new Cursor(b);
  c.i = 1;
  const alg = c.str();
  if (alg === undefined) return undefined;
  if (c.str() === undefined) return undefined; // key id: syntax only, ignored by KES @H
  const iv = c.bin();
  if (iv === undefined || iv.length !== 16) return undefined;
  const nonce = c.bin();
  if (nonce === undefined || nonce.length !== 12) return undefined;
  const sealed = c.bin();
  if (sealed === undefined || c.i !== b.length) return undefined;
  // The accepted names are ASCII, so a byte-for-byte latin1 view compares exactly.
  return { algorithm: latin1.decode(alg), sealed, iv, nonce };
}
