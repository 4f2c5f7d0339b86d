// What is Vault's own in talking to Vault: the `/v1/` path layout, the token and
// namespace headers, and Vault's error bodies. The transport (timeouts, cancellation,
// bounded bodies, TransportErrors) is the shared HttpsJsonClient.
import { HttpsJsonClient } from './https-client.js';
import type { HttpsJsonRequest, HttpsJsonResponse } from './https-client.js';

/** TLS material for connections to Vault (already loaded, PEM text). */
export interface VaultTlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipVerify?: boolean;
}

/** One request to the Vault API. `path` is below `/v1/` and already percent-encoded. */
export interface VaultRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: string;
  readonly body?: unknown;
  readonly token?: string;
  /** Sent as `X-Vault-Namespace` when non-empty. */
  readonly namespace?: string;
  readonly signal?: AbortSignal | undefined;
  /** Largest accepted response body in bytes (default 32 MiB, as upstream reads list bodies). */
  readonly maxBytes?: number;
}

/** A Vault answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export type VaultResponse = HttpsJsonResponse;

/** The client of one Vault endpoint; transport errors read `VaultTransportError: vault: PUT auth/…: …`. */
export function createVaultHttpClient(endpoint: URL, timeoutMs: number, tls: VaultTlsMaterial = {}): HttpsJsonClient {
  return new HttpsJsonClient({
    label: 'vault',
    errorName: 'VaultTransportError',
    endpoint,
    timeoutMs,
    maxBytes: 32 << 20,
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.insecureSkipVerify !== true },
  });
}

/** The HTTP request of a Vault API call. Messages name method and path, never the token. */
export function vaultRequest(req: VaultRequest): HttpsJsonRequest {
  const headers: Record<string, string> = {};
  if (req.token) headers['X-Vault-Token'] = req.token;
  if (req.namespace) headers['X-Vault-Namespace'] = req.namespace;
  return {
    method: req.method,
    path: `v1/${req.path}`,
    query: req.query,
    what: `${req.method} ${req.path}`,
    headers,
    body: req.body,
    signal: req.signal,
    maxBytes: req.maxBytes,
  };
}

/** The `errors` array of a Vault error body, joined (Vault never echoes secret values there). */
export function vaultErrors(body: unknown): string {
  if (typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors)) {
    return (body as { errors: unknown[] }).errors.map(String).join('; ');
  }
  return '';
}
