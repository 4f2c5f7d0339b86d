/**
 * The GCP Secret Manager key store (`keystore.gcp.secretmanager`): one secret per
 * key, secret id = key name, the value in version 1 — the layout upstream KES uses,
 * so both can share a project. Talks to the Secret Manager v1 REST API with
 * node:https; no Google SDK.
 *
 * @module
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { copyBytes } from './internal/bytes.js';
import { checkCall } from './internal/call.js';
import { GcpTokenSource } from './internal/gcp-auth.js';
import { crc32c } from './internal/gcp-crc32c.js';
import { createGcpHttpClient, googleError, googleStatus } from './internal/gcp-http.js';
import type { GcpHttpResponse } from './internal/gcp-http.js';
import { TransportError, keystoreFailure } from './internal/https-client.js';
import type { HttpsJsonClient } from './internal/https-client.js';
import { resolveGcpOptions } from './internal/gcp-options.js';
import type { ResolvedGcpOptions } from './internal/gcp-options.js';
import { isSafeKeyName } from './internal/key-name.js';
import { ListSnapshots } from './internal/list.js';
import { paddedNaming, paddedRecordPrefix } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';

/** A service account key, as the four `credentials` fields of the config file. */
export interface GcpCredentials {
  /** `client_email` of the service account. */
  readonly clientEmail: string;
  /** `client_id` (required as upstream, not sent anywhere). */
  readonly clientId: string;
  /** `private_key_id`: the `kid` of the signed token requests. */
  readonly privateKeyId: string;
  /** `private_key` (PEM). Literal `\n` sequences are turned into newlines, as upstream does. */
  readonly privateKey: string;
}

/** Options of {@link createGcpKeyStore}; they mirror `keystore.gcp.secretmanager` in the config file. */
export interface GcpKeyStoreOptions {
  /** GCP project that holds the secrets (id, number, or `domain:id`). */
  readonly projectId: string;
  /**
   * Secret Manager endpoint: a URL (`https://secretmanager.googleapis.com`), or
   * upstream's gRPC spelling `host[:port]`, which means `https://host[:port]`.
   * Default `https://secretmanager.googleapis.com`.
   */
  readonly endpoint?: string;
  /** OAuth scopes. Default `https://www.googleapis.com/auth/cloud-platform`. */
  readonly scopes?: readonly string[];
  /** A service account key. Without it: application default credentials (see `credentialsFile`). */
  readonly credentials?: GcpCredentials;
  /**
   * Application default credentials: a service-account JSON file. Default: the file
   * named by `GOOGLE_APPLICATION_CREDENTIALS` in `env`; without one, the metadata server.
   */
  readonly credentialsFile?: string;
  /** Environment consulted for `GOOGLE_APPLICATION_CREDENTIALS`. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** OAuth2 token endpoint for `credentials` (https only). Default `https://oauth2.googleapis.com/token`. */
  readonly tokenUrl?: string;
  /** Base URL of the metadata server. Default `http://metadata.google.internal`. */
  readonly metadataUrl?: string;
  /** Extra trust anchors for https connections: PEM text, or a file holding it. */
  readonly tls?: { readonly ca?: string };
  /** Timeout of one HTTP request in milliseconds. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** `pageSize` of listing requests (1 … 25 000). Default 1000. */
  readonly listPageSize?: number;
}

/** Guard against an endpoint that never stops handing out page tokens. */
const MAX_LIST_REQUESTS = 100_000;
/** Time allowed for removing a half-created secret after a failed create. */
const UNDO_TIMEOUT_MS = 10_000;
/** A listing filter value: only characters that need no escaping inside a quoted filter string. */
const FILTERABLE = /^[A-Za-z0-9_-]+$/;

