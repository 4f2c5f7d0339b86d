// Entra ID (Azure AD) access tokens for Key Vault: client credentials, managed
// identity (IMDS or App Service), or a default chain of both. Tokens are cached
// until shortly before they expire; a token Key Vault rejects is dropped and
// fetched again once.
import { KesError } from '@kes/core';
import type { AzureHttpResponse } from './azure-http.js';
import { TransportError, field } from './https-client.js';
import type { HttpsJsonClient } from './https-client.js';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

/** Resource (audience) of Key Vault tokens in the public cloud. */
export const DEFAULT_VAULT_RESOURCE = 'https://vault.azure.net';
/** Entra ID authority host in the public cloud. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
/** The Azure Instance Metadata Service token endpoint. */
export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254/metadata/identity/oauth2/token';

/** How the store obtains tokens (already resolved from options and environment). */
export type AzureLogin =
  | {
      readonly kind: 'client-secret';
      readonly tenantId: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly authorityHost: URL;
      /** Where the settings came from, for messages: `credentials` or `environment`. */
      readonly source: string;
    }
  | {
      readonly kind: 'managed-identity';
      /** User-assigned identity; absent → the system-assigned one. */
      readonly clientId?: string | undefined;
      readonly imds: URL;
      /** App Service / Functions identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`). */
      readonly appService?: { readonly endpoint: URL; readonly header: string } | undefined;
    };

/** Refresh this long before expiry (at most half of the lifetime). */
const REFRESH_MARGIN_MS = 5 * 60_000;

/** Hands out Key Vault access tokens. */
export class AzureTokenSource {
  readonly #http: HttpsJsonClient;
  readonly #login: AzureLogin;
  #resource = DEFAULT_VAULT_RESOURCE;
  readonly #now: () => number;
  readonly #session: TokenSession<TokenLease>;

  constructor(http: HttpsJsonClient, login: AzureLogin, now: () => number = Date.now) {
    this.#http = http;
    this.#login = login;
    this.#now = now;
    this.#session = new TokenSession<TokenLease>({ login: () => this.#fetch(), now });
  }

  /** The audience tokens are requested for. */
  get resource(): string {
    return this.#resource;
  }

  /**
   * A valid token, fetched when there is none or it is about to expire. Concurrent
   * callers share one fetch.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE when the token endpoint refuses or fails.
   */
  token(signal?: AbortSignal): Promise<string> {
    return this.#session.token(signal);
  }

  /** Forgets `rejected` (Key Vault answered 401 to it), unless a newer token replaced it already. */
  invalidate(rejected: string): void {
    this.#session.invalidate(rejected);
  }

  /**
   * Follows a Key Vault 401 challenge to another resource (sovereign clouds). Only
   * a resource whose host the vault host lies under is accepted: a challenge from
   * a look-alike endpoint must not make us ask for tokens for another service.
   * @returns true if the resource changed.
   */
  adoptChallenge(header: string | undefined, vault: URL): boolean {
    const resource = challengeResource(header);
    if (!resource || resource === this.#resource) return false;
    let host: string;
    try {
      const u = new URL(resource);
      if (u.protocol !== 'https:') return false;
      host = u.hostname.toLowerCase();
    } catch {
      return false;
    }
    if (!vault.hostname.toLowerCase().endsWith(`.${host}`)) return false;
    this.#resource = resource;
    this.#session.forget();
    return true;
  }

  async #fetch(): Promise<TokenLease> {
    const login = this.#login;
    const started = this.#now();
    let res: AzureHttpResponse;
    let what: string;
    try {
      if (login.kind === 'client-secret') {
        what = `client-credentials login (tenant ${login.tenantId}, client ${login.clientId}, from ${login.source})`;
        const url = new URL(`${encodeURIComponent(login.tenantId)}/oauth2/v2.0/token`, withSlash(login.authorityHost));
        const form = new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: login.clientId,
          client_secret: login.clientSecret,
          scope: `${this.#resource}/.default`,
        });
        res = await this.#http.request({
          method: 'POST',
          url,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        });
      } else if (login.appService) {
        what = `managed-identity token from the App Service identity endpoint${login.clientId ? ` (client ${login.clientId})` : ''}`;
        const url = new URL(login.appService.endpoint.href);
        url.searchParams.set('api-version', '2019-08-01');
        url.searchParams.set('resource', this.#resource);
        if (login.clientId) url.searchParams.set('client_id', login.clientId);
        res = await this.#http.request({ method: 'GET', url, headers: { 'X-IDENTITY-HEADER': login.appService.header } });
      } else {
        what = `managed-identity token from IMDS${login.clientId ? ` (client ${login.clientId})` : ''}`;
        const url = new URL(login.imds.href);
        url.searchParams.set('api-version', '2018-02-01');
        url.searchParams.set('resource', this.#resource);
        if (login.clientId) url.searchParams.set('client_id', login.clientId);
        res = await this.#http.request({ method: 'GET', url, headers: { Metadata: 'true' } });
      }
    } catch (err) {
      const transport = err instanceof TransportError ? err.message : String(err);
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`azure: token request failed: ${transport}`, { cause: err }) });
    }
    const access = field(res.body, 'access_token');
    if (res.status !== 200 || typeof access !== 'string' || access === '') {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
        cause: new Error(`azure: ${what} failed: HTTP ${res.status}${tokenError(res.body)}`),
      });
    }
    const lifetimeMs = lifetime(res.body, started);
    const margin = Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2);
    return { token: access, staleAt: started + lifetimeMs - margin };
  }
}

/** Token lifetime in ms from `expires_in` (number or numeric string) or `expires_on` (epoch seconds). */
function lifetime(body: unknown, now: number): number {
  const num = (v: unknown): number | undefined => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
    return Number.isFinite(n) ? n : undefined;
  };
  const expiresIn = num(field(body, 'expires_in'));
  if (expiresIn !== undefined) return Math.max(0, expiresIn * 1000);
  const expiresOn = num(field(body, 'expires_on'));
  if (expiresOn !== undefined) return Math.max(0, expiresOn * 1000 - now);
  return 60_000; // no expiry given: use the token briefly, then fetch a new one
}

/** `: error: first line of error_description` of an OAuth error body (never contains the secret). */
function tokenError(body: unknown): string {
  const error = field(body, 'error');
  const description = field(body, 'error_description');
  const first = typeof description === 'string' ? (description.split(/\r?\n/)[0] ?? '') : '';
  const text = [typeof error === 'string' ? error : '', first].filter(Boolean).join(': ');
  return text ? `: ${text}` : '';
}

/** The `resource` (or the resource of `scope`) of a `WWW-Authenticate: Bearer …` challenge. */
export function challengeResource(header: string | undefined): string | undefined {
  if (!header || !/^\s*Bearer\b/i.test(header)) return undefined;
  const params = new Map<string, string>();
  for (const m of header.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params.set(m[1]!.toLowerCase(), m[2]!);
  const resource = params.get('resource');
  if (resource) return resource.replace(/\/+$/, '');
  const scope = params.get('scope');
  if (scope) return scope.replace(/\/\.default$/, '').replace(/\/+$/, '');
  return undefined;
}

function withSlash(u: URL): URL {
  const copy = new URL(u.href);
  if (!copy.pathname.endsWith('/')) copy.pathname += '/';
  return copy;
}
