// The stored value as KeyControl holds it: `secret_data` is the standard base64 of
// the bytes KES stores (upstream sends a Go []byte, which encoding/json writes as
// standard, padded base64). Reading is strict: anything else is a corrupt secret,
// not something to guess at.

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `secret_data` for `value`: standard, padded base64 (what upstream KES writes). */
export function encodeSecretData(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

/**
 * The stored bytes from a `secret_data` string, in fresh memory the caller owns, or
 * `undefined` when it is not standard padded base64. Go's decoder also skips CR and
 * LF, so those are dropped first.
 *
 * @example
 * decodeSecretData('AAE='); // Uint8Array [0, 1]
 */
export function decodeSecretData(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\r\n]/g, '');
  if (!STD_BASE64.test(clean)) return undefined;
  return new Uint8Array(Buffer.from(clean, 'base64'));
}
