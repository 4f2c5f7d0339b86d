/**
 * PEM and base64 helpers with Go semantics (encoding/pem, encoding/base64 StdEncoding,
 * net/url QueryUnescape). Not exported from the package.
 */

/** One PEM block; `bytes` is undefined when its body could not be decoded. */
export interface PemBlock {
  readonly type: string;
  readonly bytes: Buffer | undefined;
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64 (Go `base64.StdEncoding`): no URL-safe alphabet,
 * no missing padding, no whitespace. Returns undefined on malformed input, because
 * Node's own decoder silently skips invalid characters.
 */
export function decodeStdBase64(text: string): Buffer | undefined {
  if (!STD_BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

const PEM_BLOCK = /-----BEGIN ([^\r\n]*?)-----([\s\S]*?)-----END \1-----/g;

/**
 * Every PEM block in `text`, in order. A block whose body is not valid base64
 * (after removing line breaks and blanks), or that carries RFC 1421 headers, is
 * returned with `bytes` undefined so that callers can reject it.
 */
export function decodePemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const type = m[1] ?? '';
    const body = m[2] ?? '';
    // Headers (`Proc-Type: …`) mean an encrypted or otherwise non-plain block.
    const bytes = body.includes(':') ? undefined : decodeStdBase64(body.replace(/[\s]/g, ''));
    out.push({ type, bytes });
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Go `url.QueryUnescape`: `+` becomes a space and `%XX` a byte; a `%` not followed
 * by two hex digits is an error (undefined). Works on bytes, so the result is
 * returned as a Buffer.
 */
export function queryUnescape(text: string): Buffer | undefined {
  const src = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 /* % */) {
      const hi = i + 2 < src.length ? hexValue(src[i + 1]!) : -1;
      const lo = i + 2 < src.length ? hexValue(src[i + 2]!) : -1;
      if (hi < 0 || lo < 0) return undefined;
      out[n++] = hi * 16 + lo;
      i += 2;
    } else if (c === 0x2b /* + */) {
      out[n++] = 0x20;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}
