// How a stored value becomes the string field of a Vault secret and back.
//
// Upstream KES stores the value bytes as the JSON string itself. Every value KES
// writes is ASCII (base64 or JSON text), so that layout is kept for any value that is
// valid UTF-8. Bytes that are not valid UTF-8 cannot travel in a JSON string, so they
// (and, to stay unambiguous, text that starts with the escape marker or looks like a
// transit ciphertext) are stored as `kes-ts:base64:<std base64>`. Upstream never
// writes such values, so it never reads one either.

/** Prefix of escaped (non-text) values. Contains `:` and `-`, which base64 and JSON values never start with. */
export const ESCAPE_PREFIX = 'kes-ts:base64:';
/** Prefix of Vault transit ciphertexts (`vault:v<version>:…`). */
export const TRANSIT_PREFIX = 'vault:v';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The field text for `value` (no transit). */
export function encodeFieldValue(value: Uint8Array): string {
  let text: string | undefined;
  try {
    text = strictUtf8.decode(value);
  } catch {
    text = undefined;
  }
  if (text === undefined || text.startsWith(ESCAPE_PREFIX) || text.startsWith(TRANSIT_PREFIX)) {
    return ESCAPE_PREFIX + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  return text;
}

/** The bytes a (non-transit) field text stands for; undefined if an escaped value is malformed. */
export function decodeFieldValue(text: string): Uint8Array | undefined {
  if (text.startsWith(ESCAPE_PREFIX)) {
    const b64 = text.slice(ESCAPE_PREFIX.length);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

/** True if the field text is a transit ciphertext (`vault:v<digits>:`). */
export function isTransitCiphertext(text: string): boolean {
  return /^vault:v\d+:/.test(text);
}
