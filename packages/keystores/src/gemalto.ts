/**
 * The Thales CipherTrust Manager / Gemalto KeySecure key store: one secret
 * (`dataType: "seed"`) per key in the vault of a CipherTrust domain, laid out exactly
 * as upstream KES lays it out, so both can share a domain.
 *
 * @module
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { checkCall } from './internal/call.js';
import { createGemaltoTokenSource } from './internal/gemalto-auth.js';
import { createGemaltoHttpClient, describeAnswer } from './internal/gemalto-http.js';
import type { GemaltoResponse } from './internal/gemalto-http.js';
import { TransportError, field, keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient, HttpsJsonRequest } from './internal/https-client.js';
import { resolveGemaltoOptions } from './internal/gemalto-options.js';
import type { ResolvedGemaltoOptions } from './internal/gemalto-options.js';
import { decodeMaterial, encodeMaterial } from './internal/gemalto-value.js';
import { isSafeKeyName } from './internal/key-name.js';
import { ListSnapshots } from './internal/list.js';
import { separatedNaming } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';
import type { TokenLease, TokenSession } from './internal/token-session.js';

/** Options of {@link createGemaltoKeyStore}; they mirror `keystore.gemalto.keysecure` in the config file. */
export interface GemaltoKeyStoreOptions {
  /** Base URL of the CipherTrust Manager, e.g. `https://ciphertrust.example.net`. */
  readonly endpoint: string;
  /** How to log in. */
  readonly credentials: {
    /** A refresh token of the KES user (`ksctl tokens create` or the UI). A secret. */
    readonly token: string;
    /** The CipherTrust domain holding the keys; empty or absent = the root domain. */
    readonly domain?: string;
  };
  /** TLS to the CipherTrust Manager (https endpoints only). */
  readonly tls?: {
    /** Trust anchors for the server certificate: PEM text, a PEM file or a directory of PEM files. Default: the system roots. */
    readonly ca?: string;
  };
  /** Deadline of one request in ms (connection included). Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Delay in ms before a failed background token renewal is tried again. Default 5000 (fixed upstream). */
  readonly loginRetryMs?: number;
}

/** Names asked for per list request (as upstream). */
const LIST_PAGE_SIZE = 200;
/** Upper bound of list requests in one listing (2 million secrets): a server whose paging never ends cannot hang a listing. */
const MAX_LIST_REQUESTS = 10_000;

const SECRETS = 'api/v1/vault/secrets';

/**
 * Creates a key store on a CipherTrust Manager (or KeySecure with the CipherTrust
 * REST API). Options are validated now; the first call logs in.
 *
 * Layout (as upstream KES): key `N` is the secret named `N` in the vault of the
 * configured domain, `dataType: "seed"`, with the stored value as its `material` text.
 *
 * Version records of rotated keys (`store.versions`) are secrets of the same domain
 * named `<name>.versions.<id>`, laid out like keys. A `.` is never part of a KES name,
 * so no key can collide with a record, and `list()` leaves them out.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option (never its value).
 * @example
 * const store = await createGemaltoKeyStore({
 *   endpoint: 'https://ciphertrust.example.net',
 *   credentials: { token: refreshToken, domain: 'kes' },
 *   tls: { ca: '/etc/kes/ciphertrust-ca.pem' },
 * });
 * await store.create('my-key', value);
 */
export async function createGemaltoKeyStore(options: GemaltoKeyStoreOptions): Promise<KeyStore> {
  return new GemaltoKeyStore(resolveGemaltoOptions(options));
}

class GemaltoKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedGemaltoOptions;
  readonly #http: HttpsJsonClient;
  readonly #auth: TokenSession<TokenLease>;
  readonly #listing = new ListSnapshots();
  #closed = false;
  readonly versions: KeyVersionStore;

  constructor(o: ResolvedGemaltoOptions) {
    this.#o = o;
    this.#http = createGemaltoHttpClient(o.endpoint, o.requestTimeoutMs, o.ca);
    this.#auth = createGemaltoTokenSource(this.#http, { refreshToken: o.refreshToken, domain: o.domain, retryMs: o.loginRetryMs });
    this.kind = `gemalto:${o.endpoint.origin}${o.endpoint.pathname === '/' ? '' : o.endpoint.pathname} domain=${o.domain || 'root'}`;
    this.versions = this.#versionStore();
  }

  /**
   * The version records: secret `<name>.versions.<id>`, created (atomically, 409 on a
   * taken name), exported and deleted exactly like a key's secret. The API's `name`
   * filter is not relied on (see `list`), so `list` walks every secret name of the
   * domain. Upstream KES lists every secret of the domain, so it shows these too.
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} secrets <name>.versions.<id>`,
      naming: separatedNaming('.'),
      closed: () => this.#closed,
      create: (secret, value, signal) => this.#createSecret(secret, value, signal),
      get: (secret, signal) => this.#getSecret(secret, signal),
      delete: (secret, signal) => this.#deleteSecret(secret, signal),
      walk: (signal, visit) => this.#secretNames(signal, visit),
    });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    await this.#createSecret(name, value, this.#enter(name, options));
  }

  /** Creates secret `name` (a key name or a record name). */
  async #createSecret(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    // Encoded before the first await: the caller may wipe `value` once we return.
    const material = encodeMaterial(value);
    // The server refuses a second secret of the same name with 409: atomic create-only.
    const res = await this.#send({ method: 'POST', path: SECRETS, body: { name, dataType: 'seed', material }, signal });
    if (res.status === 201 || res.status === 200) return;
    if (res.status === 409) throw new KesError('ERR_KES_KEY_EXISTS');
    throw unexpected(`create ${name}`, res);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    return this.#getSecret(name, this.#enter(name, options));
  }

  async #getSecret(name: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const res = await this.#send({ method: 'POST', path: `${SECRETS}/${encodeURIComponent(name)}/export`, query: 'type=name', signal });
    if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw unexpected(`get ${name}`, res);
    const material = field(res.body, 'material');
    const bytes = typeof material === 'string' ? decodeMaterial(material) : undefined;
    if (!bytes) throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`gemalto: the secret of key '${name}' has no valid 'material'`) });
    return bytes;
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    await this.#deleteSecret(name, this.#enter(name, options));
  }

  async #deleteSecret(name: string, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.#send({ method: 'DELETE', path: `${SECRETS}/${encodeURIComponent(name)}`, query: 'type=name', signal });
    if (res.status === 204 || res.status === 200) return;
    // Upstream reports success here; our contract wants "not found". CipherTrust also
    // answers 404 when the user may not see the secret (see docs/keystores/gemalto.md).
    if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    throw unexpected(`delete ${name}`, res);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    const signal = this.#enter(undefined, options);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#fetchNames(signal));
  }

  /**
   * Every secret name of the domain that is a KES key name, following `skip` pages
   * until `total` is reached. Unlike upstream, an empty page also ends the listing
   * (upstream re-asks for the same page forever when `total` counts secrets the pages
   * do not return), no extra request is sent after the last page, and the number of
   * requests is bounded. Version records (`<name>.versions.<id>`) are no KES names and
   * never listed.
   */
  async #fetchNames(signal: AbortSignal | undefined): Promise<string[]> {
    const names = new Set<string>();
    await this.#secretNames(signal, (n) => {
      // Secrets that are not KES key names (created by other applications) are not keys.
      if (isValidName(n)) names.add(n);
    });
    return [...names];
  }

  /** Calls `each` with the name of every secret of the domain, page by page (see {@link #fetchNames}). */
  async #secretNames(signal: AbortSignal | undefined, each: (name: string) => void): Promise<void> {
    let skip = 0;
    for (let i = 0; ; i++) {
      if (i === MAX_LIST_REQUESTS) {
        throw unavailable(`gemalto: list: still not at the end after ${MAX_LIST_REQUESTS} pages (${skip} secrets)`);
      }
      const res = await this.#send({ method: 'GET', path: SECRETS, query: `limit=${LIST_PAGE_SIZE}&skip=${skip}`, signal });
      if (res.status !== 200) throw unexpected('list', res);
      const resources = field(res.body, 'resources');
      const total = field(res.body, 'total');
      const answeredSkip = field(res.body, 'skip');
      if (!Array.isArray(resources)) throw unavailable(`gemalto: list: the answer (HTTP ${res.status}) has no 'resources' array`);
      // As upstream: a server that skipped a different number of secrets than asked would
      // make the listing repeat or lose names.
      if (typeof answeredSkip === 'number' && answeredSkip !== skip) {
        throw unavailable(`gemalto: list: paging out of sync: asked to skip ${skip}, the server skipped ${answeredSkip}`);
      }
      for (const r of resources) {
        const n = field(r, 'name');
        if (typeof n === 'string') each(n);
      }
      if (resources.length === 0) break;
      skip += resources.length;
      if (typeof total === 'number' ? skip >= total : resources.length < LIST_PAGE_SIZE) break;
    }
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    // A JWT is needed for nothing here, but getting one (cached: no request while it is
    // valid) makes a refused refresh token visible at start, as upstream's connect does.
    try {
      await this.#auth.token(signal);
    } catch (err) {
      throw keystoreFailure(err, signal, err instanceof TransportError ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE');
    }
    // The probe itself is upstream's: a plain GET of the endpoint.
    const started = performance.now();
    let res: GemaltoResponse;
    try {
      res = await this.#http.request({ method: 'GET', path: '', signal });
    } catch (err) {
      throw keystoreFailure(err, signal, 'ERR_KES_KEYSTORE_UNREACHABLE');
    }
    const latencyMs = performance.now() - started;
    if (res.status >= 500)
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`gemalto: GET ${this.#o.endpoint.href}: ${describeAnswer(res)}`) });
    return { latencyMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    this.#auth.close();
    this.#http.close();
  }

  /** Common entry checks; returns the caller's signal. */
  #enter(name: string | undefined, options: KeyStoreCallOptions | undefined): AbortSignal | undefined {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    // The name becomes a URL path segment: anything but a KES name (`..`, `a/b`, `%2F`)
    // could address another object of the API.
    if (name !== undefined && !isSafeKeyName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)]);
    return signal;
  }

  /**
   * Sends an authenticated request. A 401 (the JWT expired early or was revoked)
   * triggers one re-login and one retry.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE on transport failures, timeouts and refused logins.
   */
  async #send(req: HttpsJsonRequest): Promise<GemaltoResponse> {
    const signal = req.signal;
    let jwt = await this.#login(() => this.#auth.token(signal), signal);
    let res = await this.#raw(req, jwt);
    if (res.status === 401) {
      jwt = await this.#login(() => this.#auth.refresh(jwt, signal), signal);
      res = await this.#raw(req, jwt);
    }
    return res;
  }

  async #login(get: () => Promise<string>, signal: AbortSignal | undefined): Promise<string> {
    try {
      return await get();
    } catch (err) {
      throw keystoreFailure(err, signal);
    }
  }

  async #raw(req: HttpsJsonRequest, jwt: string): Promise<GemaltoResponse> {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('gemalto: key store is closed') });
    try {
      return await this.#http.request({ ...req, headers: { Authorization: `Bearer ${jwt}` } });
    } catch (err) {
      throw keystoreFailure(err, req.signal);
    }
  }
}

/** An unexpected answer: the caller sees "unavailable", the log gets the status and the API's error text. */
function unexpected(what: string, res: GemaltoResponse): KesError {
  return unavailable(`gemalto: ${what}: ${describeAnswer(res)}`);
}

function unavailable(message: string): KesError {
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(message) });
}
