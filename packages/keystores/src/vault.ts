/**
 * The HashiCorp Vault / OpenBao key store: one K/V secret per key, laid out exactly
 * as upstream KES lays it out, so both can share a mount.
 *
 * @module
 */
import { KesError, isValidName, isValidRecordId } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { copyBytes } from './internal/bytes.js';
import { VaultTokenSource } from './internal/vault-auth.js';
import { field as dig, keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient } from './internal/https-client.js';
import { createVaultHttpClient, vaultErrors, vaultRequest } from './internal/vault-http.js';
import type { VaultRequest, VaultResponse } from './internal/vault-http.js';
import { checkRecordName, checkRecordRef } from './internal/record-id.js';
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
  /**
   * "Directory" of the records of rotated keys (`versions`), `<versionsPrefix>/<name>/<id>`
   * inside `versionsEngine`. Default `<prefix>.versions`, a sibling of the key folder that
   * upstream KES never lists. With an empty `prefix` there is no default (upstream lists
   * the engine root, where the folder would show up): without this option, or another
   * `versionsEngine`, the store has no `versions`. Must not be `prefix`, lie inside it
   * (when `prefix` is set) or contain it.
   */
  readonly versionsPrefix?: string;
  /** Mount of the version records, with the same K/V version as `engine`. Default: `engine`. */
  readonly versionsEngine?: string;
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
 * `versions` keeps the records of rotated keys as secrets
 * `<versionsEngine>/<versionsPrefix>/<name>/<id>` (default `<engine>/<prefix>.versions/…`),
 * where upstream never lists; it is absent with an empty `prefix` unless `versionsPrefix`
 * or another `versionsEngine` is given.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option (also a
 *   `versionsPrefix` equal to, inside or around the key prefix in the same engine).
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

/** A K/V mount and the folder in it (both cleaned and encoded, `''` = none). */
interface Place {
  readonly engine: string;
  readonly prefix: string;
}

class VaultKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedVaultOptions;
  readonly #http: HttpsJsonClient;
  readonly #auth: VaultTokenSource;
  /** Per-secret chains (by data path) that serialise this process's create/delete on K/V v1 (no CAS there). */
  readonly #locks = new Map<string, Promise<void>>();
  /** Where the keys live. */
  readonly #keys: Place;
  /** The version records; absent when no place is configured for them (see `versionsPrefix`). */
  readonly versions?: KeyVersionStore;
  #closed = false;
  #sealed = false;
  #probe: NodeJS.Timeout | undefined;

  constructor(o: ResolvedVaultOptions) {
    this.#o = o;
    this.#http = createVaultHttpClient(o.endpoint, o.requestTimeoutMs, o.tls);
    this.#auth = new VaultTokenSource(this.#http, o.login);
    const where = [o.engine, o.prefix].filter(Boolean).join('/');
    this.kind = `vault:${o.endpoint.origin}${o.namespace ? ` ns=${o.namespace}` : ''} ${where} (kv ${o.version})`;
    this.#keys = { engine: o.engine, prefix: o.prefix };
    if (o.versions) this.versions = this.#versionStore(o.versions);
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    const signal = this.#enter(name, options);
    await this.#createSecret(this.#keys, encodeURIComponent(name), name, value, signal, `create ${name}`);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    const signal = this.#enter(name, options);
    return this.#getSecret(this.#keys, encodeURIComponent(name), name, signal, `get ${name}`, `key '${name}'`);
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    const signal = this.#enter(name, options);
    await this.#deleteSecret(this.#keys, encodeURIComponent(name), signal, `delete ${name}`);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    const signal = this.#enter(undefined, options);
    const entries = await this.#listFolder(this.#keys, '', signal, 'list');
    const continueAt = options?.continueAt ?? '';
    // Sub-folders (`x/`) and names that are not KES names are not keys of this store.
    const names = entries
      .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix) && n >= continueAt && isValidName(n))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const limit = options?.limit !== undefined && options.limit > 0 ? options.limit : DEFAULT_PAGE;
    if (names.length <= limit) return { names, continueAt: '' };
    return { names: names.slice(0, limit), continueAt: names[limit]! };
  }

  /**
   * The version records (`<versionsEngine>/<versionsPrefix>/<name>/<id>`), the same K/V
   * mechanics as keys: create-only (v2 `cas: 0`, v1 check-then-write), Transit-wrapped
   * when configured, the single field named after the key.
   */
  #versionStore(place: Place): KeyVersionStore {
    const rel = (name: string, id: string): string => `${encodeURIComponent(name)}/${id}`;
    const { endpoint, namespace, version } = this.#o;
    const where = [place.engine, place.prefix].filter(Boolean).join('/');
    return {
      location: `vault:${endpoint.origin}${namespace ? ` ns=${namespace}` : ''} ${where} (kv ${version})`,
      create: async (name, id, value, options) => {
        checkRecordRef(name, id);
        const signal = this.#enter(undefined, options);
        await this.#createSecret(place, rel(name, id), name, value, signal, `create record ${id} of ${name}`);
      },
      get: async (name, id, options) => {
        checkRecordRef(name, id);
        const signal = this.#enter(undefined, options);
        return this.#getSecret(place, rel(name, id), name, signal, `get record ${id} of ${name}`, `record '${id}' of key '${name}'`);
      },
      delete: async (name, id, options) => {
        checkRecordRef(name, id);
        const signal = this.#enter(undefined, options);
        await this.#deleteSecret(place, rel(name, id), signal, `delete record ${id} of ${name}`);
      },
      list: async (name, options) => {
        checkRecordName(name);
        const signal = this.#enter(undefined, options);
        const entries = await this.#listFolder(place, encodeURIComponent(name), signal, `list records of ${name}`);
        // Sub-folders (`x/`) and foreign entries are not records.
        return entries.filter((n): n is string => typeof n === 'string' && isValidRecordId(n));
      },
    };
  }

  /**
   * Creates the secret `rel` below `place` with the single field `field`, create-only.
   * @throws ERR_KES_KEY_EXISTS if the secret exists
   */
  async #createSecret(place: Place, rel: string, field: string, value: Uint8Array, signal: AbortSignal | undefined, what: string): Promise<void> {
    const copy = copyBytes(value); // the caller may reuse (or wipe) its buffer while we wait on Vault
    try {
      const path = this.#dataPath(place, rel);
      if (this.#o.version === 'v2') {
        const text = await this.#wrap(field, copy, signal);
        // cas: 0 makes Vault refuse the write if any version exists: atomic create-only.
        const res = await this.#send({ method: 'PUT', path, body: { options: { cas: 0 }, data: { [field]: text } }, signal });
        if (res.status === 200 || res.status === 204) return;
        if (res.status === 400 && /check-and-set/i.test(vaultErrors(res.body))) throw new KesError('ERR_KES_KEY_EXISTS');
        throw this.#unexpected(what, res);
      }
      // K/V v1 has no CAS: read, then write if absent (as upstream). Serialised per secret
      // inside this process; two processes can still race (see docs/keystores/vault.md).
      await this.#locked(path, async () => {
        const existing = await this.#send({ method: 'GET', path, signal });
        if (existing.status === 200) throw new KesError('ERR_KES_KEY_EXISTS');
        if (!isAbsent(existing)) throw this.#unexpected(what, existing);
        const text = await this.#wrap(field, copy, signal);
        const res = await this.#send({ method: 'PUT', path, body: { [field]: text }, signal });
        if (res.status !== 200 && res.status !== 204) throw this.#unexpected(what, res);
      });
    } finally {
      copy.fill(0);
    }
  }

  /**
   * Reads the field `field` of the secret `rel` below `place`; `op` names the call and
   * `what` the secret in causes (`get k` / `key 'k'`).
   * @throws ERR_KES_KEY_NOT_FOUND if the secret is absent
   */
  async #getSecret(place: Place, rel: string, field: string, signal: AbortSignal | undefined, op: string, what: string): Promise<Uint8Array> {
    const v2 = this.#o.version === 'v2';
    // v2 reads version 1 as upstream does: the first writer wins, later versions written out of band are ignored.
    const res = await this.#send({ method: 'GET', path: this.#dataPath(place, rel), ...(v2 ? { query: 'version=1' } : {}), signal });
    if (isAbsent(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw this.#unexpected(op, res);
    const data = v2 ? dig(res.body, 'data', 'data') : dig(res.body, 'data');
    if (data === null || data === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    const text = dig(data, field);
    if (typeof text !== 'string') {
      throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`vault: the secret of ${what} has no string field '${field}'`) });
    }
    return this.#unwrap(what, text, signal);
  }

  /**
   * Deletes the secret `rel` below `place` (v2: its metadata, i.e. every version, permanently).
   * @throws ERR_KES_KEY_NOT_FOUND if the secret is absent
   */
  async #deleteSecret(place: Place, rel: string, signal: AbortSignal | undefined, what: string): Promise<void> {
    // Vault answers 204 for absent paths, but our contract reports a missing name: check first, then delete.
    const v2 = this.#o.version === 'v2';
    const path = v2 ? this.#metadataPath(place, rel) : this.#dataPath(place, rel);
    const run = async (): Promise<void> => {
      const existing = await this.#send({ method: 'GET', path, signal });
      if (isAbsent(existing)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      if (existing.status !== 200) throw this.#unexpected(what, existing);
      const res = await this.#send({ method: 'DELETE', path, signal });
      if (res.status !== 200 && res.status !== 204) throw this.#unexpected(what, res);
    };
    if (v2) await run();
    else await this.#locked(this.#dataPath(place, rel), run);
  }

  /** The entries of the folder `rel` below `place` (v2: of its metadata); a 404 means an empty folder. */
  async #listFolder(place: Place, rel: string, signal: AbortSignal | undefined, what: string): Promise<unknown[]> {
    const path = this.#o.version === 'v2' ? this.#metadataPath(place, rel) : this.#dataPath(place, rel);
    // GET ?list=true rather than the LIST verb, which some proxies reject (as upstream).
    const res = await this.#send({ method: 'GET', path, query: 'list=true', signal });
    if (res.status === 200) {
      const keys = dig(res.body, 'data', 'keys');
      if (!Array.isArray(keys)) throw this.#unexpected(what, res);
      return keys;
    }
    if (isAbsent(res)) return []; // 404 is how Vault says "empty folder"
    throw this.#unexpected(what, res);
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

  /** The value of a field text; `what` names the secret in causes (`key 'k'`, `record '2' of key 'k'`). */
  async #unwrap(what: string, field: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (!isTransitCiphertext(field)) {
      // Stored before Transit was enabled, or Transit is not used: the value as stored.
      const bytes = decodeFieldValue(field);
      if (!bytes) throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`vault: the value of ${what} is malformed`) });
      return bytes;
    }
    const transit = this.#o.transit;
    if (!transit) {
      throw new KesError('ERR_KES_INTERNAL', [], {
        cause: new Error(`vault: ${what} is Transit-encrypted but no transit key is configured`),
      });
    }
    const res = await this.#send({ method: 'POST', path: `${transit.engine}/decrypt/${transit.key}`, body: { ciphertext: field }, signal });
    const plaintext = dig(res.body, 'data', 'plaintext');
    if (res.status !== 200 || typeof plaintext !== 'string') throw this.#unexpected(`transit decrypt for ${what}`, res);
    return new Uint8Array(Buffer.from(plaintext, 'base64'));
  }

  /** The API path of `rel` (already encoded) below `place`: `E/P/rel`, v2 `E/data/P/rel`. */
  #dataPath(place: Place, rel: string): string {
    return [place.engine, this.#o.version === 'v2' ? 'data' : '', place.prefix, rel].filter(Boolean).join('/');
  }

  /** The K/V v2 metadata path of `rel` below `place`: `E/metadata/P/rel`. */
  #metadataPath(place: Place, rel: string): string {
    return [place.engine, 'metadata', place.prefix, rel].filter(Boolean).join('/');
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
