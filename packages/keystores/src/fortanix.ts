/**
 * The Fortanix DSM (formerly SDKMS) key store: one opaque security object per key,
 * laid out exactly as upstream KES lays it out, so both can share an account.
 *
 * @module
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { checkCall } from './internal/call.js';
import { createFortanixHttpClient, fortanixErrorText } from './internal/fortanix-http.js';
import type { FortanixResponse } from './internal/fortanix-http.js';
import { resolveFortanixOptions } from './internal/fortanix-options.js';
import type { ResolvedFortanixOptions } from './internal/fortanix-options.js';
import { FortanixSession } from './internal/fortanix-session.js';
import { keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient, HttpsJsonRequest } from './internal/https-client.js';
import { ListSnapshots } from './internal/list.js';
import { separatedNaming } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';

/** Options of {@link createFortanixKeyStore}; they mirror `keystore.fortanix.sdkms` in the config file. */
export interface FortanixKeyStoreOptions {
  /** Base URL of the DSM API, e.g. `https://amer.smartkey.io`. */
  readonly endpoint: string;
  /**
   * The application's API key as DSM shows it (base64 of `<app id>:<secret>`). It is
   * exchanged for a session token; it is never logged.
   */
  readonly apiKey: string;
  /** Group new keys are created in; absent → the application's default group. */
  readonly groupId?: string;
  /** TLS to DSM: `ca` is PEM text, or the name of a PEM file, of the CA certificates to trust instead of the system roots. */
  readonly tls?: { readonly ca?: string };
  /** Timeout of one DSM request in ms. Default 10000. */
  readonly requestTimeoutMs?: number;
}

/** Objects per listing request (DSM's default and documented page size). */
const LIST_PAGE_SIZE = 100;
/** Upper bound on listing requests for one listing (10 million objects): a server that never ends its listing cannot keep us busy forever. */
const MAX_LIST_REQUESTS = 100_000;
/** What a DSM security object id (kid) looks like: a UUID. Anything else is not put into a URL. */
const KID = /^[A-Za-z0-9-]{1,64}$/;
/** Standard base64, as DSM encodes `value`. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Creates a key store on Fortanix DSM. Options are validated now; the first call
 * opens a DSM session.
 *
 * Layout (as upstream KES): key `N` is the security object named `N`, of type
 * `OPAQUE`, with the operations `EXPORT` and `APPMANAGEABLE`, in `groupId` (or the
 * application's default group), whose value is the stored value (DSM shows it base64
 * encoded).
 *
 * Version records of rotated keys (`store.versions`) are security objects of the same
 * kind named `<name>.versions.<id>`. A `.` is never part of a KES name, so no key can
 * collide with a record, and `list()` leaves them out.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option.
 * @example
 * const store = await createFortanixKeyStore({
 *   endpoint: 'https://amer.smartkey.io',
 *   apiKey: process.env.FORTANIX_API_KEY,
 *   groupId: 'f8d2c6e4-5f1b-4a8e-9c3d-2b7a1e0f9d64',
 * });
 * await store.create('my-key', value);
 */
export async function createFortanixKeyStore(options: FortanixKeyStoreOptions): Promise<KeyStore> {
  return new FortanixKeyStore(resolveFortanixOptions(options));
}

class FortanixKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedFortanixOptions;
  readonly #http: HttpsJsonClient;
  readonly #session: FortanixSession;
  readonly #listing = new ListSnapshots();
  #closed = false;
  readonly versions: KeyVersionStore;

  constructor(o: ResolvedFortanixOptions) {
    this.#o = o;
    this.#http = createFortanixHttpClient(o.endpoint, o.requestTimeoutMs, o.ca);
    this.#session = new FortanixSession(this.#http, o.apiKey);
    this.kind = `fortanix:${o.endpoint.origin}${o.groupId ? ` group=${o.groupId}` : ''}`;
    this.versions = this.#versionStore();
  }

  /**
   * The version records: security object `<name>.versions.<id>`, imported (atomically,
   * 409 on a taken name), exported and deleted exactly like a key's object, in the same
   * group with the same operations. DSM lists only exact names, so `list` walks every
   * object name the application sees. Upstream KES would show these names in its
   * listing too (they are no valid key names).
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} objects <name>.versions.<id>`,
      naming: separatedNaming('.'),
      closed: () => this.#closed,
      create: (object, value, signal) => this.#createObject(object, value, signal),
      get: (object, signal) => this.#getObject(object, signal),
      delete: (object, signal) => this.#deleteObject(object, signal),
      walk: (signal, visit) => this.#objectNames(signal, visit),
    });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    await this.#createObject(name, value, this.#enter(name, options));
  }

  /** Imports object `name` (a key name or a record name). */
  async #createObject(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    // Encoded before the first await: the caller may wipe its buffer while DSM answers.
    const body = {
      obj_type: 'OPAQUE',
      name,
      ...(this.#o.groupId ? { group_id: this.#o.groupId } : {}),
      key_ops: ['EXPORT', 'APPMANAGEABLE'],
      value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
      enabled: true,
    };
    // Import (PUT) of a named object is create-only at DSM: an existing name answers 409.
    const res = await this.#send({ method: 'PUT', path: '/crypto/v1/keys', body, signal });
    if (res.status === 200 || res.status === 201) return;
    if (res.status === 409) throw new KesError('ERR_KES_KEY_EXISTS');
    throw unexpected(`create '${name}'`, res);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    return this.#getObject(name, this.#enter(name, options));
  }

  async #getObject(name: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const res = await this.#send({ method: 'POST', path: '/crypto/v1/keys/export', body: { name }, signal });
    if (isMissing(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw unexpected(`get '${name}'`, res);
    const obj = asRecord(res.body);
    if (typeof obj.name === 'string' && obj.name !== name) {
      throw readFailed(`fortanix: get '${name}': DSM answered with the object '${obj.name}'`);
    }
    // A disabled object is one an administrator switched off: refuse it rather than use it behind their back (as upstream).
    if (obj.enabled === false) throw readFailed(`fortanix: key '${name}' is disabled in Fortanix DSM (enable the security object to use it)`);
    const v = obj.value;
    if (typeof v !== 'string' || !BASE64.test(v)) {
      throw readFailed(`fortanix: get '${name}': the security object has no base64 'value' (is it exportable and of type OPAQUE?)`);
    }
    return new Uint8Array(Buffer.from(v, 'base64'));
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    await this.#deleteObject(name, this.#enter(name, options));
  }

  async #deleteObject(name: string, signal: AbortSignal | undefined): Promise<void> {
    // DSM deletes by object id: look the name up first. A lookup by name lists the
    // object's metadata only, unlike upstream's export, which also fetches the value.
    const q = new URLSearchParams({ name, limit: '2' });
    const found = await this.#send({ method: 'GET', path: '/crypto/v1/keys', query: q.toString(), signal });
    if (found.status !== 200) throw unexpected(`delete '${name}': lookup`, found);
    const items = listItems(found.body);
    if (!items) throw unexpected(`delete '${name}': lookup`, found);
    const match = items.map(asRecord).find((o) => o.name === name);
    if (!match) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    const kid = match.kid;
    if (typeof kid !== 'string' || !KID.test(kid)) {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`fortanix: delete '${name}': DSM gave no usable object id`) });
    }
    const res = await this.#send({ method: 'DELETE', path: `/crypto/v1/keys/${encodeURIComponent(kid)}`, signal });
    if (res.status === 200 || res.status === 204) return;
    // Deleted by someone else between lookup and delete.
    if (isMissing(res)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    throw unexpected(`delete '${name}'`, res);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    checkCall(this.#closed, options?.signal);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#fetchNames(options?.signal));
  }

  /**
   * Every KES key name the application can see, in DSM's name order. Pages with
   * `sort=name:asc` and moves the `start` cursor (exclusive) to the last name of
   * each page; upstream never moves it and re-reads the first page forever. A server
   * that ignores the cursor (a name comes back twice) or never ends is an error,
   * not an endless loop. Version records (`<name>.versions.<id>`) are no KES names and
   * never listed.
   */
  async #fetchNames(signal: AbortSignal | undefined): Promise<string[]> {
    const names: string[] = [];
    await this.#objectNames(signal, (n) => {
      // Other applications' objects in the same groups may have any name; only KES names are keys.
      if (isValidName(n)) names.push(n);
    });
    return names;
  }

  /** Calls `each` with the name of every object the application sees, in DSM's name order (see {@link #fetchNames}). */
  async #objectNames(signal: AbortSignal | undefined, each: (name: string) => void): Promise<void> {
    const seen = new Set<string>();
    let start: string | undefined;
    for (let i = 0; i < MAX_LIST_REQUESTS; i++) {
      const q = new URLSearchParams({ sort: 'name:asc', limit: String(LIST_PAGE_SIZE) });
      if (start !== undefined) q.set('start', start);
      const res = await this.#send({ method: 'GET', path: '/crypto/v1/keys', query: q.toString(), signal });
      if (res.status !== 200) throw unexpected('list', res);
      const items = listItems(res.body);
      if (!items) throw unexpected('list', res);
      if (items.length === 0) return;
      let last: string | undefined;
      for (const item of items) {
        const n = asRecord(item).name;
        if (typeof n !== 'string') continue;
        if (seen.has(n)) {
          throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
            cause: new Error(`fortanix: list: DSM returned '${n}' twice: it does not move past start=${JSON.stringify(start ?? '')}`),
          });
        }
        seen.add(n);
        last = n;
        each(n);
      }
      if (last === undefined) {
        throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('fortanix: list: a page of security objects without names') });
      }
      start = last;
    }
    throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`fortanix: list did not finish after ${MAX_LIST_REQUESTS} pages`) });
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    const signal = options?.signal;
    const started = performance.now();
    let res: FortanixResponse;
    try {
      res = await this.#http.request({ method: 'GET', path: '/sys/v1/health', signal });
    } catch (err) {
      throw keystoreFailure(err, signal, 'ERR_KES_KEYSTORE_UNREACHABLE');
    }
    const latencyMs = performance.now() - started;
    if (res.status < 200 || res.status > 299) throw unexpected('health check', res);
    // Health needs no credentials; a session does. Holding one (logging in when there
    // is none) makes a rejected API key fail the status, as upstream fails its connect.
    await this.#session.authorization(signal);
    return { latencyMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    await this.#session.terminate();
    this.#http.close();
  }

  /** Common entry checks; returns the caller's signal. */
  #enter(name: string, options: KeyStoreCallOptions | undefined): AbortSignal | undefined {
    checkCall(this.#closed, options?.signal);
    // Names go into JSON bodies and query strings only, but anything that is not a KES
    // name is refused before any I/O all the same (defence in depth).
    if (!isValidName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)]);
    return options?.signal;
  }

  /**
   * Sends a request in the current session. A 401 (session expired or terminated)
   * triggers one new login and one retry.
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE on transport failures, timeouts and failed logins.
   */
  async #send(req: HttpsJsonRequest): Promise<FortanixResponse> {
    const signal = req.signal;
    let authorization = await this.#session.authorization(signal);
    let res = await this.#raw(req, authorization);
    if (res.status === 401) {
      authorization = await this.#session.refresh(authorization, signal);
      res = await this.#raw(req, authorization);
    }
    return res;
  }

  async #raw(req: HttpsJsonRequest, authorization: string): Promise<FortanixResponse> {
    checkCall(this.#closed, undefined);
    try {
      return await this.#http.request({ ...req, headers: { Authorization: authorization } });
    } catch (err) {
      throw keystoreFailure(err, req.signal);
    }
  }
}

/** DSM's "no such object" answer. Another 404 (a wrong base path, a proxy) is a failure, not a missing key. */
function isMissing(res: FortanixResponse): boolean {
  return res.status === 404 && /sobject does not exist/i.test(fortanixErrorText(res));
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The objects of a listing: a plain array, or `{ items }` when DSM answers with metadata. */
function listItems(body: unknown): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  const items = asRecord(body).items;
  return Array.isArray(items) ? items : undefined;
}

function readFailed(message: string): KesError {
  return new KesError('ERR_KES_READ_KEY_FAILED', [], { cause: new Error(message) });
}

/** An unexpected DSM answer: the caller sees "unavailable", the log gets the status and DSM's error text. */
function unexpected(what: string, res: FortanixResponse): KesError {
  const text = fortanixErrorText(res);
  let hint = '';
  if (res.status === 429) hint = ' (throttled by DSM)';
  else if (res.status === 401) hint = ' (DSM rejected a fresh session)';
  else if (res.status === 403) hint = ' (the application lacks a permission: see docs/keystores/fortanix.md)';
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
    cause: new Error(`fortanix: ${what}: HTTP ${res.status}${text ? `: ${text}` : ''}${hint}`),
  });
}
