// How a stored value becomes the `material` string of a CipherTrust secret and back.
//
// Upstream KES sends the value bytes as the JSON string itself (`dataType: "seed"`)
// and reads `material` back as bytes. Every value KES writes is ASCII (base64 or JSON
// text), so that layout is kept for any value that is valid UTF-8 without NUL. Other
// bytes cannot travel in a JSON string unchanged (Go would replace them with U+FFFD),
// so they, and text that starts with the escape marker, are stored as
// `kes-ts:base64:<std base64>`. Upstream never writes such values, so it never has to
// read one.

/** Prefix of escaped (non-text) values. Contains `:` and `-`, which base64 and JSON values never start with. */
export const ESCAPE_PREFIX = 'kes-ts:base64:';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The `material` text for `value`. */
export function encodeMaterial(value: Uint8Array): string {
  let text: string | undefined;
  try {
    text = strictUtf8.decode(value);
  } catch {
    text = undefined;
  }
  // NUL is escaped too: a server that keeps material as a C string would cut it off there.
  if (text === undefined || text.includes('\0') || text.startsWith(ESCAPE_PREFIX)) {
    return ESCAPE_PREFIX + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  return text;
}

/** The bytes a `material` text stands for (a fresh buffer); undefined if an escaped value is malformed. */
export function decodeMaterial(text: string): Uint8Array | undefined {
  if (text.startsWith(ESCAPE_PREFIX)) {
    const b64 = text.slice(ESCAPE_PREFIX.length);
    if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
