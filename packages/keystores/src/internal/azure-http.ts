// What is Azure's own in the Azure key store's HTTP: Key Vault's error bodies and the
// client settings. The transport (keep-alive agents, timeouts, cancellation, bounded
// bodies, TransportErrors) is the shared HttpsJsonClient.
import { rootCertificates } from 'node:tls';
import { HttpsJsonClient, field } from './https-client.js';
import type { HttpsJsonResponse } from './https-client.js';

/** An HTTP answer: status, headers and the body (JSON-parsed when it is JSON). */
export type AzureHttpResponse = HttpsJsonResponse;

/**
 * The client of one Azure store, for Key Vault and the token endpoints. Transport
 * errors read `AzureTransportError: azure: GET host/path: …`: never the query (it may
 * carry a client id) or a body. A list page of 25 secrets is a few KiB: 4 MiB at most.
 *
 * @param caPem extra trusted CA certificates (PEM), added to Node's built-in roots.
 */
export function createAzureHttpClient(timeoutMs: number, caPem?: string): HttpsJsonClient {
  return new HttpsJsonClient({
    label: 'azure',
    errorName: 'AzureTransportError',
    timeoutMs,
    maxBytes: 4 << 20,
    // Added to, not instead of, the public roots: the login host keeps its public certificate.
    tls: { ca: caPem ? [...rootCertificates, caPem] : undefined },
    // A kept-alive connection the server closed while idle fails on reuse before the
    // request is processed: GETs are sent once more (a repeated PUT would add a version).
    retryResetGet: true,
  });
}

/**
 * Key Vault's error text: `code (inner code): message`. Key Vault messages name
 * secrets but never carry their values.
 */
export function vaultError(body: unknown): string {
  const code = field(body, 'error', 'code');
  const inner = field(body, 'error', 'innererror', 'code');
  const message = field(body, 'error', 'message');
  const parts = [typeof code === 'string' ? code : '', typeof inner === 'string' ? `(${inner})` : ''].filter(Boolean).join(' ');
  return [parts, typeof message === 'string' ? message : ''].filter(Boolean).join(': ');
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
