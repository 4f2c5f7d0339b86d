// A small JSON-over-HTTP(S) client for the Google APIs the GCP key store talks to
// (Secret Manager, the OAuth2 token endpoint, the metadata server): keep-alive
// agents, a timeout on every request, cancellation, bounded response bodies. It
// knows nothing about KES errors; the store maps its results and GcpTransportErrors.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** One request. `url` is complete (path percent-encoded, query set). */
export interface GcpHttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON-encoded when an object; sent as is when a string (e.g. a form body, with its own content type). */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
}

/** An answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export interface GcpHttpResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class GcpTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GcpTransportError';
    this.kind = kind;
  }
}

/** A listing page of 25 000 secrets is a few MiB; anything far larger is not Secret Manager. */
const MAX_BODY_BYTES = 32 << 20;

/** Speaks HTTP(S) to the Google endpoints; one client per key store. */
export class GcpHttpClient {
  readonly #timeoutMs: number;
  readonly #https: HttpsAgent;
  readonly #http: HttpAgent;

  /** @param ca extra trust anchors (PEM) for https endpoints; absent → Node's default CAs. */
  constructor(timeoutMs: number, ca?: string) {
    this.#timeoutMs = timeoutMs;
    this.#https = new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) });
    this.#http = new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends one request. Resolves with any HTTP answer (callers judge the status);
   * rejects with the caller's `signal.reason` when it aborts, or a
   * `GcpTransportError` for network failures, timeouts and oversized answers.
   * Messages name method, host and path, never the query or a header.
   */
  request(req: GcpHttpRequest): Promise<GcpHttpResponse> {
    const { signal, url } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const what = `${req.method} ${url.host}${url.pathname}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
    let payload: Buffer | undefined;
    if (typeof req.body === 'string') payload = Buffer.from(req.body, 'utf8');
    else if (req.body !== undefined) {
      payload = Buffer.from(JSON.stringify(req.body), 'utf8');
      headers['Content-Type'] = 'application/json';
    }
    if (payload) headers['Content-Length'] = String(payload.byteLength);
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;

    return new Promise<GcpHttpResponse>((resolve, reject) => {
      let settled = false;
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        timeout.removeEventListener('abort', onTimeout);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => {
        finish(() => reject(signal?.reason));
        r.destroy();
      };
      const onTimeout = (): void => {
        finish(() => reject(new GcpTransportError('timeout', `${what}: no answer within ${this.#timeoutMs} ms`)));
        r.destroy();
      };
      const r = send(url, { method: req.method, headers, agent: https ? this.#https : this.#http }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > MAX_BODY_BYTES) {
            finish(() => reject(new GcpTransportError('too-large', `${what}: response larger than ${MAX_BODY_BYTES} bytes`)));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          if (text.length > 0) {
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              body = undefined;
            }
          }
          finish(() => resolve({ status: res.statusCode ?? 0, body }));
        });
        res.on('error', (err) => finish(() => reject(new GcpTransportError('network', `${what}: ${err.message}`, { cause: err }))));
      });
      r.on('error', (err) => finish(() => reject(new GcpTransportError('network', `${what}: ${err.message}`, { cause: err }))));
      timeout.addEventListener('abort', onTimeout, { once: true });
      signal?.addEventListener('abort', onAbort, { once: true });
      r.end(payload);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.#https.destroy();
    this.#http.destroy();
  }
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
