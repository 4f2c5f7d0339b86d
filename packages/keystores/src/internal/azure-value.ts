// How a stored value becomes the `value` string of a Key Vault secret and back.
//
// Upstream KES stores the value bytes as the secret's value text. Every value KES
// writes is ASCII (base64 or JSON text), so that layout is kept for any value that is
// valid UTF-8. Bytes that are not valid UTF-8 cannot travel in a JSON string, so they
// (and, to stay unambiguous, text that starts with the escape marker) are stored as
// `kes-ts:base64:<std base64>`, the same escape the Vault store uses. Upstream never
// writes such values, so it never reads one either.
import { ESCAPE_PREFIX } from './vault-value.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The secret value text for `value`. */
export function encodeAzureValue(value: Uint8Array): string {
  let text: string | undefined;
  try {
    text = strictUtf8.decode(value);
  } catch {
    text = undefined;
  }
  if (text === undefined || text.startsWith(ESCAPE_PREFIX)) {
    return ESCAPE_PREFIX + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  return text;
}

/** The bytes a secret value text stands for; `undefined` if an escaped value is malformed. */
export function decodeAzureValue(text: string): Uint8Array | undefined {
  if (text.startsWith(ESCAPE_PREFIX)) {
    const b64 = text.slice(ESCAPE_PREFIX.length);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
