// DSM session management: the application API key is exchanged for a bearer token
// (`POST /sys/v1/session/auth`), which is used for every other call. The API key
// itself therefore crosses the wire once per session instead of on every request.
// A token is replaced by a new login when 80 % of its lifetime has passed, or at
// once when DSM rejects it with 401 (expired, terminated by an administrator); it
// is ended with `POST /sys/v1/session/terminate` when the store closes.
import { KesError } from '@kes/core';
import { fortanixErrorText } from './fortanix-http.js';
import type { FortanixResponse } from './fortanix-http.js';
import type { HttpsJsonClient } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

/** Fraction of a session's lifetime after which it is replaced proactively. */
const RENEW_AT = 0.8;
/** Longest wait for the terminate call on close: closing must not hang on a dead endpoint. */
const TERMINATE_TIMEOUT_MS = 2_000;

/**
 * Hands out the current session's `Authorization` header (`Bearer <token>`); logs in
 * lazily, again once 80 % of the session's lifetime has passed (no timer: the next
 * call does it), and again when DSM rejects the session.
 */
export class FortanixSession {
  readonly #http: HttpsJsonClient;
  readonly #apiKey: string;
  readonly #session = new TokenSession<TokenLease>({ login: () => this.#doLogin() });
  #closed = false;

  constructor(http: HttpsJsonClient, apiKey: string) {
    this.#http = http;
    this.#apiKey = apiKey;
  }

  /**
   * The `Authorization` header to use now, logging in first when there is no session
   * or the current one is close to its end.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the login fails (the cause says why).
   */
  authorization(signal?: AbortSignal): Promise<string> {
    return this.#session.token(signal);
  }

  /**
   * Called after DSM answered 401 to `rejected`: logs in again (once, shared by every
   * caller that saw the same session fail) and returns the new header.
   */
  refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    return this.#session.refresh(rejected, signal);
  }

  /** Ends the current session at DSM (best effort, bounded in time) and forgets it. */
  async terminate(): Promise<void> {
    this.#closed = true;
    // A login on its way sees #closed and ends its new session by itself.
    const s = this.#session.current ?? (await this.#session.pending?.catch(() => undefined));
    this.#session.close();
    if (s) await this.#terminate(s.token);
  }

  /** `POST /sys/v1/session/terminate`; a failure is ignored: the session expires on its own. */
  async #terminate(authorization: string): Promise<void> {
    await this.#http
      .request({ method: 'POST', path: '/sys/v1/session/terminate', headers: { Authorization: authorization }, timeoutMs: TERMINATE_TIMEOUT_MS })
      .catch(() => undefined);
  }

  async #doLogin(): Promise<TokenLease> {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: key store is closed') });
    const started = performance.now();
    let res: FortanixResponse;
    try {
      // The application API key is already base64(`<app id>:<secret>`): it is the Basic credential as it is.
      res = await this.#http.request({ method: 'POST', path: '/sys/v1/session/auth', headers: { Authorization: `Basic ${this.#apiKey}` } });
    } catch (err) {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: session login failed', { cause: err }) });
    }
    const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>;
    const token = body.access_token;
    if (res.status !== 200 || typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) {
      const text = fortanixErrorText(res);
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
        cause: new Error(`fortanix: session login with the API key failed: HTTP ${res.status}${text ? `: ${text}` : ''}`),
      });
    }
    const expiresIn = body.expires_in;
    const lifetimeMs = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 0;
    const session: TokenLease = {
      token: `Bearer ${token}`,
      staleAt: lifetimeMs > 0 ? started + lifetimeMs * RENEW_AT : Number.POSITIVE_INFINITY,
    };
    if (this.#closed) {
      // terminate() ran while this login was on its way: end the new session at once.
      await this.#terminate(session.token);
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: key store is closed') });
    }
    return session;
  }
}
