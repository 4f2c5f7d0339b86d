// Vault token management: a static token, or an AppRole / Kubernetes login whose
// token is renewed at ~80 % of its TTL (renew-self) and replaced by a fresh login
// when renewal is impossible, fails, or the token turns out to be gone.
import { readFile } from 'node:fs/promises';
import { KesError } from '@kes/core';
import { VaultTransportError, dig, vaultErrors } from './vault-http.js';
import type { VaultHttpClient } from './vault-http.js';

/** How the store obtains its Vault token. */
export type VaultLogin =
  | { readonly kind: 'token'; readonly token: string }
  | {
      readonly kind: 'approle';
      readonly engine: string;
      readonly namespace: string;
      readonly id: string;
      readonly secret: string;
      readonly retryMs: number;
    }
  | {
      readonly kind: 'kubernetes';
      readonly engine: string;
      readonly namespace: string;
      readonly role: string;
      /** The JWT itself, or a file it is (re-)read from on every login. */
      readonly jwt: { readonly text: string } | { readonly file: string };
      readonly retryMs: number;
    };

interface Lease {
  readonly token: string;
  /** Lifetime granted at login, in ms (0 = never expires). */
  readonly loginTtlMs: number;
  readonly renewable: boolean;
}

/** Up to this many renew-self attempts before falling back to a new login (as upstream). */
const RENEW_ATTEMPTS = 3;

/** Hands out the current token; logs in lazily and keeps the token alive. */
export class VaultTokenSource {
  readonly #http: VaultHttpClient;
  readonly #login: VaultLogin;
  #lease: Lease | undefined;
  #pending: Promise<Lease> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(http: VaultHttpClient, login: VaultLogin) {
    this.#http = http;
    this.#login = login;
    if (login.kind === 'token') this.#lease = { token: login.token, loginTtlMs: 0, renewable: false };
  }

  /** True when a rejected token can be replaced by logging in again. */
  get canLogin(): boolean {
    return this.#login.kind !== 'token';
  }

  /**
   * The token to use now, logging in first if there is none.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the login fails.
   */
  async token(signal?: AbortSignal): Promise<string> {
    if (this.#lease) return this.#lease.token;
    return (await abortable(this.#startLogin(), signal)).token;
  }

  /**
   * Called after Vault rejected `rejected` with 403: logs in again (once, shared by
   * every caller that saw the same token fail) and returns the new token.
   */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    if (!this.canLogin) return rejected;
    if (this.#lease && this.#lease.token !== rejected) return this.#lease.token;
    this.#lease = undefined;
    return (await abortable(this.#startLogin(), signal)).token;
  }

  /** Stops renewal; later calls still work but nothing is scheduled any more. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #startLogin(): Promise<Lease> {
    this.#pending ??= this.#doLogin().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #doLogin(): Promise<Lease> {
    const login = this.#login;
    if (login.kind === 'token') return { token: login.token, loginTtlMs: 0, renewable: false };
    let body: Record<string, string>;
    if (login.kind === 'approle') {
      body = { role_id: login.id, secret_id: login.secret };
    } else {
      let jwt: string;
      if ('file' in login.jwt) {
        try {
          // Re-read on every login: Kubernetes rotates projected service-account tokens.
          jwt = (await readFile(login.jwt.file, 'utf8')).trim();
        } catch (err) {
          throw unavailable(`vault: cannot read the Kubernetes service-account token file ${login.jwt.file}`, err);
        }
      } else {
        jwt = login.jwt.text;
      }
      body = { role: login.role, jwt };
    }
    const what = `${login.kind} login at auth/${login.engine}`;
    let res;
    try {
      res = await this.#http.request({
        method: 'PUT',
        path: `auth/${login.engine}/login`,
        body,
        namespace: login.namespace,
      });
    } catch (err) {
      throw unavailable(`vault: ${what} failed`, err);
    }
    const token = dig(res.body, 'auth', 'client_token');
    if (res.status !== 200 || typeof token !== 'string' || token === '') {
      // The body holds Vault's error text only (e.g. "invalid role or secret ID"), never the credentials.
      throw unavailable(`vault: ${what} failed: HTTP ${res.status}${errSuffix(res.body)}`);
    }
    const ttl = dig(res.body, 'auth', 'lease_duration');
    const lease: Lease = {
      token,
      loginTtlMs: typeof ttl === 'number' && ttl > 0 ? ttl * 1000 : 0,
      renewable: dig(res.body, 'auth', 'renewable') === true,
    };
    if (!this.#closed) {
      this.#lease = lease;
      this.#schedule(lease.loginTtlMs, lease);
    }
    return lease;
  }

  /** Plans the next renewal at 80 % of `ttlMs` (nothing for tokens that never expire). */
  #schedule(ttlMs: number, lease: Lease): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || ttlMs <= 0) return;
    this.#timer = setTimeout(() => void this.#renew(lease), Math.max(Math.floor(ttlMs * 0.8), 100));
    this.#timer.unref();
  }

  async #renew(lease: Lease): Promise<void> {
    this.#timer = undefined;
    if (this.#closed || this.#lease !== lease) return;
    if (lease.renewable) {
      const ttlMs = await this.#renewSelf(lease.token);
      if (this.#closed || this.#lease !== lease) return;
      // A renewal capped far below the login TTL means the max TTL is close: log in
      // again rather than renewing in ever shorter steps until the token dies.
      if (ttlMs !== undefined && ttlMs * 2 >= lease.loginTtlMs) {
        this.#schedule(ttlMs, lease);
        return;
      }
    }
    try {
      await this.#startLogin();
    } catch {
      // Keep the old token (it may still be valid) and try again later; a request
      // that gets a 403 meanwhile logs in by itself.
      if (this.#closed || this.#lease !== lease) return;
      const retryMs = this.#login.kind === 'token' ? 5_000 : this.#login.retryMs;
      const next: Lease = { ...lease, renewable: false };
      this.#lease = next;
      this.#timer = setTimeout(() => void this.#renew(next), retryMs);
      this.#timer.unref();
    }
  }

  /** `auth/token/renew-self`; resolves with the new TTL in ms, or undefined when renewal failed. */
  async #renewSelf(token: string): Promise<number | undefined> {
    const namespace = this.#login.kind === 'token' ? '' : this.#login.namespace;
    for (let i = 0; i < RENEW_ATTEMPTS; i++) {
      try {
        const res = await this.#http.request({ method: 'PUT', path: 'auth/token/renew-self', body: {}, token, namespace });
        const ttl = dig(res.body, 'auth', 'lease_duration');
        if (res.status === 200 && typeof ttl === 'number') return ttl * 1000;
        if (res.status >= 400 && res.status < 500) return undefined; // the token is gone or not renewable
      } catch (err) {
        if (!(err instanceof VaultTransportError)) return undefined;
      }
    }
    return undefined;
  }
}

/** Races `p` against the caller's signal, rejecting with its reason. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function errSuffix(body: unknown): string {
  const e = vaultErrors(body);
  return e ? `: ${e}` : '';
}

function unavailable(message: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
    cause: cause === undefined ? new Error(message) : new Error(message, { cause }),
  });
}
