/**
 * The HashiCorp Vault / OpenBao key store: one K/V secret per key, laid out exactly
 * as upstream KES lays it out, so both can share a mount.
 *
 * @module
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus } from '@kes/core';
import { copyBytes } from './internal/bytes.js';
import { VaultTokenSource } from './internal/vault-auth.js';
import { field as dig, keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient } from './internal/https-client.js';
import { createVaultHttpClient, vaultErrors, vaultRequest } from './internal/vault-http.js';
import type { VaultRequest, VaultResponse } from './internal/vault-http.js';
import { resolveVaultOptions } from './internal/vault-options.js';
import type { ResolvedVaultOptions } from './internal/vault-options.js';
import { decodeFieldValue, encodeFieldValue, isTransitCiphertext } from './internal/vault-value.js';

/** Options of {@link createVaultKeyStore}; they mirror `keystore.vault` in the config file. */
export interface VaultKeyStoreOptions {
  /** Vault address, e.g. `https://127.0.0.1:8200`. */
  readonly endpoint: string;
  /** Mount path of the K/V engine. Default `kv`. */
  readonly engine?: string;
  /** K/V engine API version. Default `v1` (as upstream). */
  readonly version?: 'v1' | 'v2';
  /** Vault namespace, sent as `X-Vault-Namespace` on every request except health checks. */
  readonly namespace?: string;
  /** "Directory" inside the engine under which the keys live. */
  readonly prefix?: string;
  /** A static token (development and tests). Exactly one of `token`, `approle`, `kubernetes`. */
  readonly token?: string;
  /** AppRole login. */
  readonly approle?: {
    /** Auth mount path. Default `approle`. */
    readonly engine?: string;
    /** Namespace used for the login only; `/` = root namespace. Default: `namespace`. */
    readonly namespace?: string;
    /** role_id. */
    readonly id: string;
    /** secret_id. */
    readonly secret: string;
    /** Delay in ms before a failed background re-login is tried again. Default 3000. */
    readonly retry?: number;
  };
  /** Kubernetes service-account login. */
  readonly kubernetes?: {
    /** Auth mount path. Default `kubernetes`. */
    readonly engine?: string;
    /** Namespace used for the login only; `/` = root namespace. Default: `namespace`. */
    readonly namespace?: string;
    /** Login role. */
    readonly role: string;
    /** The JWT itself, or (if it contains `/`) a file it is re-read from on every login. */
    readonly jwt: string;
    /** Delay in ms before a failed background re-login is tried again. Default 3000. */
    readonly retry?: number;
  };
  /** Wrap stored values with a Transit key. */
  readonly transit?: {
    /** Transit mount path. Default `transit`. */
    readonly engine?: string;
    /** Transit key name. */
    readonly key: string;
  };
  /** TLS to Vault (https endpoints only). PEM text, or a file path (`ca` may name a directory). */
  readonly tls?: {
    readonly ca?: string;
    readonly certificate?: string;
    readonly privateKey?: string;
    /** Skip verification of Vault's certificate. For tests only. */
    readonly insecureSkipVerify?: boolean;
  };
  /** Interval of the background seal probe in ms. Default 15000. */
  readonly statusPingMs?: number;
  /** Timeout of one Vault request in ms. Default 15000. */
  readonly requestTimeoutMs?: number;
}

/** Health query that makes standby / sealed / uninitialised nodes answer 200 with their state in the body. */
const HEALTH_QUERY = 'standbycode=200&perfstandbycode=200&performancestandbycode=200&drsecondarycode=200&sealedcode=200&uninitcode=200';
/** Page size when the caller gives no limit (as upstream's list helper). */
const DEFAULT_PAGE = 1024;

