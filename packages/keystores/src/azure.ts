/**
 * The Azure Key Vault key store (`keystore.azure.keyvault`): one Key Vault secret
 * per key, laid out exactly as upstream KES lays it out, so both can share a vault.
 * Talks to the documented Key Vault REST API (api-version {@link AZURE_API_VERSION})
 * with Node's own HTTPS client; no Azure SDK.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { AzureTokenSource, DEFAULT_AUTHORITY_HOST, DEFAULT_IMDS_ENDPOINT } from './internal/azure-auth.js';
import type { AzureLogin } from './internal/azure-auth.js';
import { createAzureHttpClient, sleep, vaultError } from './internal/azure-http.js';
import type { AzureHttpResponse } from './internal/azure-http.js';
import { TransportError, field, keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient } from './internal/https-client.js';
import { decodeAzureValue, encodeAzureValue } from './internal/azure-value.js';
import { checkCall } from './internal/call.js';
import { ListSnapshots } from './internal/list.js';
import { paddedNaming } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';

/** The Key Vault REST API version every request pins. */
export const AZURE_API_VERSION = '7.4';

/** Options of {@link createAzureKeyStore}; they mirror `keystore.azure.keyvault` in the config file. */
export interface AzureKeyStoreOptions {
  /** Vault URL, e.g. `https://my-vault.vault.azure.net`. */
  readonly endpoint: string;
  /** Client-secret login (an app registration / service principal). */
  readonly credentials?: {
    readonly tenantId: string;
    readonly clientId: string;
    readonly clientSecret: string;
  };
  /** Managed-identity login; `clientId` selects a user-assigned identity (empty → system-assigned). */
  readonly managedIdentity?: { readonly clientId: string };
  /** Entra ID authority host. Default `AZURE_AUTHORITY_HOST` from `environment`, else `https://login.microsoftonline.com`. */
  readonly authorityHost?: string;
  /** IMDS token endpoint (tests, proxies). Default `http://169.254.169.254/metadata/identity/oauth2/token`. */
  readonly managedIdentityEndpoint?: string;
  /**
   * Environment the default credential chain and the managed identity read
   * (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`,
   * `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), as the Azure SDK's default credential
   * does. Default `process.env`.
   */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Extra CA certificates (PEM text or a file path) trusted for the vault and the login host. */
  readonly tls?: { readonly ca?: string };
  /** Timeout of one HTTP request in ms. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Purge attempts after a soft delete (Key Vault answers 409 while the deletion runs). Default 8. */
  readonly purgeAttempts?: number;
  /** Delay before the first purge retry in ms, doubled up to 4 s. Default 250. */
  readonly purgeRetryDelayMs?: number;
}

/** Key Vault secret names: 1–127 of `0-9 a-z A-Z -` (a Key Vault rule). */
const AZURE_NAME = /^[0-9A-Za-z-]{1,127}$/;
/** Throttled requests are retried this often, honouring `Retry-After`. */
const THROTTLE_RETRIES = 3;
/** A `Retry-After` longer than this is not waited for: the call fails as unavailable. */
const MAX_RETRY_AFTER_MS = 10_000;
/** Page size of list calls (the Key Vault maximum). */
const PAGE_SIZE = 25;
/** Safety bound on pages of one listing (25 names each). */
const MAX_PAGES = 100_000;

interface ResolvedOptions {
  readonly endpoint: URL;
  readonly login: AzureLogin;
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
  readonly purgeAttempts: number;
  readonly purgeRetryDelayMs: number;
}

/** One version of a secret as the versions listing describes it. */
interface VersionInfo {
  readonly id: string;
  readonly version: string;
  readonly created: number;
  readonly enabled: boolean;
  readonly nbf: number | undefined;
  readonly exp: number | undefined;
}

