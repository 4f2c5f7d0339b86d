// OAuth2 access tokens for the GCP key store: a service account's JWT-bearer grant
// (RFC 7523, RS256-signed with node:crypto), or the GCE/GKE metadata server. Tokens
// are cached until shortly before they expire and fetched again when Google rejects
// one (401). One fetch at a time: concurrent callers share it.
import { createPrivateKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KesError } from '@kes/core';
import { googleError } from './gcp-http.js';
import type { GcpHttpResponse } from './gcp-http.js';
import { TransportError } from './https-client.js';
import type { HttpsJsonClient, HttpsJsonRequest } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

/** Google's OAuth2 token endpoint (also the JWT audience). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** The metadata server of GCE, GKE, Cloud Run, … */
export const GOOGLE_METADATA_URL = 'http://metadata.google.internal';
/** Path of the default service account's token on the metadata server. */
export const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Lifetime asked for in the JWT assertion: Google's maximum. */
const ASSERTION_LIFETIME_S = 3600;
/** Assumed lifetime when an answer has no `expires_in`. */
const DEFAULT_TOKEN_LIFETIME_S = 3600;

/** A service account that can sign its own token requests. */
export interface GcpServiceAccount {
  readonly clientEmail: string;
  /** `kid` of the JWT header ('' = none). */
  readonly privateKeyId: string;
  readonly privateKey: KeyObject;
  readonly tokenUrl: URL;
}

/** Where the store's access tokens come from. */
export type GcpLogin =
  | { readonly kind: 'service-account'; readonly account: GcpServiceAccount }
  /** Application default credentials from a service-account JSON file, (re-)read on every token fetch. */
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'metadata'; readonly url: URL };

function unavailable(message: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(message, cause === undefined ? undefined : { cause }) });
}

/**
 * Turns PEM text into a private key. Literal `\n` sequences become newlines first,
 * as upstream does: a key pasted from a JSON file into YAML often keeps them.
 *
 * @throws Error naming `field` (never the key) when it is not a PEM private key.
 */