/**
 * Creates a key store on GCP Secret Manager. Options are checked now; the first
 * call fetches an access token.
 *
 * Layout (as upstream KES): key `N` is the secret `projects/<projectId>/secrets/N`
 * (automatic replication) whose version 1 holds the stored value's bytes. Reads
 * always read version 1.
 *
 * Version records of rotated keys (`store.versions`) are secrets of the same project
 * named `<name>--versions--<id>` padded with `-` to more than 80 characters: Secret
 * Manager ids allow only `0-9 A-Z a-z _ -`, so length and the trailing `-` are what
 * keep them from ever being a KES key name. `list()` leaves them out.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming the offending option.
 * @example
 * const store = createGcpKeyStore({
 *   projectId: 'my-project',
 *   credentials: { clientEmail, clientId, privateKeyId, privateKey },
 * });
 * await store.create('my-key', value);
 */
export function createGcpKeyStore(options: GcpKeyStoreOptions): KeyStore {
  return new GcpKeyStore(resolveGcpOptions(options, options?.env ?? process.env));
}

class GcpKeyStore implements KeyStore {
  readonly kind: string;
  readonly #o: ResolvedGcpOptions;
  readonly #http: HttpsJsonClient;
  readonly #auth: GcpTokenSource;
  /** `prefix + '\n' + continueAt` → the names of the listing that continues there. */
  readonly #listing = new ListSnapshots();
  #closed = false;
  readonly versions: KeyVersionStore;

  constructor(o: ResolvedGcpOptions) {
    this.#o = o;
    this.#http = createGcpHttpClient(o.requestTimeoutMs, o.ca);
    this.#auth = new GcpTokenSource(this.#http, o.login, o.scopes, o.explicitScopes);
    this.kind = `gcp-secretmanager:${o.api.host} project=${o.projectId}`;
    this.versions = this.#versionStore();
  }