/**
 * Creates a key store on an Azure Key Vault. Options are validated now; the first
 * call fetches a token.
 *
 * Layout (as upstream KES): key `N` is the secret `N` whose value is the stored value
 * as text. Reads use the oldest version of the secret (the first writer wins).
 * Names outside Key Vault's alphabet (`0-9 a-z A-Z -`) are refused with
 * `ERR_KES_INVALID_KEY_NAME` before any request.
 *
 * Version records of rotated keys (`store.versions`) are secrets of the same vault
 * named `<name>--versions--<id>` padded with `-` to more than 80 characters: Key
 * Vault names allow no character outside the KES alphabet, so length and the
 * trailing `-` are what keep them from ever being a KES key name. `list()` leaves
 * them out.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option.
 * @example
 * const store = await createAzureKeyStore({
 *   endpoint: 'https://my-vault.vault.azure.net',
 *   credentials: { tenantId, clientId, clientSecret },
 * });
 * await store.create('my-key', value);
 */
export async function createAzureKeyStore(options: AzureKeyStoreOptions): Promise<KeyStore> {
  return new AzureKeyStore(resolveOptions(options));
}

function invalid(what: string): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`azure: ${what}`]);
}

function isNonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

function parseUrl(v: string, what: string, protocols: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalid(`${what} is not a valid URL`);
  }
  if (!protocols.includes(u.protocol)) throw invalid(`${what} must be an ${protocols.join(' or ')} URL`);
  if (u.username || u.password) throw invalid(`${what} must not contain credentials`);
  return u;
}

function resolveOptions(o: AzureKeyStoreOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw invalid('options must be an object');
  if (!isNonEmpty(o.endpoint)) throw invalid('endpoint is required');
  const endpoint = parseUrl(o.endpoint, 'endpoint', ['https:', 'http:']);
  if (endpoint.search || endpoint.hash) throw invalid('endpoint must not have a query or fragment');
  if (o.credentials !== undefined && o.managedIdentity !== undefined) {
    throw invalid("'credentials' and 'managed_identity' are mutually exclusive: configure one of them");
  }
  const env = o.environment ?? process.env;
  const authorityText = o.authorityHost ?? (isNonEmpty(env.AZURE_AUTHORITY_HOST) ? env.AZURE_AUTHORITY_HOST : DEFAULT_AUTHORITY_HOST);
  const authorityHost = parseUrl(authorityText, 'authorityHost', ['https:', 'http:']);
  const imds = parseUrl(o.managedIdentityEndpoint ?? DEFAULT_IMDS_ENDPOINT, 'managedIdentityEndpoint', ['http:', 'https:']);
  const appService =
    isNonEmpty(env.IDENTITY_ENDPOINT) && isNonEmpty(env.IDENTITY_HEADER)
      ? { endpoint: parseUrl(env.IDENTITY_ENDPOINT, 'IDENTITY_ENDPOINT', ['http:', 'https:']), header: env.IDENTITY_HEADER }
      : undefined;

  let login: AzureLogin;
  if (o.credentials !== undefined) {
    const c = o.credentials;
    if (typeof c !== 'object' || c === null) throw invalid('credentials must be an object');
    for (const k of ['tenantId', 'clientId', 'clientSecret'] as const) {
      if (!isNonEmpty(c[k])) throw invalid(`credentials.${k} is required`);
    }
    login = { kind: 'client-secret', tenantId: c.tenantId, clientId: c.clientId, clientSecret: c.clientSecret, authorityHost, source: 'credentials' };
  } else if (o.managedIdentity !== undefined) {
    const m = o.managedIdentity;
    if (typeof m !== 'object' || m === null || typeof m.clientId !== 'string') throw invalid('managedIdentity.clientId must be a string');
    login = { kind: 'managed-identity', clientId: m.clientId || undefined, imds, appService };
  } else if (isNonEmpty(env.AZURE_TENANT_ID) && isNonEmpty(env.AZURE_CLIENT_ID) && isNonEmpty(env.AZURE_CLIENT_SECRET)) {
    // Default chain, step 1: a service principal from the environment.
    login = {
      kind: 'client-secret',
      tenantId: env.AZURE_TENANT_ID,
      clientId: env.AZURE_CLIENT_ID,
      clientSecret: env.AZURE_CLIENT_SECRET,
      authorityHost,
      source: 'environment',
    };
  } else {
    // Default chain, step 2: the managed identity of the host (user-assigned if AZURE_CLIENT_ID is set).
    login = { kind: 'managed-identity', clientId: isNonEmpty(env.AZURE_CLIENT_ID) ? env.AZURE_CLIENT_ID : undefined, imds, appService };
  }

  let ca: string | undefined;
  const caOpt = o.tls?.ca;
  if (caOpt !== undefined) {
    if (!isNonEmpty(caOpt)) throw invalid('tls.ca must be PEM text or a file path');
    if (caOpt.includes('-----BEGIN')) ca = caOpt;
    else {
      try {
        ca = readFileSync(caOpt, 'utf8');
      } catch (err) {
        throw new KesError('ERR_KES_INVALID_ARGUMENT', [`azure: cannot read tls.ca file ${caOpt}`], { cause: err });
      }
    }
  }
  const positive = (v: number | undefined, what: string, dflt: number, min = 1): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(`${what} must be an integer >= ${min}`);
    return v;
  };
  return {
    endpoint,
    login,
    ca,
    requestTimeoutMs: positive(o.requestTimeoutMs, 'requestTimeoutMs', 10_000),
    purgeAttempts: positive(o.purgeAttempts, 'purgeAttempts', 8),
    purgeRetryDelayMs: positive(o.purgeRetryDelayMs, 'purgeRetryDelayMs', 250, 0),
  };
}

class AzureKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedOptions;
  readonly #http: HttpsJsonClient;
  readonly #auth: AzureTokenSource;
  /** Per-name chains that serialise this process's create/delete (Key Vault has no create-only write). */
  readonly #locks = new Map<string, Promise<void>>();
  readonly #listing = new ListSnapshots();
  #closed = false;
  readonly versions: KeyVersionStore;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#http = createAzureHttpClient(o.requestTimeoutMs, o.ca);
    this.#auth = new AzureTokenSource(this.#http, o.login);
    this.kind = `azure:${o.endpoint.origin}${o.endpoint.pathname.replace(/\/+$/, '')}`;
    this.versions = this.#versionStore();
  }

  /**
   * The version records: secret `<name>--versions--<id>-…` (see {@link paddedNaming}),
   * created, read and deleted exactly like a key's secret (look-then-set with the
   * first-writer check, oldest version read, soft delete + purge). Key Vault cannot list
   * by name, so `list` walks every secret name of the vault. Upstream KES lists every
   * secret of the vault, so it shows these names too (they are no valid key names).
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} secrets <name>--versions--<id>`,
      naming: paddedNaming,
      closed: () => this.#closed,
      checkName: checkRecordKeyName,
      create: (secret, value, signal) => this.#createSecret(secret, value, signal),
      get: (secret, signal) => this.#getSecret(secret, signal),
      delete: (secret, signal) => this.#deleteSecret(secret, signal),
      walk: (signal, visit) => this.#secretNames('list', signal, visit),
    });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    await this.#createSecret(name, value, this.#enter(name, options));
  }

  /** Creates secret `name` (a key name or a record name), create-only as far as Key Vault allows. */
  async #createSecret(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    // Copied now: the caller may reuse (or wipe) its buffer while we wait on Key Vault.
    const text = encodeAzureValue(value);
    await this.#locked(name, async () => {
      // Key Vault's "set" adds a version to an existing secret: look first (as upstream).
      const existing = await this.#send('GET', this.#secretUrl(name), undefined, signal);
      if (existing.status === 200 || isDisabledSecret(existing)) throw new KesError('ERR_KES_KEY_EXISTS');
      if (existing.status !== 404) throw this.#unexpected(`create ${name}: read`, existing);
      const set = await this.#setAfterPurge(name, text, signal);
      const mine = versionOf(field(set.body, 'id'));
      // Another process may have set the same name between our read and our write. Readers
      // take the oldest version, so check who was first; if it was not us, disable our
      // version (it is never read) and report that the key exists.
      const oldest = oldestVersion(await this.#versions(name, signal));
      if (mine && oldest && oldest.version !== mine) {
        await this.#send('PATCH', this.#secretUrl(name, mine), JSON.stringify({ attributes: { enabled: false } }), signal);
        throw new KesError('ERR_KES_KEY_EXISTS');
      }
    });
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    return this.#getSecret(name, this.#enter(name, options));
  }

  /** The oldest version of secret `name` (a key name or a record name). */
  async #getSecret(name: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const oldest = oldestVersion(await this.#versions(name, signal));
    if (!oldest) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    const now = Date.now() / 1000;
    const unusable = !oldest.enabled
      ? 'is disabled'
      : oldest.nbf !== undefined && oldest.nbf > now
        ? 'is not valid yet'
        : oldest.exp !== undefined && oldest.exp <= now
          ? 'has expired'
          : undefined;
    if (unusable) {
      throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`azure: the first version of key '${name}' ${unusable}`) });
    }
    const res = await this.#send('GET', this.#secretUrl(name, oldest.version), undefined, signal);
    if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw this.#unexpected(`get ${name}`, res);
    const text = field(res.body, 'value');
    const bytes = typeof text === 'string' ? decodeAzureValue(text) : undefined;
    if (!bytes) throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`azure: the value of key '${name}' is malformed`) });
    return bytes;
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    await this.#deleteSecret(name, this.#enter(name, options));
  }

  async #deleteSecret(name: string, signal: AbortSignal | undefined): Promise<void> {
    await this.#locked(name, async () => {
      const res = await this.#send('DELETE', this.#secretUrl(name), undefined, signal);
      // Upstream treats a missing key as deleted; our contract reports it.
      if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      if (res.status !== 200) throw this.#unexpected(`delete ${name}`, res);
      // The soft-deleted secret would block re-creating the name: purge it. If that does
      // not succeed in time the key is still deleted; a later create purges it.
      await this.#purge(name, signal);
    });
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    checkCall(this.#closed, options?.signal);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#allNames(options?.signal));
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    const signal = options?.signal;
    const started = performance.now();
    // One cheap authenticated call: proves the vault answers and the identity may list.
    let res: AzureHttpResponse;
    try {
      res = await this.#send('GET', this.#url('secrets', `maxresults=1`), undefined, signal);
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      const transport = err instanceof KesError && err.cause instanceof TransportError;
      if (transport && (err.cause as TransportError).kind !== 'too-large') {
        throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: err.cause });
      }
      throw err;
    }
    if (res.status !== 200) throw this.#unexpected('status', res);
    return { latencyMs: performance.now() - started };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    this.#http.close();
  }

  /** Entry checks; returns the caller's signal. */
  #enter(name: string, options: KeyStoreCallOptions | undefined): AbortSignal | undefined {
    checkCall(this.#closed, options?.signal);
    // The name becomes a URL path segment: anything but a KES name could address
    // another object. Key Vault itself allows only 0-9 a-z A-Z and `-`: refuse the
    // rest here with a clear reason instead of a Key Vault 400 after a token fetch.
    if (!isValidName(name) || !AZURE_NAME.test(name)) {
      throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)], {
        cause: new Error('azure: Key Vault secret names may only contain 0-9, a-z, A-Z and - (1 to 127 characters)'),
      });
    }
    return options?.signal;
  }

  #url(path: string, query = ''): URL {
    const u = new URL(this.#o.endpoint.href);
    u.pathname = `${this.#o.endpoint.pathname.replace(/\/+$/, '')}/${path}`;
    u.search = `api-version=${AZURE_API_VERSION}${query ? `&${query}` : ''}`;
    return u;
  }

  #secretUrl(name: string, version?: string): URL {
    return this.#url(`secrets/${encodeURIComponent(name)}${version ? `/${encodeURIComponent(version)}` : ''}`);
  }

  /** PUT the value; a soft-deleted secret of the same name is purged first (as upstream). */
  async #setAfterPurge(name: string, text: string, signal: AbortSignal | undefined): Promise<AzureHttpResponse> {
    const body = JSON.stringify({ value: text });
    let delay = this.#o.purgeRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const res = await this.#send('PUT', this.#secretUrl(name), body, signal);
      if (res.status === 200) return res;
      if (res.status !== 409 || attempt >= this.#o.purgeAttempts) throw this.#unexpected(`create ${name}`, res);
      // 409: the name belongs to a deleted-but-recoverable secret, or one being deleted.
      const purged = await this.#send('DELETE', this.#url(`deletedsecrets/${encodeURIComponent(name)}`), undefined, signal);
      if (purged.status === 403) throw this.#unexpected(`create ${name}: purge of the soft-deleted secret`, purged);
      if (purged.status !== 204 && purged.status !== 200) {
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 4000);
      }
    }
  }

  /** Purges a soft-deleted secret, retrying while Key Vault still deletes it. Best effort. */
  async #purge(name: string, signal: AbortSignal | undefined): Promise<void> {
    let delay = this.#o.purgeRetryDelayMs;
    for (let attempt = 1; attempt <= this.#o.purgeAttempts; attempt++) {
      const res = await this.#send('DELETE', this.#url(`deletedsecrets/${encodeURIComponent(name)}`), undefined, signal);
      // 403: purge protection or no purge permission; the secret stays soft-deleted.
      if (res.status === 204 || res.status === 200 || res.status === 403) return;
      if (res.status !== 404 && res.status !== 409) return;
      if (attempt < this.#o.purgeAttempts) {
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 4000);
      }
    }
  }

  /** Every version of secret `name`, following `nextLink`; `[]` when the secret does not exist. */
  async #versions(name: string, signal: AbortSignal | undefined): Promise<VersionInfo[]> {
    const out: VersionInfo[] = [];
    const found = await this.#pages(
      `versions of ${name}`,
      this.#url(`secrets/${encodeURIComponent(name)}/versions`, `maxresults=${PAGE_SIZE}`),
      signal,
      (item) => {
        const id = field(item, 'id');
        const version = versionOf(id);
        if (typeof id !== 'string' || !version) return;
        const num = (k: string): number | undefined => {
          const v = field(item, 'attributes', k);
          return typeof v === 'number' ? v : undefined;
        };
        out.push({
          id,
          version,
          created: num('created') ?? 0,
          enabled: field(item, 'attributes', 'enabled') !== false,
          nbf: num('nbf'),
          exp: num('exp'),
        });
      },
    );
    return found ? out : [];
  }

  /** Every KES-valid secret name in the vault (never a version record: those are no KES names). */
  async #allNames(signal: AbortSignal | undefined): Promise<string[]> {
    const names: string[] = [];
    await this.#secretNames('list', signal, (name) => {
      // Other secrets of the vault (not KES names) are not keys of this store.
      if (isValidName(name)) names.push(name);
    });
    return names;
  }

  /** Calls `each` with the name of every secret in the vault (Key Vault's listing has no name filter). */
  async #secretNames(what: string, signal: AbortSignal | undefined, each: (name: string) => void): Promise<void> {
    await this.#pages(what, this.#url('secrets', `maxresults=${PAGE_SIZE}`), signal, (item) => {
      const id = field(item, 'id');
      if (typeof id !== 'string') return;
      let segments: string[];
      try {
        segments = new URL(id).pathname.split('/').filter(Boolean);
      } catch {
        return;
      }
      if (segments.length === 2 && segments[0] === 'secrets') each(decodeURIComponent(segments[1]!));
    });
  }

  /**
   * Walks a paged Key Vault listing. `nextLink` is followed only on the vault's own
   * origin: the bearer token goes with it, and a forged or proxied nextLink must not
   * carry it to another host.
   * @returns false when the first page answered 404 (no such secret).
   */
  async #pages(what: string, first: URL, signal: AbortSignal | undefined, each: (item: unknown) => void): Promise<boolean> {
    let url: URL | undefined = first;
    const seen = new Set<string>();
    for (let page = 0; url; page++) {
      if (page >= MAX_PAGES || seen.has(url.href)) {
        throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`azure: ${what}: the listing does not end`) });
      }
      seen.add(url.href);
      const res = await this.#send('GET', url, undefined, signal);
      if (res.status === 404 && page === 0) return false;
      if (res.status !== 200) throw this.#unexpected(what, res);
      const items = field(res.body, 'value');
      if (!Array.isArray(items)) throw this.#unexpected(what, res);
      for (const item of items) each(item);
      const next = field(res.body, 'nextLink');
      url = undefined;
      if (typeof next === 'string' && next !== '') {
        let u: URL;
        try {
          u = new URL(next);
        } catch {
          throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`azure: ${what}: invalid nextLink`) });
        }
        if (u.origin !== this.#o.endpoint.origin) {
          throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
            cause: new Error(`azure: ${what}: nextLink points to ${u.origin}, not to the vault ${this.#o.endpoint.origin}; not followed`),
          });
        }
        if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', AZURE_API_VERSION);
        url = u;
      }
    }
    return true;
  }

  /**
   * Sends an authenticated request. A 401 drops the token (following a verified
   * challenge to another resource) and retries once; a 429 is retried after its
   * `Retry-After`, a few times.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE on transport failures, timeouts and token failures.
   */
  async #send(
    method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
    url: URL,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<AzureHttpResponse> {
    let retried401 = false;
    for (let throttled = 0; ; ) {
      if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('azure: key store is closed') });
      const token = await this.#auth.token(signal);
      let res: AzureHttpResponse;
      try {
        res = await this.#http.request({
          method,
          url,
          headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
          ...(body !== undefined ? { body } : {}),
          signal,
        });
      } catch (err) {
        throw keystoreFailure(err, signal);
      }
      if (res.status === 401 && !retried401) {
        retried401 = true;
        const header = res.headers['www-authenticate'];
        this.#auth.adoptChallenge(Array.isArray(header) ? header[0] : header, this.#o.endpoint);
        this.#auth.invalidate(token);
        continue;
      }
      if (res.status === 429 && throttled < THROTTLE_RETRIES) {
        const wait = retryAfterMs(res.headers['retry-after']);
        if (wait !== undefined && wait <= MAX_RETRY_AFTER_MS) {
          throttled++;
          await sleep(wait, signal);
          continue;
        }
      }
      return res;
    }
  }

  /** An unexpected answer: the caller sees "unavailable", the log gets status and Key Vault's error text. */
  #unexpected(what: string, res: AzureHttpResponse): KesError {
    const detail = vaultError(res.body);
    return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`azure: ${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`) });
  }

  /** Runs `fn` after every earlier call on `name` in this process has settled. */
  async #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    this.#locks.set(name, chained);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      if (this.#locks.get(name) === chained) this.#locks.delete(name);
    }
  }
}

