// A small HTTP(S) client for Azure Key Vault and the token endpoints: keep-alive
// agents, a timeout on every request, cancellation, bounded response bodies. It
// knows nothing about KES errors; the store maps results and transport errors.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/** One request. `url` is complete (query included). */
export interface AzureHttpRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as is; a `Content-Length` is added. */
  readonly body?: string;
  readonly signal?: AbortSignal | undefined;
}

/** An HTTP answer: status, headers and the body text (JSON-parsed when it is JSON). */
export interface AzureHttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class AzureTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  /** The connection was a reused keep-alive one, reset before any answer. */
  reusedSocket = false;
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AzureTransportError';
    this.kind = kind;
  }
}

/** Largest response body accepted (a list page of 25 secrets is a few KiB). */
const MAX_BODY_BYTES = 4 << 20;

/** Speaks HTTP(S) with a per-request timeout. */
export class AzureHttpClient {
  readonly #https: HttpsAgent;
  readonly #http: HttpAgent;
  readonly #timeoutMs: number;

  /** @param caPem extra trusted CA certificates (PEM), added to Node's built-in roots. */
  constructor(timeoutMs: number, caPem?: string) {
    this.#timeoutMs = timeoutMs;
    // Added to, not instead of, the public roots: the login host keeps its public certificate.
    this.#https = new HttpsAgent({ keepAlive: true, ...(caPem ? { ca: [...rootCertificates, caPem] } : {}) });
    this.#http = new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends one request. Resolves with any HTTP answer; rejects with the caller's
   * `signal.reason` when it aborts, or an {@link AzureTransportError}.
   * Messages name method, host and path, never the query (it may carry a client id) or a body.
   */
  async request(req: AzureHttpRequest): Promise<AzureHttpResponse> {
    try {
      return await this.#once(req);
    } catch (err) {
      // A kept-alive connection the server closed while idle fails on reuse before the
      // request is processed. Only GETs are repeated: a repeated PUT would add a version.
      if (req.method === 'GET' && err instanceof AzureTransportError && err.reusedSocket) return await this.#once(req);
      throw err;
    }
  }

  #once(req: AzureHttpRequest): Promise<AzureHttpResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const https = req.url.protocol === 'https:';
    const where = `${req.method} ${req.url.host}${req.url.pathname}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
    const payload = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    if (payload) headers['Content-Length'] = String(payload.byteLength);
    const send = https ? httpsRequest : httpRequest;

    return new Promise<AzureHttpResponse>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        finish(() => reject(new AzureTransportError('timeout', `azure: ${where}: no answer within ${this.#timeoutMs} ms`)));
        r.destroy();
      }, this.#timeoutMs);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => {
        finish(() => reject(signal?.reason));
        r.destroy();
      };
      const fail = (err: Error): void => {
        const e = new AzureTransportError('network', `azure: ${where}: ${err.message}`, { cause: err });
        e.reusedSocket = r.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
        finish(() => reject(e));
      };
      const r = send(req.url, { method: req.method, headers, agent: https ? this.#https : this.#http }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > MAX_BODY_BYTES) {
            finish(() => reject(new AzureTransportError('too-large', `azure: ${where}: response larger than ${MAX_BODY_BYTES} bytes`)));
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
          finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        res.on('error', fail);
      });
      r.on('error', fail);
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

/** Reads `obj.a.b.c` safely. */
export function field(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
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