  /**
   * The version records: secret `<name>--versions--<id>-…` (see {@link paddedNaming}),
   * written, read and deleted exactly like a key's secret (two-step create undone on
   * failure, version 1 read, delete of the whole secret). Upstream KES lists every
   * secret of the project, so it shows these ids too (they are no valid key names).
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} secrets <name>--versions--<id>`,
      naming: paddedNaming,
      closed: () => this.#closed,
      create: (secret, value, signal) => this.#createSecret(secret, value, signal),
      get: (secret, signal) => this.#getSecret(secret, signal),
      delete: (secret, signal) => this.#deleteSecret(secret, signal),
      // The substring filter narrows the transfer to ids containing `<name>--versions--`;
      // the exact match (not the records of `<name>-x` or `x<name>`) is paddedRecordId's.
      walk: (signal, visit, name) => this.#fetchSecretIds(paddedRecordPrefix(name), signal, visit),
    });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    const signal = this.#enter(name, options);
    await this.#createSecret(name, value, signal);
  }

  /** Creates secret `name` (a key name or a record name) holding `value` in version 1. */
  async #createSecret(name: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const copy = copyBytes(value); // the caller may wipe its buffer while we wait on Google
    try {
      const created = await this.#send('POST', this.#secrets(), { secretId: name }, { replication: { automatic: {} } }, signal);
      if (created.status === 409 || googleStatus(created.body) === 'ALREADY_EXISTS') throw new KesError('ERR_KES_KEY_EXISTS');
      if (created.status !== 200) throw this.#unexpected(`create ${name}`, created);
      // Step two: the value. If it fails the secret must go again, or a key without a
      // value (read as "not found", but refusing every create) would remain.
      let failure: unknown;
      try {
        const added = await this.#send(
          'POST',
          `${this.#secret(name)}:addVersion`,
          undefined,
          { payload: { data: Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).toString('base64'), dataCrc32c: String(crc32c(copy)) } },
          signal,
        );
        if (added.status === 200) return;
        failure = this.#unexpected(`add version to ${name}`, added);
      } catch (err) {
        failure = err;
      }
      throw await this.#undoCreate(name, failure, signal);
    } finally {
      copy.fill(0);
    }
  }

  /** Deletes the secret a failed create left without a value; returns the error to throw. */
  async #undoCreate(name: string, failure: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    let problem: string;
    try {
      // Not the caller's signal: an aborted create must still be undone.
      const res = await this.#send('DELETE', this.#secret(name), undefined, undefined, AbortSignal.timeout(UNDO_TIMEOUT_MS));
      if (res.status === 200 || res.status === 404) return failure;
      problem = `HTTP ${res.status}${suffix(res.body)}`;
    } catch (err) {
      problem = err instanceof KesError && err.cause instanceof Error ? err.cause.message : String(err);
    }
    const note = `gcp: create ${name} failed and the half-created secret could not be removed (${problem}); delete it before creating '${name}' again`;
    if (signal?.aborted && failure === signal.reason) return failure;
    return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(note, { cause: failure }) });
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    return this.#getSecret(name, this.#enter(name, options));
  }

  /** Version 1 of secret `name` (a key name or a record name). */
  async #getSecret(name: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    // Version 1, as upstream: the first value written is the key; versions added
    // out of band are ignored. A secret without version 1 (an upstream create that
    // crashed between its two steps) answers 404 and reads as "not found".
    const res = await this.#send('GET', `${this.#secret(name)}/versions/1:access`, undefined, undefined, signal);
    if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw this.#unexpected(`get ${name}`, res);
    const payload = (res.body as { payload?: { data?: unknown; dataCrc32c?: unknown } } | undefined)?.payload;
    const data = payload?.data ?? '';
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`gcp: get ${name}: the answer has no base64 payload`) });
    }
    const bytes = new Uint8Array(Buffer.from(data, 'base64'));
    const sum = payload?.dataCrc32c;
    if (sum !== undefined && sum !== null && String(sum) !== String(crc32c(bytes))) {
      bytes.fill(0);
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`gcp: get ${name}: payload checksum (CRC32C) mismatch`) });
    }
    return bytes;
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    await this.#deleteSecret(name, this.#enter(name, options));
  }

  async #deleteSecret(name: string, signal: AbortSignal | undefined): Promise<void> {
    // Secret Manager deletes a secret and all its versions at once; there is no soft delete.
    const res = await this.#send('DELETE', this.#secret(name), undefined, undefined, signal);
    if (res.status === 404) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    if (res.status !== 200) throw this.#unexpected(`delete ${name}`, res);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    const signal = this.#enter(undefined, options);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#fetchNames(prefix, signal));
  }

  /**
   * The KES names among the project's secrets, following `nextPageToken` (upstream
   * fetches every page too). With a prefix, the server-side filter `name:"<prefix>"`
   * (a substring match on the resource name, so a superset) cuts the transfer; the
   * exact prefix match is listPage's. Version records (`<name>--versions--<id>-…`) are
   * no KES names and never listed.
   */
  async #fetchNames(prefix: string, signal: AbortSignal | undefined): Promise<string[]> {
    const names = new Set<string>();
    await this.#fetchSecretIds(prefix, signal, (id) => {
      // Other secrets of the project whose ids are no KES names are not keys of this store.
      if (isValidName(id)) names.add(id);
    });
    return [...names];
  }

  /**
   * Calls `each` with the id of every secret of the project, following
   * `nextPageToken`; with a `needle`, only (a superset of) those whose resource name
   * contains it, through the filter `name:"<needle>"` (Secret Manager's filter syntax:
   * `name:` is a substring match, cloud.google.com/secret-manager/docs/filtering).
   */
  async #fetchSecretIds(needle: string, signal: AbortSignal | undefined, each: (id: string) => void): Promise<void> {
    let token = '';
    for (let i = 0; i < MAX_LIST_REQUESTS; i++) {
      const query: Record<string, string> = { pageSize: String(this.#o.listPageSize) };
      if (token) query.pageToken = token;
      if (needle && FILTERABLE.test(needle)) query.filter = `name:"${needle}"`;
      const res = await this.#send('GET', this.#secrets(), query, undefined, signal);
      if (res.status !== 200) throw this.#unexpected('list', res);
      const body = res.body as { secrets?: unknown; nextPageToken?: unknown } | undefined;
      const secrets = body?.secrets ?? [];
      if (!Array.isArray(secrets)) throw this.#unexpected('list', res);
      for (const s of secrets) {
        const full = (s as { name?: unknown } | null)?.name;
        if (typeof full === 'string') each(full.slice(full.lastIndexOf('/') + 1));
      }
      const next = typeof body?.nextPageToken === 'string' ? body.nextPageToken : '';
      if (!next || next === token) return;
      token = next;
    }
    throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`gcp: list did not finish after ${MAX_LIST_REQUESTS} pages`) });
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    const signal = options?.signal;
    const started = performance.now();
    // An authenticated listing of one secret: it proves the endpoint answers AND that
    // the credentials and the project work (upstream only GETs the endpoint).
    let res: GcpHttpResponse;
    try {
      res = await this.#send('GET', this.#secrets(), { pageSize: '1' }, undefined, signal);
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      const transport = err instanceof KesError && hasTransportCause(err);
      throw new KesError(transport ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE', [], {
        cause: err instanceof KesError ? err.cause : err,
      });
    }
    const latencyMs = performance.now() - started;
    if (res.status === 200) return { latencyMs };
    const err = this.#unexpected('status', res);
    if (res.status >= 500 || res.status === 429) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: err.cause });
    throw err;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    this.#http.close();
  }

  /** Common entry checks; returns the caller's signal. */
  #enter(name: string | undefined, options: KeyStoreCallOptions | undefined): AbortSignal | undefined {
    checkCall(this.#closed, options?.signal);
    // The name becomes a URL path segment: anything but a KES name (`../x`, `a/b`,
    // `%2F`, `x:access`) could address another resource of the project.
    if (name !== undefined && !isSafeKeyName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)]);
    return options?.signal;
  }

  #secrets(): string {
    return `v1/projects/${encodeURIComponent(this.#o.projectId)}/secrets`;
  }

  #secret(name: string): string {
    return `${this.#secrets()}/${encodeURIComponent(name)}`;
  }

  /**
   * One authenticated API request. A 401 fetches a new token and retries once (the
   * token may have expired early or been revoked).
   * @throws KesError ERR_KES_KEYSTORE_UNAVAILABLE on transport failures, timeouts and token failures; the signal's reason on abort.
   */
  async #send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    query: Record<string, string> | undefined,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<GcpHttpResponse> {
    const url = new URL(this.#o.api.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
    if (query) url.search = new URLSearchParams(query).toString();
    let token = await this.#auth.token(signal);
    let res = await this.#raw(method, url, token, body, signal);
    if (res.status === 401) {
      token = await this.#auth.refresh(token, signal);
      res = await this.#raw(method, url, token, body, signal);
    }
    return res;
  }

  async #raw(method: 'GET' | 'POST' | 'DELETE', url: URL, token: string, body: unknown, signal: AbortSignal | undefined): Promise<GcpHttpResponse> {
    checkCall(this.#closed, undefined);
    try {
      return await this.#http.request({ method, url, headers: { Authorization: `Bearer ${token}` }, body, signal });
    } catch (err) {
      throw keystoreFailure(err, signal);
    }
  }

  /** An unexpected answer: the caller sees "unavailable", the log gets the status and Google's error text. */
  #unexpected(what: string, res: GcpHttpResponse): KesError {
    return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error(`gcp: ${what}: HTTP ${res.status}${suffix(res.body)}`) });
  }
}

function suffix(body: unknown): string {
  const e = googleError(body);
  return e ? `: ${e}` : '';
}

/** True when a transport failure (no HTTP answer) is somewhere in the cause chain. */
function hasTransportCause(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; cur instanceof Error && i < 8; i++) {
    if (cur instanceof TransportError) return true;
    cur = cur.cause;
  }
  return false;
}