/**
 * Creates a key store on a Vault (or OpenBao) K/V engine. Options are validated
 * now; the first call logs in.
 *
 * Layout (as upstream KES): key `N` is the secret `<engine>/<prefix>/N` (v2:
 * `<engine>/data/<prefix>/N`) with the single field `N` whose value is the stored
 * value as text, or a `vault:v1:` Transit ciphertext when `transit` is set.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option.
 * @example
 * const store = createVaultKeyStore({
 *   endpoint: 'https://vault.example.net:8200',
 *   engine: 'kv', version: 'v2', prefix: 'kes',
 *   approle: { id: roleId, secret: secretId },
 * });
 * await store.create('my-key', value);
 */
export function createVaultKeyStore(options: VaultKeyStoreOptions): KeyStore {
  return new VaultKeyStore(resolveVaultOptions(options));
}

class VaultKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedVaultOptions;
  readonly #http: HttpsJsonClient;
  readonly #auth: VaultTokenSource;
  /** Per-name chains that serialise this process's create/delete on K/V v1 (no CAS there). */
  readonly #locks = new Map<string, Promise<void>>();
  #closed = false;
  #sealed = false;
  #probe: NodeJS.Timeout | undefined;

  constructor(o: ResolvedVaultOptions) {
    this.#o = o;
    this.#http = createVaultHttpClient(o.endpoint, o.requestTimeoutMs, o.tls);
    this.#auth = new VaultTokenSource(this.#http, o.login);
    const where = [o.engine, o.prefix].filter(Boolean).join('/');
    this.kind = `vault:${o.endpoint.origin}${o.namespace ? ` ns=${o.namespace}` : ''} ${where} (kv ${o.version})`;
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    const signal = this.#enter(name, options);
    const copy = copyBytes(value); // the caller may reuse (or wipe) its buffer while we wait on Vault
    if (this.#o.version === 'v2') {
      const field = await this.#wrap(name, copy, signal);
      // cas: 0 makes Vault refuse the write if any version exists: atomic create-only.
      const res = await this.#send({ method: 'PUT', path: this.#dataPath(name), body: { options: { cas: 0 }, data: { [name]: field } }, signal });
      if (res.status === 200 || res.status === 204) return;
      if (res.status === 400 && /check-and-set/i.test(vaultErrors(res.body))) throw new KesError('ERR_KES_KEY_EXISTS');
      throw this.#unexpected(`create ${name}`, res);
    }
    // K/V v1 has no CAS: read, then write if absent (as upstream). Serialised per name
    // inside this process; two processes can still race (see docs/keystores/vault.md).
    await this.#locked(name, async () => {
      const path = this.#dataPath(name);
      const existing = await this.#send({ method: 'GET', path, signal });
      if (existing.status === 200) throw new KesError('ERR_KES_KEY_EXISTS');
      if (!isAbsent(existing)) throw this.#unexpected(`create ${name}`, existing);
      const field = await this.#wrap(name, copy, signal);
      const res = await this.#send({ method: 'PUT', path, body: { [name]: field }, signal });
      if (res.status !== 200 && res.status !== 204) throw this.#unexpected(`create ${name}`, res);
    });
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    const signal = this.#enter(name, options);
    const v2 = this.#o.version === 'v2';
    // v2 reads version 1 as upstream does: the first writer wins, later versions written out of band are ignored.
    const res = await this.#send({ method: 'GET', path: this.#dataPath(name), ...(v2 ? { query: 'version=1' } : {}), signal });
    if (isAbsent(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw this.#unexpected(`get ${name}`, res);
    const data = v2 ? dig(res.body, 'data', 'data') : dig(res.body, 'data');
    if (data === null || data === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    const field = dig(data, name);
    if (typeof field !== 'string') {
      throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`vault: the secret of key '${name}' has no string field '${name}'`) });
    }
    return this.#unwrap(name, field, signal);
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    const signal = this.#enter(name, options);
    // Vault answers 204 for absent paths, but our contract reports a missing name:
    // check first, then delete (v2: the metadata, i.e. every version, permanently).
    const path = this.#o.version === 'v2' ? this.#metadataPath(name) : this.#dataPath(name);
    const run = async (): Promise<void> => {
      const existing = await this.#send({ method: 'GET', path, signal });
      if (isAbsent(existing)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      if (existing.status !== 200) throw this.#unexpected(`delete ${name}`, existing);
      const res = await this.#send({ method: 'DELETE', path, signal });
      if (res.status !== 200 && res.status !== 204) throw this.#unexpected(`delete ${name}`, res);
    };
    if (this.#o.version === 'v2') await run();
    else await this.#locked(name, run);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    const signal = this.#enter(undefined, options);
    const { engine, prefix: dir } = this.#o;
    const path = this.#o.version === 'v2' ? [engine, 'metadata', dir].filter(Boolean).join('/') : [engine, dir].filter(Boolean).join('/');
    // GET ?list=true rather than the LIST verb, which some proxies reject (as upstream).
    const res = await this.#send({ method: 'GET', path, query: 'list=true', signal });
    let entries: unknown[] = [];
    if (res.status === 200) {
      const keys = dig(res.body, 'data', 'keys');
      if (!Array.isArray(keys)) throw this.#unexpected('list', res);
      entries = keys;
    } else if (!isAbsent(res)) {
      // 404 is how Vault says "empty folder".
      throw this.#unexpected('list', res);
    }
    const continueAt = options?.continueAt ?? '';
    // Sub-folders (`x/`) and names that are not KES names are not keys of this store.
    const names = entries
      .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix) && n >= continueAt && isValidName(n))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const limit = options?.limit !== undefined && options.limit > 0 ? options.limit : DEFAULT_PAGE;
    if (names.length <= limit) return { names, continueAt: '' };
    return { names: names.slice(0, limit), continueAt: names[limit]! };
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('vault: key store is closed') });
    const signal = options?.signal;
    if (signal?.aborted) throw signal.reason;
    const started = performance.now();
    const state = await this.#health(signal);
    const latencyMs = performance.now() - started;
    if (!('sealed' in state)) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: state.error });
    this.#sealed = state.sealed;
    if (!state.initialized) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: new Error('vault: not initialized') });
    if (state.sealed) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: new Error('vault: sealed') });
    return { latencyMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
    this.#auth.close();
    this.#http.close();
  }

  /** Common entry checks; returns the caller's signal. */
  #enter(name: string | undefined, options: KeyStoreCallOptions | undefined): AbortSignal | undefined {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('vault: key store is closed') });
    const signal = options?.signal;
    if (signal?.aborted) throw signal.reason;
    // The name becomes a URL path segment: anything but a KES name (e.g. `../x`, `a/b`,
    // `%2F`, which Vault decodes into a separator) could address another secret.
    if (name !== undefined && !isValidName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [name]);
    if (this.#sealed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('vault: sealed') });
    this.#startProbe();
    return signal;
  }

  /** Background seal probe (as upstream): fail fast while Vault is sealed. Failed probes change nothing. */
  #startProbe(): void {
    if (this.#probe || this.#closed) return;
    this.#probe = setInterval(() => {
      void this.#health(undefined).then((s) => {
        if ('sealed' in s && !this.#closed) this.#sealed = s.sealed;
      });
    }, this.#o.statusPingMs);
    this.#probe.unref();
  }

  /** `sys/health`, without namespace header (namespaced root paths answer 404) and without token. */
  async #health(signal: AbortSignal | undefined): Promise<{ sealed: boolean; initialized: boolean } | { error: Error }> {
    let res: VaultResponse;
    try {
      res = await this.#http.request(vaultRequest({ method: 'GET', path: 'sys/health', query: HEALTH_QUERY, signal }));
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      return { error: err instanceof Error ? err : new Error(String(err)) };
    }
    const sealed = dig(res.body, 'sealed');
    const initialized = dig(res.body, 'initialized');
    if (res.status !== 200 || typeof sealed !== 'boolean' || typeof initialized !== 'boolean') {
      return { error: new Error(`vault: sys/health answered HTTP ${res.status}${errSuffix(res.body)}`) };
    }
    return { sealed, initialized };
  }

  /**
   * Sends an authenticated request. A 403 with a login-based token triggers one
   * re-login and one retry (the token may have expired or been revoked).
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE on transport failures and timeouts.
   */
  async #send(req: Omit<VaultRequest, 'token' | 'namespace'>): Promise<VaultResponse> {
    const signal = req.signal;
    let token = await this.#auth.token(signal);
    let res = await this.#raw({ ...req, token });
    if (res.status === 403 && this.#auth.canLogin) {
      token = await this.#auth.refresh(token, signal);
      res = await this.#raw({ ...req, token });
    }
    return res;
  }

  async #raw(req: Omit<VaultRequest, 'namespace'>): Promise<VaultResponse> {
    if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('vault: key store is closed') });
    try {
      return await this.#http.request(vaultRequest({ ...req, namespace: this.#o.namespace }));
    } catch (err) {
      throw keystoreFailure(err, req.signal);
    }
  }

  /** The field text for a value: Transit ciphertext when configured (as upstream), else the value as text. */
  async #wrap(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<string> {
    const transit = this.#o.transit;
    if (!transit) return encodeFieldValue(value);
    const res = await this.#send({
      method: 'POST',
      path: `${transit.engine}/encrypt/${transit.key}`,
      body: { plaintext: Buffer.from(value).toString('base64') },
      signal,
    });
    const ciphertext = dig(res.body, 'data', 'ciphertext');
    if (res.status !== 200 || typeof ciphertext !== 'string' || !isTransitCiphertext(ciphertext)) {
      throw this.#unexpected(`transit encrypt for ${name}`, res);
    }
    return ciphertext;
  }

  async #unwrap(name: string, field: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (!isTransitCiphertext(field)) {
      // Stored before Transit was enabled, or Transit is not used: the value as stored.
      const bytes = decodeFieldValue(field);
      if (!bytes) throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`vault: the value of key '${name}' is malformed`) });
      return bytes;
    }
    const transit = this.#o.transit;
    if (!transit) {
      throw new KesError('ERR_KES_INTERNAL', [], {
        cause: new Error(`vault: key '${name}' is Transit-encrypted but no transit key is configured`),
      });
    }
    const res = await this.#send({ method: 'POST', path: `${transit.engine}/decrypt/${transit.key}`, body: { ciphertext: field }, signal });
    const plaintext = dig(res.body, 'data', 'plaintext');
    if (res.status !== 200 || typeof plaintext !== 'string') throw this.#unexpected(`transit decrypt for ${name}`, res);
    return new Uint8Array(Buffer.from(plaintext, 'base64'));
  }

  #dataPath(name: string): string {
    const { engine, prefix, version } = this.#o;
    return [engine, version === 'v2' ? 'data' : '', prefix, encodeURIComponent(name)].filter(Boolean).join('/');
  }

  #metadataPath(name: string): string {
    const { engine, prefix } = this.#o;
    return [engine, 'metadata', prefix, encodeURIComponent(name)].filter(Boolean).join('/');
  }

  /** An unexpected Vault answer: the caller sees "unavailable", the log gets status and Vault's error text. */
  #unexpected(what: string, res: VaultResponse): KesError {
    return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
      cause: new Error(`vault: ${what}: HTTP ${res.status}${errSuffix(res.body)}`),
    });
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
 * A 404 that means "no such secret". A 404 "no handler for route" means the mount
 * does not exist (a misconfiguration, or the wrong namespace): that must not read as
 * "key not found", or a typo in `engine` would look like an empty key store.
 */
function isAbsent(res: VaultResponse): boolean {
  return res.status === 404 && !/no handler for route/i.test(vaultErrors(res.body));
}

function errSuffix(body: unknown): string {
  const e = vaultErrors(body);
  return e ? `: ${e}` : '';
}
