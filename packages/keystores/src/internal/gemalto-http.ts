// A small JSON-over-HTTP(S) client for the CipherTrust Manager / KeySecure REST API:
// one keep-alive agent, a timeout on every request, cancellation, bounded response
// bodies. It knows nothing about KES errors; the key store maps its results and
// `GemaltoTransportError`s.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** One request. `path` is relative to the endpoint (e.g. `api/v1/vault/secrets`) and already percent-encoded. */
export interface GemaltoRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: string;
  readonly body?: unknown;
  /** Sent as `Authorization: Bearer <jwt>` when set. */
  readonly jwt?: string;
  readonly signal?: AbortSignal | undefined;
}

/** An answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export interface GemaltoResponse {
  readonly status: number;
  readonly body: unknown;
  /** The raw body when it is not JSON (e.g. a proxy's text page), cut to 200 characters. */
  readonly text: string;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class GemaltoTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GemaltoTransportError';
    this.kind = kind;
  }
}

/** Largest accepted response body: a list page of 200 secrets is far below it (upstream allows 32 MiB). */
export const MAX_RESPONSE_BYTES = 32 << 20;

/** Speaks HTTP(S) to one CipherTrust Manager endpoint. */
export class GemaltoHttpClient {
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #https: boolean;

  /**
   * @param endpoint base URL; a path in it is kept (`https://h/prefix` → `https://h/prefix/api/v1/…`)
   * @param timeoutMs deadline of one request, connection included
   * @param ca PEM trust anchors for the server certificate (replaces the system roots when set)
   */
  constructor(endpoint: URL, timeoutMs: number, ca?: string) {
    this.#base = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#https = endpoint.protocol === 'https:';
    this.#agent = this.#https ? new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends one request. Resolves with any HTTP answer (callers judge the status);
   * rejects with the caller's `signal.reason` when it aborts, or a
   * `GemaltoTransportError` for network failures, timeouts and oversized bodies.
   */
  request(req: GemaltoRequest): Promise<GemaltoResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = new URL(this.#base.href);
    const basePath = url.pathname.replace(/\/+$/, '');
    url.pathname = req.path === '' ? url.pathname : `${basePath}/${req.path}`;
    url.search = req.query ?? '';
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (req.jwt) headers.Authorization = `Bearer ${req.jwt}`;
    if (payload) headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload?.byteLength ?? 0);
    const what = `${req.method} /${req.path}`;
    const send = this.#https ? httpsRequest : httpRequest;

    return new Promise<GemaltoResponse>((resolve, reject) => {
      let settled = false;
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        timeout.removeEventListener('abort', onTimeout);
        signal?.removeEventListener('abort', onAbort);
        // The request body may hold key material (create): wipe our copy once it is no longer needed.
        payload?.fill(0);
        fn();
      };
      const onAbort = (): void => {
        finish(() => reject(signal?.reason));
        r.destroy();
      };
      const onTimeout = (): void => {
        finish(() => reject(new GemaltoTransportError('timeout', `gemalto: ${what}: no answer within ${this.#timeoutMs} ms`)));
        r.destroy();
      };
      const network = (err: Error): void => {
        finish(() => reject(new GemaltoTransportError('network', `gemalto: ${what}: ${err.message}`, { cause: err })));
      };
      const r = send(url, { method: req.method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > MAX_RESPONSE_BYTES) {
            finish(() => reject(new GemaltoTransportError('too-large', `gemalto: ${what}: response larger than ${MAX_RESPONSE_BYTES} bytes`)));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let body: unknown;
          if (text.length > 0) {
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              body = undefined;
            }
          }
          // Response bodies may hold key material (export): the buffers are wiped once parsed.
          raw.fill(0);
          for (const c of chunks) c.fill(0);
          finish(() => resolve({ status: res.statusCode ?? 0, body, text: body === undefined ? text.trim().slice(0, 200) : '' }));
        });
        res.on('error', network);
      });
      r.on('error', network);
      timeout.addEventListener('abort', onTimeout, { once: true });
      signal?.addEventListener('abort', onAbort, { once: true });
      r.end(payload);
    });
  }

  /** Closes idle connections and refuses new ones. */
  close(): void {
    this.#agent.destroy();
  }
}

/**
 * The error text of an answer, for logs: the API's `codeDesc` (and `code`), or the
 * start of a non-JSON body. CipherTrust error texts name the problem, never the
 * request's secret material or token.
 */
export function errorText(res: GemaltoResponse): string {
  const b = res.body;
  if (typeof b === 'object' && b !== null) {
    const desc = (b as { codeDesc?: unknown }).codeDesc;
    const code = (b as { code?: unknown }).code;
    if (typeof desc === 'string' && desc !== '') return `${desc.slice(0, 300)}${typeof code === 'number' ? ` (code ${code})` : ''}`;
    return '';
  }
  return res.text;
}

/** `HTTP <status>[: <error text>]`. */
export function describeAnswer(res: GemaltoResponse): string {
  const e = errorText(res);
  return `HTTP ${res.status}${e ? `: ${e}` : ''}`;
}

/** Reads `obj.a.b` safely. */
export function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[name] : undefined;
}