export function parsePrivateKey(pem: string, field: string): KeyObject {
  try {
    const key = createPrivateKey({ key: pem.replaceAll('\\n', '\n'), format: 'pem' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not an RSA key');
    return key;
  } catch {
    throw new Error(`${field} is not a PEM-encoded RSA private key`);
  }
}

/**
 * An `https` URL (or `http` when `allowHttp`), checked; the message names `field`.
 * @throws Error when `text` is not such a URL.
 */
export function parseUrl(text: string, field: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${field} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new Error(`${field} must be an ${allowHttp ? 'http or https' : 'https'} URL`);
  }
  if (url.username || url.password) throw new Error(`${field} must not contain user information`);
  return url;
}

/**
 * The service account in a Google credentials JSON file (`type: service_account`).
 * `token_uri` is honoured as Google's own libraries do, but only over https: the
 * signed assertion sent there is a credential.
 *
 * @throws Error naming the file and the field at fault, never a value.
 */
export function parseServiceAccountFile(text: string, path: string): GcpServiceAccount {
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch {
    throw new Error(`gcp: credentials file ${path} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw new Error(`gcp: credentials file ${path} is not a JSON object`);
  const d = doc as Record<string, unknown>;
  if (d.type !== 'service_account') {
    throw new Error(`gcp: credentials file ${path}: type '${String(d.type)}' is not supported (only 'service_account')`);
  }
  const str = (k: string): string => (typeof d[k] === 'string' ? (d[k] as string) : '');
  if (!str('client_email')) throw new Error(`gcp: credentials file ${path}: 'client_email' is missing`);
  if (!str('private_key')) throw new Error(`gcp: credentials file ${path}: 'private_key' is missing`);
  try {
    return {
      clientEmail: str('client_email'),
      privateKeyId: str('private_key_id'),
      privateKey: parsePrivateKey(str('private_key'), "'private_key'"),
      tokenUrl: parseUrl(str('token_uri') || GOOGLE_TOKEN_URL, "'token_uri'", false),
    };
  } catch (err) {
    throw new Error(`gcp: credentials file ${path}: ${(err as Error).message}`);
  }
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** A signed RS256 JWT assertion for the JWT-bearer grant (RFC 7523 §2.1). */
export function signAssertion(account: GcpServiceAccount, scopes: readonly string[], nowS: number): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(account.privateKeyId ? { kid: account.privateKeyId } : {}) };
  const claims = {
    iss: account.clientEmail,
    scope: scopes.join(' '),
    aud: account.tokenUrl.href,
    iat: nowS,
    exp: nowS + ASSERTION_LIFETIME_S,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input, 'ascii'), account.privateKey);
  return `${input}.${b64url(signature)}`;
}

/** Hands out the current access token; fetches one lazily and again before it expires. */
export class GcpTokenSource {
  readonly #http: HttpsJsonClient;
  readonly #login: GcpLogin;
  readonly #scopes: readonly string[];
  /** Scopes were configured: ask the metadata server for them too (else it uses the VM's). */
  readonly #explicitScopes: boolean;
  readonly #session = new TokenSession<TokenLease>({ login: () => this.#doFetch(), now: Date.now });

  constructor(http: HttpsJsonClient, login: GcpLogin, scopes: readonly string[], explicitScopes: boolean) {
    this.#http = http;
    this.#login = login;
    this.#scopes = scopes;
    this.#explicitScopes = explicitScopes;
  }

  /**
   * A token valid now, fetching one when there is none or it is about to expire.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the fetch fails (or the signal's reason).
   */
  token(signal?: AbortSignal): Promise<string> {
    return this.#session.token(signal);
  }

  /** Called after Google rejected `rejected` with 401: fetches a new token (once for all callers that saw it fail). */
  refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    return this.#session.refresh(rejected, signal);
  }

  async #doFetch(): Promise<TokenLease> {
    const login = this.#login;
    let res: GcpHttpResponse;
    let what: string;
    if (login.kind === 'metadata') {
      const url = new URL(METADATA_TOKEN_PATH, login.url);
      if (this.#explicitScopes) url.search = `scopes=${encodeURIComponent(this.#scopes.join(','))}`;
      // Named in full: outside Google Cloud this is where a missing credentials setting ends up.
      what = `gcp: token request to the metadata server ${url.host} (no credentials configured, GOOGLE_APPLICATION_CREDENTIALS not set)`;
      res = await this.#send(what, { method: 'GET', url, headers: { 'Metadata-Flavor': 'Google' } });
    } else {
      let account: GcpServiceAccount;
      if (login.kind === 'file') {
        let text: string;
        try {
          text = await readFile(login.path, 'utf8');
        } catch (err) {
          throw unavailable(`gcp: cannot read the credentials file ${login.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        try {
          account = parseServiceAccountFile(text, login.path);
        } catch (err) {
          throw unavailable((err as Error).message);
        }
      } else {
        account = login.account;
      }
      what = `gcp: token request for ${account.clientEmail} to ${account.tokenUrl.host}`;
      const assertion = signAssertion(account, this.#scopes, Math.floor(Date.now() / 1000));
      res = await this.#send(what, {
        method: 'POST',
        url: account.tokenUrl,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
      });
    }
    const body = res.body as { access_token?: unknown; expires_in?: unknown; token_type?: unknown } | undefined;
    const value = body?.access_token;
    if (res.status !== 200 || typeof value !== 'string' || value === '') {
      const detail = googleError(res.body);
      throw unavailable(`${what} failed: HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
    }
    if (typeof body?.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
      throw unavailable(`${what} failed: token type '${body.token_type}' is not Bearer`);
    }
    const lifetimeS = typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const lifetimeMs = lifetimeS * 1000;
    // Fetch again a little before the expiry (a minute, or a quarter of short lifetimes),
    // so a request never leaves with a token that expires on its way.
    return { token: value, staleAt: Date.now() + lifetimeMs - Math.min(60_000, lifetimeMs / 4) };
  }

  async #send(what: string, req: HttpsJsonRequest): Promise<GcpHttpResponse> {
    try {
      return await this.#http.request(req);
    } catch (err) {
      const kind = err instanceof TransportError ? err.message : String(err);
      throw unavailable(`${what} failed: ${kind}`, err);
    }
  }
}
