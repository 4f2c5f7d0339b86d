// What is KeyControl's own in the Entrust key store's HTTP: every call is a POST below
// `{endpoint}/vault/1.0/` with the token in `X-Vault-Auth`, and the API's error bodies.
// The transport (keep-alive agent, timeouts, cancellation, bounded bodies,
// TransportErrors) is the shared HttpsJsonClient.
import { HttpsJsonClient } from './https-client.js';
import type { HttpsJsonRequest, HttpsJsonResponse } from './https-client.js';

/** The header KeyControl reads the access token from. */
export const AUTH_HEADER = 'X-Vault-Auth';

/** One POST to the KeyControl API. */
export interface EntrustRequest {
  /** Below `/vault/1.0/`, already percent-encoded, e.g. `CreateSecret/`. */
  readonly path: string;
  readonly body?: unknown;
  /** Sent as `X-Vault-Auth`. */
  readonly token?: string;
  readonly signal?: AbortSignal | undefined;
  /** Largest accepted response body in bytes (default 1 MiB). */
  readonly maxBytes?: number | undefined;
}

/** An HTTP answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export type EntrustResponse = HttpsJsonResponse;

/**
 * The client of one KeyControl endpoint. Transport errors read
 * `EntrustTransportError: entrust keycontrol: POST /vault/1.0/Login/…: …`: the path,
 * never the body (it may hold a password or a key) nor the token.
 *
 * @param ca PEM text of the CA(s) that verify the server; absent → the system roots.
 */
export function createEntrustHttpClient(endpoint: URL, timeoutMs: number, ca?: string): HttpsJsonClient {
  return new HttpsJsonClient({
    label: 'entrust keycontrol',
    errorName: 'EntrustTransportError',
    endpoint,
    timeoutMs,
    maxBytes: 1 << 20,
    tls: { ca },
  });
}

/** The HTTP request of a KeyControl call. */
export function entrustRequest(req: EntrustRequest): HttpsJsonRequest {
  return {
    method: 'POST',
    path: `vault/1.0/${req.path}`,
    body: req.body,
    signal: req.signal,
    maxBytes: req.maxBytes || undefined,
    headers: req.token !== undefined ? { [AUTH_HEADER]: req.token } : undefined,
  };
}

/**
 * The `error` text of a KeyControl error body (`{"error": "Secret not found"}`), cut
 * to 200 characters; `''` when there is none. Only ever called on error answers, whose
 * text is the service's own message and never a secret value.
 */
export function entrustError(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const e = (body as { error?: unknown }).error;
    if (typeof e === 'string') return e.length > 200 ? `${e.slice(0, 200)}…` : e;
  }
  return '';
}

/** `HTTP 404: Secret not found` — for causes and logs. */
export function describeAnswer(res: EntrustResponse): string {
  const e = entrustError(res.body);
  return `HTTP ${res.status}${e ? `: ${e}` : ''}`;
}
