/**
 * Which errors a client may see (STYLE §11): a catalogued `KesError` goes out with its
 * status and wire message; anything else becomes a generic 500 and its detail goes only
 * to the error log, as the cause.
 *
 * The client-visible codes are derived from `@kes/core`'s catalogue, so a new code is
 * answered as catalogued without touching the server. The exceptions are the library-side
 * codes below: their message is the caller's free text (a file path, a config problem, an
 * OpenSSL reason), which a key store or a bug could fill with internals.
 */
import { ERROR_CATALOGUE, KesError, isKesError } from '@kes/core';
import type { KesErrorCode } from '@kes/core';

/**
 * Codes that describe a library caller's mistake, never a request's: their messages carry
 * free text. When one reaches the request path it is a bug or a key store leaking detail,
 * so the client gets `internal server error`.
 */
export const LIBRARY_ONLY_CODES: ReadonlySet<KesErrorCode> = new Set<KesErrorCode>([
  'ERR_KES_INVALID_ARGUMENT',
  'ERR_KES_INVALID_CONFIG',
  'ERR_KES_INVALID_API_KEY',
  'ERR_KES_INVALID_CERTIFICATE',
  'ERR_KES_INVALID_KEY_ENCODING',
]);

/** Every catalogued code a client may see as it is. */
export const CLIENT_CODES: ReadonlySet<KesErrorCode> = new Set(
  (Object.keys(ERROR_CATALOGUE) as KesErrorCode[]).filter((code) => !LIBRARY_ONLY_CODES.has(code)),
);

/** The error to answer with: `e` itself when its code is client-visible, else `ERR_KES_INTERNAL` with `e` as cause. */
export function clientError(e: unknown): KesError {
  return isKesError(e) && CLIENT_CODES.has(e.code) ? e : new KesError('ERR_KES_INTERNAL', [], { cause: e });
}

/** Messages of an error and its causes (at most 5), for the operator's error log only. */
export function causeChain(cause: unknown): string | undefined {
  const parts: string[] = [];
  for (let c = cause, depth = 0; c !== undefined && c !== null && depth < 5; depth++) {
    parts.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.length > 0 ? parts.join(': ') : undefined;
}
