/**
 * The Entrust KeyControl key store (`keystore.entrust.keycontrol`): one secret per
 * key in one box of a KeyControl secrets vault, secret name = key name,
 * `secret_data` = the standard base64 of the stored value — the layout upstream KES
 * uses, so both can share a box. Spoken over the KeyControl Vault REST API 1.0 with
 * Node's own https; no vendor SDK.
 *
 * @module
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { checkCall } from './internal/call.js';
import { EntrustAuthError, EntrustSession } from './internal/entrust-auth.js';
import { createEntrustHttpClient, describeAnswer, entrustError, entrustRequest } from './internal/entrust-http.js';
import type { EntrustResponse } from './internal/entrust-http.js';
import { TransportError, field } from './internal/https-client.js';
import type { HttpsJsonClient } from './internal/https-client.js';
import { resolveEntrustOptions } from './internal/entrust-options.js';
import type { ResolvedEntrustOptions } from './internal/entrust-options.js';
import { decodeSecretData, encodeSecretData } from './internal/entrust-value.js';
import { ListSnapshots } from './internal/list.js';
import { separatedNaming } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';

/** Options of {@link createEntrustKeyStore}; they mirror `keystore.entrust.keycontrol` in the config file. */
export interface EntrustKeyStoreOptions {
  /** KeyControl URL, e.g. `https://keycontrol.example.net` (a base path is kept). */
  readonly endpoint: string;
  /** UUID of the KeyControl secrets vault (the login is per vault). */
  readonly vaultId: string;
  /** Id or name of the box that holds the keys. */
  readonly boxId: string;
  /** The vault user the store logs in as. */
  readonly credentials: {
    readonly username: string;
    readonly password: string;
  };
  /** TLS to KeyControl: `ca` = PEM text, or the path of a PEM file, of the CA(s) that verify the server. Default: system roots. */
  readonly tls?: { readonly ca?: string };
  /** Timeout of one HTTP request in milliseconds. Default 10 000. */
  readonly requestTimeoutMs?: number;
}

/** `max_items` of one ListSecretIds page (what upstream asks for by default). */
const LIST_PAGE_SIZE = 256;
/** Guard against a service that never stops handing out `next_token`s. */
const MAX_LIST_REQUESTS = 100_000;
/** Largest CheckoutSecret answer (a KES value is < 1 KiB; upstream reads at most 1 MB). */
const MAX_SECRET_BYTES = 1 << 20;
/** Largest ListSecretIds page answer (upstream: 10 MB). */
const MAX_LIST_BYTES = 10 << 20;

/**
 * Creates a key store on an Entrust KeyControl secrets vault. Options are checked (and
 * the CA file read) now; the first call logs in.
 *
 * Version records of rotated keys (`store.versions`) are secrets of the same box
 * named `<name>/versions/<id>` (a KeyControl "virtual folder" per key). A `/` is never
 * part of a KES name, so no key can collide with a record, and `list()` leaves them out.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option (never the password).
 * @example
 * const store = await createEntrustKeyStore({
 *   endpoint: 'https://keycontrol.example.net',
 *   vaultId: '6a1c5c7e-…', boxId: 'kes',
 *   credentials: { username: 'kes', password },
 *   tls: { ca: '/etc/kes/keycontrol-ca.pem' },
 * });
 * await store.create('my-key', value);
 */
export async function createEntrustKeyStore(options: EntrustKeyStoreOptions): Promise<KeyStore> {
  return new EntrustKeyStore(await resolveEntrustOptions(options));
}

class EntrustKeyStore implements KeyStore {
  readonly kind: string;
  readonly #boxId: string;
  readonly #http: HttpsJsonClient;
  readonly #session: EntrustSession;
  #closed = false;
  /** `prefix + '\n' + continueAt` → the names of the listing that continues there. */
  readonly #listing = new ListSnapshots();
  readonly versions: KeyVersionStore;

