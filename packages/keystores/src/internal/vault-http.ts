// A small JSON-over-HTTP(S) client for the Vault API: one keep-alive agent, per-call
// timeouts and cancellation, bounded response bodies. It knows nothing about KES
// errors; the key store maps its results and `VaultTransportError`s.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

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
  readonly signal?: AbortSignal;
  /** Largest accepted response body in bytes (default 32 MiB, as upstream reads list bodies). */
  readonly maxBytes?: number;
}

/** A Vault answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export interface VaultResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A request that got no HTTP answer: connection failure, timeout or an oversized body. */
export class VaultTransportError extends Error {
  readonly kind: 'network' | 'timeout' | 'too-large';
  constructor(kind: 'network' | 'timeout' | 'too-large', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'VaultTransportError';
    this.kind = kind;
  }
}

const DEFAULT_MAX_BYTES = 32 << 20;

/** Speaks HTTP(S) to one Vault endpoint. */
export class VaultHttpClient {
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #https: boolean;

  constructor(endpoint: URL, timeoutMs: number, tls: VaultTlsMaterial = {}) {
    this.#base = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#https = endpoint.protocol === 'https:';
    this.#agent = this.#https
      ? new HttpsAgent({
          keepAlive: true,
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.cert ? { cert: tls.cert } : {}),
          ...(tls.key ? { key: tls.key } : {}),
          rejectUnauthorized: tls.insecureSkipVerify !== true,
        })
      : new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends one request. Resolves with any HTTP answer (callers judge the status);
   * rejects with the caller's `signal.reason` when it aborts, or a
   * `VaultTransportError` for network failures and timeouts.
   */
  request(req: VaultRequest): Promise<VaultResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const basePath = this.#base.pathname.replace(/\/+$/, '');
    const url = new URL(this.#base.href);
    url.pathname = `${basePath}/v1/${req.path}`;
    url.search = req.query ?? '';
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (req.token) headers['X-Vault-Token'] = req.token;
    if (req.namespace) headers['X-Vault-Namespace'] = req.namespace;
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.byteLength);
    }
    const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
    const send = this.#https ? httpsRequest : httpRequest;

    return new Promise<VaultResponse>((resolve, reject) => {
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
        finish(() =>
          reject(
            new VaultTransportError('timeout', `vault: ${req.method} ${req.path}: no answer within ${this.#timeoutMs} ms`, {
              cause: timeout.reason,
            }),
          ),
        );
        r.destroy();
      };
      const r = send(url, { method: req.method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > maxBytes) {
            finish(() => reject(new VaultTransportError('too-large', `vault: ${req.method} ${req.path}: response larger than ${maxBytes} bytes`)));
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
          finish(() => reject(new VaultTransportError('network', `vault: ${req.method} ${req.path}: ${err.message}`, { cause: err })));
        });
      });
      r.on('error', (err) => {
        finish(() => reject(new VaultTransportError('network', `vault: ${req.method} ${req.path}: ${err.message}`, { cause: err })));
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

/** The `errors` array of a Vault error body, joined (Vault never echoes secret values there). */
export function vaultErrors(body: unknown): string {
  if (typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors)) {
    return (body as { errors: unknown[] }).errors.map(String).join('; ');
  }
  return '';
}

/** Reads `obj.a.b.c` safely. */
export function dig(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
