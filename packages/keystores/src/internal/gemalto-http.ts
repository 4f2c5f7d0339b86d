// What is CipherTrust Manager's own in the KeySecure key store's HTTP: the client
// settings and the API's error bodies. The transport (keep-alive agent, timeouts, cancellation, bounded bodies,
// TransportErrors) is the shared HttpsJsonClient.
import { HttpsJsonClient } from './https-client.js';
import type { HttpsJsonResponse } from './https-client.js';

/** An answer: the status, the parsed JSON body (undefined when empty or not JSON) and the text. */
export type GemaltoResponse = HttpsJsonResponse;

/**
 * The client of one CipherTrust Manager endpoint. Transport errors read
 * `GemaltoTransportError: gemalto: POST /api/v1/auth/tokens: …`. A list page of 200
 * secrets is far below the 32 MiB body limit (upstream's).
 *
 * @param endpoint base URL; a path in it is kept (`https://h/prefix` → `https://h/prefix/api/v1/…`)
 * @param ca PEM trust anchors for the server certificate (replaces the system roots when set)
 */
export function createGemaltoHttpClient(endpoint: URL, timeoutMs: number, ca?: string): HttpsJsonClient {
  return new HttpsJsonClient({ label: 'gemalto', errorName: 'GemaltoTransportError', endpoint, timeoutMs, maxBytes: 32 << 20, tls: { ca } });
}

/**
 * The error text of an answer, for logs: the API's `codeDesc` (and `code`), or the
 * start (200 characters) of a non-JSON body. CipherTrust error texts name the problem,
 * never the request's secret material or token.
 */
export function errorText(res: GemaltoResponse): string {
  const b = res.body;
  if (typeof b === 'object' && b !== null) {
    const desc = (b as { codeDesc?: unknown }).codeDesc;
    const code = (b as { code?: unknown }).code;
    if (typeof desc === 'string' && desc !== '') return `${desc.slice(0, 300)}${typeof code === 'number' ? ` (code ${code})` : ''}`;
    return '';
  }
  return b === undefined ? res.text.trim().slice(0, 200) : '';
}

/** `HTTP <status>[: <error text>]`. */
export function describeAnswer(res: GemaltoResponse): string {
  const e = errorText(res);
  return `HTTP ${res.status}${e ? `: ${e}` : ''}`;
}