  constructor(o: ResolvedEntrustOptions) {
    this.#boxId = o.boxId;
    this.#http = createEntrustHttpClient(o.endpoint, o.requestTimeoutMs, o.ca);
    this.#session = new EntrustSession(this.#http, { vaultId: o.vaultId, username: o.username, password: o.password });
    const base = `${o.endpoint.origin}${o.endpoint.pathname.replace(/\/+$/, '')}`;
    this.kind = `entrust-keycontrol:${base} vault=${o.vaultId} box=${o.boxId}`;
    this.versions = this.#versionStore();
  }

  /**
   * The version records: secret `<name>/versions/<id>`, created (atomically, 409 on a
   * taken name), checked out and deleted exactly like a key's secret. ListSecretIds has
   * no name filter, so `list` walks every secret name of the box. Upstream KES lists
   * the box too, so it may show these names (they are no valid key names).
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} secrets <name>/versions/<id>`,
      naming: separatedNaming('/'),
      closed: () => this.#closed,
      create: (secret, value, signal) => this.#createSecret(secret, value, signal),
      get: (secret, signal) => this.#getSecret(secret, signal),
      delete: (secret, signal) => this.#deleteSecret(secret, signal),
      walk: (signal, visit) => this.#secretNames(signal, visit),
    });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    this.#enter(name, options);
    await this.#createSecret(name, value, options?.signal);
  }

  /** Creates secret `name` (a key name or a record name). */
  async #createSecret(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    // Encoded now: the caller may reuse (or wipe) its buffer while we wait on the service.
    const body = { box_id: this.#boxId, name, secret_data: encodeSecretData(value) };
    const res = await this.#send('create', 'CreateSecret/', body, signal);
    if (res.status === 200 || res.status === 201) return;
    // KeyControl refuses a second secret of one name in a box: atomic create-only.
    if (res.status === 409 && /secret already exists/i.test(entrustError(res.body))) throw new KesError('ERR_KES_KEY_EXISTS');
    throw unexpected(`create ${name}`, res);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    this.#enter(name, options);
    return this.#getSecret(name, options?.signal);
  }

