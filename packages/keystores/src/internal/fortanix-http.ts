// A small JSON-over-HTTPS client for the Fortanix DSM REST API: one keep-alive agent,
// a timeout on every request, cancellation through the caller's AbortSignal, and
// bounded response bodies. It knows nothing about KES errors: the store maps its
// answers and `FortanixTransportError`s.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** One request. `path` starts with `/` and is already percent-encoded. */
export interface FortanixRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  /** Query string without `?`, already encoded. */
  readonly query?: string;
  readonly body?: unknown;
  /** The complete `Authorization` header value (`Basic …` or `Bearer …`). */
  readonly authorization?: string;
  readonly signal?: AbortSignal;
  /** Overrides the client's timeout for this request (ms). */
  readonly timeoutMs?: number;
}

/** An HTTP answer: the status, the parsed JSON body (undefined when empty or not JSON) and the raw text. */
export interface FortanixResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class FortanixTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FortanixTransportError';
    this.kind = kind;
  }
}

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

/** Speaks HTTP(S) to one DSM endpoint. */
export class FortanixHttpClient {
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #https: boolean;

  constructor(endpoint: URL, timeoutMs: number, ca: string | undefined) {
    this.#base = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#https = endpoint.protocol === 'https:';
    const pool = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.#agent = this.#https ? new HttpsAgent({ ...pool, ...(ca ? { ca } : {}) }) : new HttpAgent(pool);
  }

  /**
   * Sends one request. Resolves with any HTTP answer (callers judge the status);
   * rejects with the caller's `signal.reason` when it aborts, or a
   * `FortanixTransportError` for network failures, timeouts and oversized bodies.
   */
  request(req: FortanixRequest): Promise<FortanixResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = new URL(this.#base.href);
    url.pathname = `${this.#base.pathname.replace(/\/+$/, '')}${req.path}`;
    url.search = req.query ?? '';
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (req.authorization) headers.Authorization = req.authorization;
    headers['Content-Length'] = String(payload?.byteLength ?? 0);
    if (payload) headers['Content-Type'] = 'application/json';
    const send = this.#https ? httpsRequest : httpRequest;
    const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
    const what = `${req.method} ${req.path}`;

    return new Promise<FortanixResponse>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        finish(() => reject(new FortanixTransportError('timeout', `fortanix: ${what}: no answer within ${timeoutMs} ms`)));
        r.destroy();
      }, timeoutMs);
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
      const r = send(url, { method: req.method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > MAX_RESPONSE_BYTES) {
            finish(() => reject(new FortanixTransportError('too-large', `fortanix: ${what}: response larger than ${MAX_RESPONSE_BYTES} bytes`)));
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
          finish(() => resolve({ status: res.statusCode ?? 0, body, text }));
        });
        res.on('error', (err) => {
          finish(() => reject(new FortanixTransportError('network', `fortanix: ${what}: ${err.message}`, { cause: err })));
        });
      });
      r.on('error', (err) => {
        finish(() => reject(new FortanixTransportError('network', `fortanix: ${what}: ${err.message}`, { cause: err })));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      r.end(payload);
    });
  }

  /** Closes idle connections and refuses new ones. */
  close(): void {
    this.#agent.destroy();
  }
}

/** Longest piece of a DSM error text quoted in a cause. */
const MAX_ERROR_TEXT = 200;

/**
 * The error text of a DSM answer. DSM answers errors with a short plain-text message
 * (`sobject does not exist`); a JSON body with a `message` field is read as well.
 * Only the server's own words are quoted, cut to {@link MAX_ERROR_TEXT} characters
 * and reduced to one line: request bodies (values, API keys) are never echoed.
 */
export function fortanixErrorText(res: FortanixResponse): string {
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
