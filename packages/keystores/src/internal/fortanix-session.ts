// DSM session management: the application API key is exchanged for a bearer token
// (`POST /sys/v1/session/auth`), which is used for every other call. The API key
// itself therefore crosses the wire once per session instead of on every request.
// A token is replaced by a new login when 80 % of its lifetime has passed, or at
// once when DSM rejects it with 401 (expired, terminated by an administrator); it
// is ended with `POST /sys/v1/session/terminate` when the store closes.
import { KesError } from '@kes/core';
import { fortanixErrorText } from './fortanix-http.js';
import type { FortanixHttpClient, FortanixResponse } from './fortanix-http.js';

interface Session {
  /** The `Authorization` header value, `Bearer <token>`. */
  readonly authorization: string;
  /** `performance.now()` after which a new login is made before the next call; Infinity when DSM gave no lifetime. */
  readonly renewAt: number;
}

/** Fraction of a session's lifetime after which it is replaced proactively. */
const RENEW_AT = 0.8;
/** Longest wait for the terminate call on close: closing must not hang on a dead endpoint. */
const TERMINATE_TIMEOUT_MS = 2_000;

/** Hands out the current session's `Authorization` header; logs in lazily and again when needed. */
export class FortanixSession {
  readonly #http: FortanixHttpClient;
  readonly #apiKey: string;
  #session: Session | undefined;
  #pending: Promise<Session> | undefined;
  #closed = false;
  /** How many logins were made (tests and logs). */
  logins = 0;

  constructor(http: FortanixHttpClient, apiKey: string) {
    this.#http = http;
    this.#apiKey = apiKey;
  }

  /**
   * The `Authorization` header to use now, logging in first when there is no session
   * or the current one is close to its end.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the login fails (the cause says why).
   */
  async authorization(signal?: AbortSignal): Promise<string> {
    const s = this.#session;
    if (s && performance.now() < s.renewAt) return s.authorization;
    return (await abortable(this.#login(), signal)).authorization;
  }

  /**
   * Called after DSM answered 401 to `rejected`: logs in again (once, shared by every
   * caller that saw the same session fail) and returns the new header.
   */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    const s = this.#session;
    if (s && s.authorization !== rejected) return s.authorization;
    this.#session = undefined;
    return (await abortable(this.#login(), signal)).authorization;
  }

  /** Ends the current session at DSM (best effort, bounded in time) and forgets it. */
  async terminate(): Promise<void> {
    this.#closed = true;
    const s = this.#session ?? (await this.#pending?.catch(() => undefined));
    this.#session = undefined;
    if (!s) return;
    try {
      await this.#http.request({
        method: 'POST',
        path: '/sys/v1/session/terminate',
        authorization: s.authorization,
        timeoutMs: TERMINATE_TIMEOUT_MS,
      });
    } catch {
      // The session expires on its own; a failed terminate must not fail close().
    }
  }

  #login(): Promise<Session> {
    this.#pending ??= this.#doLogin().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #doLogin(): Promise<Session> {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: key store is closed') });
    const started = performance.now();
    let res: FortanixResponse;
    try {
      // The application API key is already base64(`<app id>:<secret>`): it is the Basic credential as it is.
      res = await this.#http.request({ method: 'POST', path: '/sys/v1/session/auth', authorization: `Basic ${this.#apiKey}` });
    } catch (err) {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: session login failed', { cause: err }) });
    }
    this.logins++;
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
    const session: Session = {
      authorization: `Bearer ${token}`,
      renewAt: lifetimeMs > 0 ? started + lifetimeMs * RENEW_AT : Number.POSITIVE_INFINITY,
    };
    if (this.#closed) {
      // close() ran while this login was on its way: end the new session at once.
      await this.#http
        .request({ method: 'POST', path: '/sys/v1/session/terminate', authorization: session.authorization, timeoutMs: TERMINATE_TIMEOUT_MS })
        .catch(() => undefined);
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: key store is closed') });
    }
    this.#session = session;
    return session;
  }
}

/** Waits for `p`, or rejects with the signal's reason when it aborts first (`p` itself goes on). */
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