  async #getSecret(name: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const res = await this.#send('get', 'CheckoutSecret/', { box_id: this.#boxId, secret_id: name }, signal, MAX_SECRET_BYTES);
    if (isSecretNotFound(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw unexpected(`get ${name}`, res);
    const data = field(res.body, 'secret_data');
    // Never echo the answer here: on a 200 it carries the key.
    if (typeof data !== 'string') throw unavailable(`entrust keycontrol: get ${name}: HTTP 200 without a secret_data string`);
    const bytes = decodeSecretData(data);
    if (!bytes)
      throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error(`entrust keycontrol: the secret_data of key '${name}' is not base64`) });
    return bytes;
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    this.#enter(name, options);
    await this.#deleteSecret(name, options?.signal);
  }

  async #deleteSecret(name: string, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.#send('delete', 'DeleteSecret/', { box_id: this.#boxId, secret_id: name }, signal);
    if (isSecretNotFound(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200 && res.status !== 204) throw unexpected(`delete ${name}`, res);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    this.#enter(undefined, options);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#fetchNames(options?.signal));
  }

  /**
   * Every name in the box, following the service's `next_token` to the end. Upstream
   * reads one page only, forges the token from the prefix and puts empty strings in
   * front of the names; here the token is opaque and every page is read. Version
   * records (`<name>/versions/<id>`) are no KES names and never listed.
   */
  async #fetchNames(signal: AbortSignal | undefined): Promise<string[]> {
    const names = new Set<string>();
    await this.#secretNames(signal, (name, expired) => {
      // Expired secrets cannot be checked out (skipped, as upstream); names that are
      // not KES names belong to something else sharing the box.
      if (!expired && isValidName(name)) names.add(name);
    });
    return [...names];
  }

  /** Calls `each` with every secret name of the box (and whether it is expired), following `next_token`. */
  async #secretNames(signal: AbortSignal | undefined, each: (name: string, expired: boolean) => void): Promise<void> {
    const seen = new Set<string>();
    let token = '';
    for (let i = 0; i < MAX_LIST_REQUESTS; i++) {
      // next_token must be absent (not empty) on the first request, as upstream sends it.
      const body = { box_id: this.#boxId, max_items: LIST_PAGE_SIZE, ...(token ? { next_token: token } : {}) };
      const res = await this.#send('list', 'ListSecretIds/', body, signal, MAX_LIST_BYTES);
      const secrets = field(res.body, 'secrets');
      if (res.status !== 200 || !Array.isArray(secrets)) throw unexpected('list', res);
      for (const s of secrets) {
        const name = field(s, 'name');
        if (typeof name === 'string') each(name, field(s, 'expired') === true);
      }
      const next = field(res.body, 'next_token');
      if (typeof next !== 'string' || next === '') return;
      // A token handed out twice would loop for ever.
      if (seen.has(next)) throw unavailable('entrust keycontrol: list: ListSecretIds returned a next_token it had returned before');
      seen.add(next);
      token = next;
    }
    throw unavailable(`entrust keycontrol: list: ListSecretIds did not finish after ${MAX_LIST_REQUESTS} pages`);
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    const started = performance.now();
    // GetBox (as upstream): proves the service answers, the login works and the box exists.
    const res = await this.#send('status', 'GetBox/', { box_id: this.#boxId }, options?.signal);
    const latencyMs = performance.now() - started;
    if (res.status !== 200) throw unexpected('status (GetBox)', res);
    return { latencyMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    this.#session.close();
    this.#http.close();
  }

  /** Common entry checks: aborted, closed, and a name that is a KES name. */
  #enter(name: string | undefined, options: KeyStoreCallOptions | undefined): void {
    checkCall(this.#closed, options?.signal);
    // Names travel in JSON bodies, but are refused before any I/O all the same: a
    // name that is no KES name could mean something else to the service.
    if (name !== undefined && !isValidName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [name]);
  }

  /**
   * Sends an authenticated POST. A 401 triggers one new login and one retry (the
   * token may have expired or been revoked).
   * @throws the signal's reason when aborted; ERR_KES_KEYSTORE_UNAVAILABLE (status():
   *   ERR_KES_KEYSTORE_UNREACHABLE for transport failures) when the call cannot be made.
   */
  async #send(op: string, path: string, body: unknown, signal: AbortSignal | undefined, maxBytes?: number): Promise<EntrustResponse> {
    try {
      let token = await this.#session.token(signal);
      let res = await this.#post(path, body, token, signal, maxBytes);
      if (res.status === 401) {
        token = await this.#session.refresh(token, signal);
        res = await this.#post(path, body, token, signal, maxBytes);
      }
      return res;
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      if (err instanceof KesError) throw err;
      const unreachable = op === 'status' && err instanceof TransportError;
      // The cause names the step (login, path) and the service's answer; the password,
      // the token and request bodies never get into it.
      const cause =
        err instanceof EntrustAuthError || err instanceof TransportError ? err : new Error(`entrust keycontrol: ${op} failed`, { cause: err });
      throw new KesError(unreachable ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause });
    }
  }

  #post(path: string, body: unknown, token: string, signal: AbortSignal | undefined, maxBytes: number | undefined): Promise<EntrustResponse> {
    if (this.#closed) throw unavailable('entrust keycontrol: key store is closed');
    return this.#http.request(entrustRequest({ path, body, token, signal, maxBytes }));
  }
}

/**
 * 404 "Secret not found" means the key is absent. Any other 404 ("Box not found", a
 * wrong endpoint path) is a misconfiguration and must not read as "key not found", or
 * a typo in `box_id` would look like an empty key store.
 */
function isSecretNotFound(res: EntrustResponse): boolean {
  return res.status === 404 && /secret not found/i.test(entrustError(res.body));
}

function unavailable(message: string): KesError {
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(message) });
}

/** An unexpected answer: the caller sees "unavailable", the log gets the status and the service's error text. */
function unexpected(what: string, res: EntrustResponse): KesError {
  return unavailable(`entrust keycontrol: ${what}: ${describeAnswer(res)}`);
}
