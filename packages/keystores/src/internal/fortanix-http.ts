// What is DSM's own in the Fortanix key store's HTTP: the client settings (body
// limit, pool size) and DSM's error texts. The transport (keep-alive agent, timeouts, cancellation, bounded bodies,
// TransportErrors) is the shared HttpsJsonClient.
import { HttpsJsonClient } from './https-client.js';
import type { HttpsJsonResponse } from './https-client.js';

/** An HTTP answer: the status, the parsed JSON body (undefined when empty or not JSON) and the raw text. */
export type FortanixResponse = HttpsJsonResponse;

/**
 * Largest accepted response body. A listing page of 100 objects with their metadata is
 * well below 1 MiB; an exported value is at most a few KiB. Anything larger is refused
 * so a misbehaving endpoint cannot make the server buffer without bound.
 */
export const MAX_RESPONSE_BYTES = 8 << 20;

/**
 * Connections per store. Requests beyond it queue for a free connection instead of
 * opening one TLS session each: a burst of creates must not become a burst of
 * handshakes against DSM (and every queued request still has its timeout).
 */
export const MAX_SOCKETS = 16;

/** The client of one DSM endpoint; transport errors read `FortanixTransportError: fortanix: GET /sys/v1/health: …`. */
export function createFortanixHttpClient(endpoint: URL, timeoutMs: number, ca: string | undefined): HttpsJsonClient {
  return new HttpsJsonClient({
    label: 'fortanix',
    errorName: 'FortanixTransportError',
    endpoint,
    timeoutMs,
    maxBytes: MAX_RESPONSE_BYTES,
    maxSockets: MAX_SOCKETS,
    tls: { ca },
  });
}

/** Longest piece of a DSM error text quoted in a cause. */
const MAX_ERROR_TEXT = 200;

/**
 * The error text of a DSM answer. DSM answers errors with a short plain-text message
 * (`sobject does not exist`); a JSON body with a `message` field is read as well.
 * Only the server's own words are quoted, cut to {@link MAX_ERROR_TEXT} characters
 * and reduced to one line: request bodies (values, API keys) are never echoed.
 */
export function fortanixErrorText(res: Pick<FortanixResponse, 'body' | 'text'>): string {
  let text = res.text;
  const b = res.body;
  if (typeof b === 'object' && b !== null && typeof (b as { message?: unknown }).message === 'string') {
    text = (b as { message: string }).message;
  } else if (typeof b === 'string') {
    text = b;
  }
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_TEXT ? `${line.slice(0, MAX_ERROR_TEXT)}…` : line;
}
