// A small JSON-over-HTTP(S) client for the Entrust KeyControl Vault REST API (every
// call is a POST below `{endpoint}/vault/1.0/`): one keep-alive agent, a timeout and
// cancellation per call, bounded response bodies. It knows nothing about KES errors;
// the key store maps its results and `EntrustTransportError`s.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

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
  readonly maxBytes?: number;
}

/** An HTTP answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export interface EntrustResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class EntrustTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EntrustTransportError';
    this.kind = kind;
  }
}

const DEFAULT_MAX_BYTES = 1 << 20;

/** Speaks HTTP(S) to one KeyControl endpoint. */
export class EntrustHttpClient {
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #https: boolean;

  /** @param ca PEM text of the CA(s) that verify the server; absent → the system roots. */
  constructor(endpoint: URL, timeoutMs: number, ca?: string) {
    this.#base = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#https = endpoint.protocol === 'https:';
    this.#agent = this.#https ? new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends one POST. Resolves with any HTTP answer (callers judge the status); rejects
   * with the caller's `signal.reason` when it aborts, or an `EntrustTransportError`.
   * Transport error messages name the path, never the body (it may hold a password
   * or a key) nor the token.
   */
  post(req: EntrustRequest): Promise<EntrustResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = new URL(this.#base.href);
    url.pathname = `${this.#base.pathname.replace(/\/+$/, '')}/vault/1.0/${req.path}`;
    url.search = '';
    url.hash = '';
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (req.token !== undefined) headers[AUTH_HEADER] = req.token;
    if (payload) headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload?.byteLength ?? 0);
    const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
    const send = this.#https ? httpsRequest : httpRequest;
    const what = `POST /vault/1.0/${req.path}`;

    return new Promise<EntrustResponse>((resolve, reject) => {
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
        finish(() => reject(new EntrustTransportError('timeout', `entrust keycontrol: ${what}: no answer within ${this.#timeoutMs} ms`)));
        r.destroy();
      };
      const r = send(url, { method: 'POST', headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > maxBytes) {
            finish(() => reject(new EntrustTransportError('too-large', `entrust keycontrol: ${what}: response larger than ${maxBytes} bytes`)));
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
        res.on('error', (err) => {
          finish(() => reject(new EntrustTransportError('network', `entrust keycontrol: ${what}: ${err.message}`, { cause: err })));
        });
      });
      r.on('error', (err) => {
        finish(() => reject(new EntrustTransportError('network', `entrust keycontrol: ${what}: ${err.message}`, { cause: err })));
      });
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

/** Reads a string field of a JSON object body. */
export function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}
