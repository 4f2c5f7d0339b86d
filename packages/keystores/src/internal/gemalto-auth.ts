// The CipherTrust Manager login: a long-lived refresh token is traded for a short-lived
// JWT (`POST /api/v1/auth/tokens`), which is renewed in the background at half of its
// lifetime and, after a failed renewal, every 5 s (as upstream). A request answered 401
// triggers one shared re-login.
import { describeAnswer, field } from './gemalto-http.js';
import type { GemaltoHttpClient } from './gemalto-http.js';

/** What the login needs. */
export interface GemaltoLogin {
  /** The refresh token. A secret: never part of a message. */
  readonly refreshToken: string;
  /** The domain to log in to; `''` = the root domain. */
  readonly domain: string;
  /** Delay before a failed background renewal is tried again. */
  readonly retryMs: number;
}

/** A login that got an answer but no token: bad refresh token, wrong domain, malformed answer. */
export class GemaltoLoginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GemaltoLoginError';
  }
}

interface Lease {
  readonly jwt: string;
  /** `performance.now()` after which the JWT is expired. */
  readonly expiresAt: number;
}

/** Renewal never closer together than this, whatever lifetime the server announces. */
const MIN_RENEW_MS = 100;

/** Hands out a valid JWT; logs in on first use and keeps the JWT fresh. */
export class GemaltoTokenSource {
  readonly #http: GemaltoHttpClient;
  readonly #login: GemaltoLogin;
  #lease: Lease | undefined;
  #pending: Promise<Lease> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Logins sent so far (for tests and diagnostics). */
  logins = 0;

  constructor(http: GemaltoHttpClient, login: GemaltoLogin) {
    this.#http = http;
    this.#login = login;
  }

  /**
   * A JWT that has not expired yet, logging in when there is none.
   * @throws GemaltoLoginError when the server refuses the refresh token
   * @throws GemaltoTransportError (from the HTTP client) when the server does not answer
   * @throws the signal's reason when `signal` aborts (the shared login goes on)
   */
  async token(signal?: AbortSignal): Promise<string> {
    const lease = this.#lease;
    if (lease && performance.now() < lease.expiresAt) return lease.jwt;
    return (await abortable(this.#startLogin(), signal)).jwt;
  }

  /**
   * The server answered 401 to `rejected` (expired or revoked early): logs in again
   * (once, shared by every caller that saw the same JWT fail) and returns the new JWT.
   */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    if (this.#lease && this.#lease.jwt !== rejected && performance.now() < this.#lease.expiresAt) return this.#lease.jwt;
    if (this.#lease?.jwt === rejected) this.#lease = undefined;
    return (await abortable(this.#startLogin(), signal)).jwt;
  }

  /** Stops the renewal; the current JWT is forgotten. */
  close(): void {
    this.#closed = true;
    this.#lease = undefined;
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
    const { refreshToken, domain } = this.#login;
    const where = domain ? `domain '${domain}'` : 'the root domain';
    this.logins++;
    // As upstream: `domain` is always sent; the empty string selects the root domain.
    const res = await this.#http.request({
      method: 'POST',
      path: 'api/v1/auth/tokens',
      body: { grant_type: 'refresh_token', refresh_token: refreshToken, domain },
    });
    if (res.status !== 200) throw new GemaltoLoginError(`gemalto: login to ${where} failed: ${describeAnswer(res)}`);
    const jwt = field(res.body, 'jwt');
    const duration = field(res.body, 'duration');
    const type = field(res.body, 'token_type');
    if (typeof jwt !== 'string' || jwt === '') throw new GemaltoLoginError(`gemalto: login to ${where}: the answer has no 'jwt'`);
    if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
      throw new GemaltoLoginError(`gemalto: login to ${where}: unexpected token type '${String(type).slice(0, 40)}'`);
    }
    if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0) {
      throw new GemaltoLoginError(`gemalto: login to ${where}: the answer has no positive 'duration'`);
    }
    const lifetimeMs = duration * 1000;
    const lease: Lease = { jwt, expiresAt: performance.now() + lifetimeMs };
    if (!this.#closed) {
      this.#lease = lease;
      this.#schedule(Math.max(MIN_RENEW_MS, Math.floor(lifetimeMs / 2)));
    }
    return lease;
  }

  #schedule(delayMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#renew(), delayMs);
    this.#timer.unref();
  }

  /** Background renewal: a new JWT at half-life; on failure the old one stays (it may still be valid) and a retry follows. */
  async #renew(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    try {
      await this.#startLogin();
    } catch {
      // Refused or unanswered: keep the old JWT (a request that gets a 401 meanwhile
      // logs in by itself) and try again after the retry delay.
      if (!this.#closed) this.#schedule(this.#login.retryMs);
    }
  }
}

/** Races `p` against the caller's signal, rejecting with its reason. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
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
