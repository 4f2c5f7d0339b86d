// The JSON-over-HTTP(S) client every REST key store speaks through (Vault, GCP, Azure,
// KeySecure, Fortanix, Entrust): keep-alive agents, a timeout on every request,
// cancellation through the caller's AbortSignal, bounded response bodies. It knows
// nothing about a service's auth headers or error bodies; each store adds those, and
// maps answers and `TransportError`s to KES errors (see `keystoreFailure`).
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { KesError } from '@kes/core';

/** TLS settings of the https agent (PEM text, already loaded). */
export interface HttpsTlsOptions {
  /** Trust anchors; absent → Node's default roots. */
  readonly ca?: string | readonly string[] | undefined;
  /** Client certificate and key (mTLS). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** false only when the configuration asks to skip verification. */
  readonly rejectUnauthorized?: boolean | undefined;
}

/** How one store's client behaves. */
export interface HttpsJsonClientOptions {
  /** Start of every transport error message (`vault` → `vault: GET …`); `''` for none. */
  readonly label: string;
  /** `name` of the transport errors, as logs print it (`VaultTransportError: …`). */
  readonly errorName: string;
  /** Deadline of one request, connection included, in ms. */
  readonly timeoutMs: number;
  /** Largest accepted response body in bytes, unless a request says otherwise. */
  readonly maxBytes: number;
  /** Base URL that `path` requests are relative to (its own path is kept). */
  readonly endpoint?: URL | undefined;
  readonly tls?: HttpsTlsOptions | undefined;
  /** Connections per agent; requests beyond it queue (each still has its timeout). */
  readonly maxSockets?: number | undefined;
  /**
   * Sends a GET once more when a reused keep-alive connection was reset before any
   * answer (the server closed it while idle). Never other methods: a repeated write
   * may not be idempotent.
   */
  readonly retryResetGet?: boolean | undefined;
}

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** One request: a complete `url`, or a `path` (and `query`) below the client's endpoint. */
export interface HttpsJsonRequest {
  readonly method: HttpMethod;
  readonly url?: URL | undefined;
  /** Already percent-encoded; `''` is the endpoint itself. */
  readonly path?: string | undefined;
  /** Query string without `?`, already encoded. */
  readonly query?: string | undefined;
  /**
   * Names the request in transport error messages. Default: `METHOD /path` for path
   * requests, `METHOD host/path` for URLs. Never the query, a header or the body.
   */
  readonly what?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** A string is sent as it is (the caller sets its content type); anything else as JSON. */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Overrides the client's timeout (ms). */
  readonly timeoutMs?: number | undefined;
  /** Overrides the client's body limit (bytes). */
  readonly maxBytes?: number | undefined;
}

/** An HTTP answer: status, headers, the body text and its JSON value (undefined when empty or not JSON). */
export interface HttpsJsonResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly text: string;
}

export type TransportErrorKind = 'network' | 'timeout' | 'too-large';

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class TransportError extends Error {
  readonly kind: TransportErrorKind;
  /** The connection was a reused keep-alive one, reset before any answer. */
  reusedSocket = false;
  constructor(name: string, kind: TransportErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.kind = kind;
  }
}

/** Speaks JSON over HTTP(S) for one key store. */
export class HttpsJsonClient {
  readonly #o: HttpsJsonClientOptions;
  readonly #prefix: string;
  readonly #https: HttpsAgent;
  readonly #http: HttpAgent;

  constructor(options: HttpsJsonClientOptions) {
    this.#o = options;
    this.#prefix = options.label ? `${options.label}: ` : '';
    const pool = { keepAlive: true, ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}) };
    const tls = options.tls ?? {};
    this.#https = new HttpsAgent({
      ...pool,
      ...(tls.ca ? { ca: tls.ca as string | string[] } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    this.#http = new HttpAgent(pool);
  }

  /**
   * Sends one request. Resolves with any HTTP answer (callers judge the status);
   * rejects with the caller's `signal.reason` when it aborts, or a
   * {@link TransportError} for network failures, timeouts and oversized answers.
   */
  async request(req: HttpsJsonRequest): Promise<HttpsJsonResponse> {
    try {
      return await this.#once(req);
    } catch (err) {
      if (this.#o.retryResetGet && req.method === 'GET' && err instanceof TransportError && err.reusedSocket) return await this.#once(req);
      throw err;
    }
  }

  /** Closes idle connections and refuses new ones. */
  close(): void {
    this.#https.destroy();
    this.#http.destroy();
  }

  #url(req: HttpsJsonRequest): URL {
    if (req.url) return req.url;
    const base = this.#o.endpoint;
    if (!base || req.path === undefined) throw new TypeError('HttpsJsonClient: a request needs a url, or a path and an endpoint');
    const url = new URL(base.href);
    if (req.path !== '') url.pathname = `${base.pathname.replace(/\/+$/, '')}/${req.path.replace(/^\/+/, '')}`;
    url.search = req.query ?? '';
    url.hash = '';
    return url;
  }

  #once(req: HttpsJsonRequest): Promise<HttpsJsonResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = this.#url(req);
    const what = `${this.#prefix}${req.what ?? (req.url ? `${req.method} ${url.host}${url.pathname}` : `${req.method} /${(req.path ?? '').replace(/^\/+/, '')}`)}`;
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
    const timeoutMs = req.timeoutMs ?? this.#o.timeoutMs;
    const maxBytes = req.maxBytes ?? this.#o.maxBytes;
    const errorName = this.#o.errorName;

    return new Promise<HttpsJsonResponse>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        finish(() => reject(new TransportError(errorName, 'timeout', `${what}: no answer within ${timeoutMs} ms`)));
        r.destroy();
      }, timeoutMs);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // Request bodies may hold key material (create) or credentials (login): wipe our copy.
        payload?.fill(0);
        fn();
      };
      const onAbort = (): void => {
        finish(() => reject(signal?.reason));
        r.destroy();
      };
      const fail = (err: Error): void => {
        const e = new TransportError(errorName, 'network', `${what}: ${err.message}`, { cause: err });
        e.reusedSocket = r.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
        finish(() => reject(e));
      };
      const r = send(url, { method: req.method, headers, agent: https ? this.#https : this.#http }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > maxBytes) {
            finish(() => reject(new TransportError(errorName, 'too-large', `${what}: response larger than ${maxBytes} bytes`)));
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
          // Response bodies may hold key material (a read): the buffers are wiped once decoded.
          raw.fill(0);
          for (const c of chunks) c.fill(0);
          finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text }));
        });
        res.on('error', fail);
      });
      r.on('error', fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      r.end(payload);
    });
  }
}

/**
 * What a key-store call throws for a request that failed: the caller's abort reason as
 * it is, anything else as `code` (default ERR_KES_KEYSTORE_UNAVAILABLE) with the
 * failure as its cause, for the server log.
 */
export function keystoreFailure(
  err: unknown,
  signal: AbortSignal | undefined,
  code: 'ERR_KES_KEYSTORE_UNAVAILABLE' | 'ERR_KES_KEYSTORE_UNREACHABLE' = 'ERR_KES_KEYSTORE_UNAVAILABLE',
): unknown {
  if (signal?.aborted && err === signal.reason) return err;
  return new KesError(code, [], { cause: err });
}

/** Reads `obj.a.b.c` of a JSON value safely. */
export function field(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
