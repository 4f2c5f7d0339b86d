// The CipherTrust Manager login: a long-lived refresh token is traded for a short-lived
// JWT (`POST /api/v1/auth/tokens`), which is renewed in the background at half of its
// lifetime and, after a failed renewal, every 5 s (as upstream). A request answered 401
// triggers one shared re-login.
import { describeAnswer } from './gemalto-http.js';
import { field } from './https-client.js';
import type { HttpsJsonClient } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

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

/** Renewal never closer together than this, whatever lifetime the server announces. */
const MIN_RENEW_MS = 100;

/**
 * Hands out a valid JWT: logs in on first use, again at half of the JWT's lifetime and
 * when a request is answered 401. A failed background renewal keeps the old JWT (a
 * request that gets a 401 meanwhile logs in by itself) and is tried again after
 * `login.retryMs`. `token()` throws GemaltoLoginError when the server refuses the
 * refresh token, a TransportError when it does not answer.
 */
export function createGemaltoTokenSource(http: HttpsJsonClient, login: GemaltoLogin): TokenSession<TokenLease> {
  return new TokenSession<TokenLease>({ login: () => logIn(http, login), retryMs: login.retryMs });
}

/** `POST /api/v1/auth/tokens`: the refresh token for a JWT. */
async function logIn(http: HttpsJsonClient, login: GemaltoLogin): Promise<TokenLease> {
  const { refreshToken, domain } = login;
  const where = domain ? `domain '${domain}'` : 'the root domain';
  // As upstream: `domain` is always sent; the empty string selects the root domain.
  const res = await http.request({
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
  return { token: jwt, staleAt: performance.now() + lifetimeMs, renewInMs: Math.max(MIN_RENEW_MS, Math.floor(lifetimeMs / 2)) };
}
