// KeyControl session management: a username/password login to one vault yields an
// access token with an expiry; the token is renewed (`Renew/`) at half its lifetime,
// and replaced by a fresh login when renewal fails or a request is answered 401.
import { describeAnswer, entrustRequest } from './entrust-http.js';
import type { EntrustResponse } from './entrust-http.js';
import { TransportError, field } from './https-client.js';
import type { HttpsJsonClient } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

/** Who logs in where. */
export interface EntrustLogin {
  readonly vaultId: string;
  readonly username: string;
  readonly password: string;
}

/** Lifetime assumed when the service names no (or a past) expiry, as upstream. */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;
/** Delay before a failed background renewal and login is tried again. */
const RETRY_MS = 5_000;
/** Never renew more often than this, whatever expiry the service reports. */
const MIN_RENEW_DELAY_MS = 100;
/**
 * After the service refused a login, calls fail with that refusal for this long
 * without asking again: a status probe every few seconds with a wrong password would
 * otherwise run into KeyControl's account lockout.
 */
export const LOGIN_BACKOFF_MS = 5_000;

/** A login or renewal the service refused or answered in an unexpected way. */
export class EntrustAuthError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EntrustAuthError';
  }
}

/**
 * Hands out the current access token; logs in lazily and keeps the token alive.
 * The password lives only in a private field: it is sent in the login body and
 * never put into an error, a log line or `toJSON`/`inspect` output.
 */
export class EntrustSession {
  readonly #http: HttpsJsonClient;
  readonly #vaultId: string;
  readonly #username: string;
  readonly #password: string;
  // Upstream stops renewing after one failed attempt; here the old token stays in use
  // (it may still be valid), a request answered 401 logs in by itself, and the
  // background renewal tries again shortly.
  readonly #session = new TokenSession<TokenLease>({
    login: () => this.#login(),
    renew: (current) => this.#renewToken(current.token),
    retryMs: RETRY_MS,
  });
  #refused: { readonly error: EntrustAuthError; readonly until: number } | undefined;

  constructor(http: HttpsJsonClient, login: EntrustLogin) {
    this.#http = http;
    this.#vaultId = login.vaultId;
    this.#username = login.username;
    this.#password = login.password;
  }

  /**
   * The token to use now, logging in first if there is none.
   * @throws EntrustAuthError when the service refuses the login; TransportError when it cannot be reached.
   */
  token(signal?: AbortSignal): Promise<string> {
    return this.#session.token(signal);
  }

  /**
   * Called after the service answered 401 to `rejected`: logs in again (once, shared
   * by every caller that saw the same token fail) and returns the new token.
   */
  refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    return this.#session.refresh(rejected, signal);
  }

  /** Stops renewal; nothing is scheduled any more. */
  close(): void {
    this.#session.close();
  }

  toJSON(): unknown {
    return { vaultId: this.#vaultId, username: this.#username, password: '[REDACTED]' };
  }

  async #login(): Promise<TokenLease> {
    if (this.#refused && Date.now() < this.#refused.until) throw this.#refused.error;
    // The vault id becomes a path segment: encoded, so `/`, `?` or `#` in it cannot
    // address another endpoint (`.` and `..` are refused when the options are checked).
    const path = `Login/${encodeURIComponent(this.#vaultId)}/`;
    const what = `login to vault '${this.#vaultId}' as '${this.#username}'`;
    let res: EntrustResponse;
    try {
      res = await this.#http.request(entrustRequest({ path, body: { username: this.#username, password: this.#password } }));
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw new EntrustAuthError(`entrust keycontrol: ${what} failed`, { cause: err });
    }
    let session: TokenLease;
    try {
      session = this.#parse(res, what);
    } catch (err) {
      this.#refused = { error: err as EntrustAuthError, until: Date.now() + LOGIN_BACKOFF_MS };
      throw err;
    }
    this.#refused = undefined;
    return session;
  }

  /** `Renew/` with the current token; a new session, or undefined when renewal failed. */
  async #renewToken(token: string): Promise<TokenLease | undefined> {
    try {
      const res = await this.#http.request(entrustRequest({ path: 'Renew/', token }));
      return this.#parse(res, 'token renewal');
    } catch {
      return undefined;
    }
  }

  #parse(res: EntrustResponse, what: string): TokenLease {
    const token = field(res.body, 'access_token');
    if (res.status !== 200 || typeof token !== 'string' || token === '') {
      // The body holds the service's error text only (e.g. "Invalid credentials"), never the password.
      const detail = res.status === 200 ? 'HTTP 200 without an access_token' : describeAnswer(res);
      throw new EntrustAuthError(`entrust keycontrol: ${what} failed: ${detail}`);
    }
    const raw = field(res.body, 'expires_at');
    const parsed = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
    const now = Date.now();
    // No usable expiry, or one in the past (clock skew): assume the default lifetime.
    const expiresAt = Number.isFinite(parsed) && parsed > now ? parsed : now + DEFAULT_TOKEN_LIFETIME_MS;
    // Used until rejected; renewed in the background at half its lifetime.
    return { token, staleAt: Number.POSITIVE_INFINITY, renewInMs: Math.max(Math.floor((expiresAt - now) / 2), MIN_RENEW_DELAY_MS) };
  }
}
