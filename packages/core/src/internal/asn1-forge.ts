/**
 * Lazy access to node-forge's ASN.1/DER layer. Only `lib/asn1.js` is loaded (about a
 * tenth of the load time of the whole of node-forge), and only when a certificate is
 * first built, so that users of @kes/core who never create certificates never load it.
 */
import { createRequire } from 'node:module';
import type * as forge from 'node-forge';

export type Asn1 = forge.asn1.Asn1;
export type Asn1Module = typeof forge.asn1;
/** A tag number; context-specific tags (`[0]`, `[3]`, …) reuse the numeric type. */
export type Asn1Tag = forge.asn1.Type;

let cached: Asn1Module | undefined;

/** node-forge's `asn1` namespace, loaded synchronously on first use. */
export function asn1(): Asn1Module {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    cached = require('node-forge/lib/asn1.js') as Asn1Module;
  }
  return cached;
}

/** A Uint8Array as the binary string node-forge works with. */
export function toBinary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** node-forge's binary string as a Buffer. */
export function fromBinary(binary: string): Buffer {
  return Buffer.from(binary, 'latin1');
}