/**
 * The Key Vault check of a record call's key name, after the common ones (`recordStoreOver`):
 * a KES name with `_` has no record name in Key Vault's alphabet (nor can such a key exist here).
 */
function checkRecordKeyName(name: string): void {
  if (!AZURE_NAME.test(name)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid key name for a version record'], {
      cause: new Error('azure: Key Vault secret names may only contain 0-9, a-z, A-Z and -'),
    });
  }
}

/** 403 on "get latest" for a secret whose current version is disabled: the secret exists. */
function isDisabledSecret(res: AzureHttpResponse): boolean {
  return res.status === 403 && field(res.body, 'error', 'innererror', 'code') === 'SecretDisabled';
}

/** The version segment of a secret id `https://<vault>/secrets/<name>/<version>`. */
function versionOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  try {
    const segments = new URL(id).pathname.split('/').filter(Boolean);
    return segments.length === 3 && segments[0] === 'secrets' ? segments[2] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first-created version (as upstream: the first writer wins). `created` has
 * one-second resolution, so ties are broken by version id: every reader and
 * writer, in any process, picks the same one.
 */
function oldestVersion(versions: readonly VersionInfo[]): VersionInfo | undefined {
  let best: VersionInfo | undefined;
  for (const v of versions) {
    if (!best || v.created < best.created || (v.created === best.created && v.version < best.version)) best = v;
  }
  return best;
}

/** `Retry-After` in ms (seconds or an HTTP date); absent → 1 s; unparsable → undefined. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v === '') return 1000;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
