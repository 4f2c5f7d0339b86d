// Vault token management: a static token, or an AppRole / Kubernetes login whose
// token is renewed at ~80 % of its TTL (renew-self) and replaced by a fresh login
// when renewal is impossible, fails, or the token turns out to be gone.
import { readFile } from 'node:fs/promises';
import { KesError } from '@kes/core';
import { TransportError, field } from './https-client.js';
import type { HttpsJsonClient } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';
import { vaultErrors, vaultRequest } from './vault-http.js';

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

interface Lease extends TokenLease {
  /** Lifetime granted at login, in ms (0 = never expires). */
  readonly loginTtlMs: number;
  readonly renewable: boolean;
}

/** Up to this many renew-self attempts before falling back to a new login (as upstream). */
const RENEW_ATTEMPTS = 3;

/** A lease for `token`, renewed at 80 % of `ttlMs` (never, for tokens that never expire). */
function lease(token: string, loginTtlMs: number, renewable: boolean, ttlMs = loginTtlMs): Lease {
  return {
    token,
    staleAt: Number.POSITIVE_INFINITY,
    renewInMs: ttlMs > 0 ? Math.max(Math.floor(ttlMs * 0.8), 100) : undefined,
    loginTtlMs,
    renewable,
  };
}

/** Hands out the current token; logs in lazily and keeps the token alive. */
export class VaultTokenSource {
  readonly #http: HttpsJsonClient;
  readonly #login: VaultLogin;
  readonly #session: TokenSession<Lease>;

  constructor(http: HttpsJsonClient, login: VaultLogin) {
    this.#http = http;
    this.#login = login;
    this.#session = new TokenSession<Lease>({
      login: () => this.#doLogin(),
      renew: (l, retry) => this.#renew(l, retry),
      // Keep the old token (it may still be valid) and try again later; a request
      // that gets a 403 meanwhile logs in by itself.
      retryMs: login.kind === 'token' ? 5_000 : login.retryMs,
      initial: login.kind === 'token' ? lease(login.token, 0, false) : undefined,
    });
  }

  /** True when a rejected token can be replaced by logging in again. */
  get canLogin(): boolean {
    return this.#login.kind !== 'token';
  }

  /**
   * The token to use now, logging in first if there is none.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the login fails.
   */
  token(signal?: AbortSignal): Promise<string> {
    return this.#session.token(signal);
  }

  /**
   * Called after Vault rejected `rejected` with 403: logs in again (once, shared by
   * every caller that saw the same token fail) and returns the new token.
   */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    if (!this.canLogin) return rejected;
    return this.#session.refresh(rejected, signal);
  }

  /** Stops renewal; later calls still work but nothing is scheduled any more. */
  close(): void {
    this.#session.close();
  }

  async #doLogin(): Promise<Lease> {
    const login = this.#login;
    if (login.kind === 'token') return lease(login.token, 0, false);
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
      res = await this.#http.request(vaultRequest({ method: 'PUT', path: `auth/${login.engine}/login`, body, namespace: login.namespace }));
    } catch (err) {
      throw unavailable(`vault: ${what} failed`, err);
    }
    const token = field(res.body, 'auth', 'client_token');
    if (res.status !== 200 || typeof token !== 'string' || token === '') {
      // The body holds Vault's error text only (e.g. "invalid role or secret ID"), never the credentials.
      throw unavailable(`vault: ${what} failed: HTTP ${res.status}${errSuffix(res.body)}`);
    }
    const ttl = field(res.body, 'auth', 'lease_duration');
    return lease(token, typeof ttl === 'number' && ttl > 0 ? ttl * 1000 : 0, field(res.body, 'auth', 'renewable') === true);
  }

  /**
   * Background renewal: renew-self while the token is renewable; undefined (log in
   * again) after a failed renewal, or when Vault capped the renewal far below the login
   * TTL: the max TTL is close, and renewing in ever shorter steps would let the token die.
   */
  async #renew(current: Lease, retry: boolean): Promise<Lease | undefined> {
    if (retry || !current.renewable) return undefined;
    const ttlMs = await this.#renewSelf(current.token);
    if (ttlMs !== undefined && ttlMs * 2 >= current.loginTtlMs) return lease(current.token, current.loginTtlMs, true, ttlMs);
    return undefined;
  }

  /** `auth/token/renew-self`; resolves with the new TTL in ms, or undefined when renewal failed. */
  async #renewSelf(token: string): Promise<number | undefined> {
    const namespace = this.#login.kind === 'token' ? '' : this.#login.namespace;
    for (let i = 0; i < RENEW_ATTEMPTS; i++) {
      try {
        const res = await this.#http.request(vaultRequest({ method: 'PUT', path: 'auth/token/renew-self', body: {}, token, namespace }));
        const ttl = field(res.body, 'auth', 'lease_duration');
        if (res.status === 200 && typeof ttl === 'number') return ttl * 1000;
        if (res.status >= 400 && res.status < 500) return undefined; // the token is gone or not renewable
      } catch (err) {
        if (!(err instanceof TransportError)) return undefined;
      }
    }
    return undefined;
  }
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
