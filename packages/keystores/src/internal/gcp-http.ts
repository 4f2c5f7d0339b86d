// What is Google's own in the GCP key store's HTTP: its error bodies. The transport
// (keep-alive agents, timeouts, cancellation, bounded bodies, TransportErrors) is the
// shared HttpsJsonClient, one per store for Secret Manager, the OAuth2 token endpoint
// and the metadata server.
import { HttpsJsonClient } from './https-client.js';
import type { HttpsJsonResponse } from './https-client.js';

/** An answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export type GcpHttpResponse = HttpsJsonResponse;

/**
 * The client of one GCP store. Transport errors read `GcpTransportError: GET host/path: …`:
 * method, host and path, never the query or a header.
 * A listing page of 25 000 secrets is a few MiB; anything far larger is not Secret Manager.
 *
 * @param ca extra trust anchors (PEM) for https endpoints; absent → Node's default CAs.
 */
export function createGcpHttpClient(timeoutMs: number, ca?: string): HttpsJsonClient {
  return new HttpsJsonClient({ label: '', errorName: 'GcpTransportError', timeoutMs, maxBytes: 32 << 20, tls: { ca } });
}

/**
 * `status message` of a Google JSON error (`{error: {code, status, message}}`), or of an
 * OAuth2 error (`{error, error_description}`); `''` when the body is neither. Google
 * never echoes secret payloads or credentials in these texts.
 */
export function googleError(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const e = (body as { error?: unknown; error_description?: unknown }).error;
  if (typeof e === 'string') {
    const d = (body as { error_description?: unknown }).error_description;
    return typeof d === 'string' && d ? `${e}: ${d}` : e;
  }
  if (typeof e !== 'object' || e === null) return '';
  const { status, message } = e as { status?: unknown; message?: unknown };
  return [typeof status === 'string' ? status : '', typeof message === 'string' ? message : ''].filter(Boolean).join(': ');
}

/** The `error.status` of a Google JSON error (`NOT_FOUND`, `ALREADY_EXISTS`, …), or `''`. */
export function googleStatus(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const e = (body as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return '';
  const s = (e as { status?: unknown }).status;
  return typeof s === 'string' ? s : '';
}
