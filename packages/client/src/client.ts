/**
 * `createKesClient()`: every KES API route as a typed method (kes-protocol.md §4, §11).
 *
 * Requests are JSON with base64 byte fields; names in paths are validated with the server's
 * own rules before anything is sent and then path-escaped. Methods follow what KES clients
 * send: POST for create/import/generate/encrypt/decrypt (every KES version accepts it), PUT
 * for hmac and for the key-version routes of kes-ts (rotate, versions, rewrap; key-versions
 * design §4.3), which no upstream server has.
 */
import { ApiKey, KesError, isValidPattern, validateIdentityName, validateKeyName, validatePattern, validatePolicyName } from '@kes/core';
import { encodeBase64 } from '@kes/core/wire';
import pkg from '../package.json' with { type: 'json' };
import { KesClientError } from './errors.js';
import {
  algorithm,
  auditEvent,
  bool,
  bytes,
  errorEvent,
  jsonObject,
  jsonValue,
  keyVersion,
  listPage,
  num,
  policy,
  protocolError,
  str,
  time,
} from './internal/decode.js';
import type { ReplyContext } from './internal/decode.js';
import { parseEndpoints } from './internal/endpoints.js';
import { Transport } from './internal/transport.js';
import type { CallSpec, Reply } from './internal/transport.js';
import type {
  ApiRoute,
  AuditEvent,
  CallOptions,
  ErrorEvent,
  GeneratedKey,
  IdentityInfo,
  ImportKeyInput,
  KesClientOptions,
  KeyCallOptions,
  KeyInfo,
  KeyVersionConfig,
  KeyVersionConfigInput,
  KeyVersionEntry,
  KeyVersionInfo,
  KeyVersionInput,
  KeyVersions,
  Policy,
  PolicyInfo,
  SelfInfo,
  RewrapResult,
  ServerStatus,
  ServerVersion,
  VersionedBytes,
} from './types.js';

/**
 * A client for one KES deployment (one or more endpoints serving the same keys).
 * Every method throws `KesError` (the server's catalogued error, e.g. `ERR_KES_KEY_NOT_FOUND`)
 * or `KesClientError` (unreachable, TLS, timeout, an unknown reply); an aborted call
 * rejects with the signal's reason.
 */
export interface KesClient {
  /** The endpoints, as parsed (`https://host:port`). */
  readonly endpoints: readonly string[];
  /** Server version and commit (`GET /version`, needs no authorization). */
  version(options?: CallOptions): Promise<ServerVersion>;
  /** Resolves when the server and its key store are ready (`GET /v1/ready`). @throws KesError `ERR_KES_KEYSTORE_UNREACHABLE`, `ERR_KES_KEYSTORE_UNAVAILABLE` */
  ready(options?: CallOptions): Promise<void>;
  /** Version, uptime, CPU, memory and key-store state (`GET /v1/status`). */
  status(options?: CallOptions): Promise<ServerStatus>;
  /** Prometheus text (`GET /v1/metrics`). */
  metrics(options?: CallOptions): Promise<string>;
  /** Every route with its method, body limit and timeout (`GET /v1/api`). */
  apis(options?: CallOptions): Promise<ApiRoute[]>;
  /** Creates a key with fresh random key material. @throws KesError `ERR_KES_KEY_EXISTS`, `ERR_KES_INVALID_KEY_NAME` */
  createKey(name: string, options?: CallOptions): Promise<void>;
  /** Imports 32 bytes of key material. @throws KesError `ERR_KES_KEY_EXISTS`, `ERR_KES_INVALID_KEY_SIZE`, `ERR_KES_UNSUPPORTED_ALGORITHM` */
  importKey(name: string, key: ImportKeyInput, options?: CallOptions): Promise<void>;
  /** Algorithm, creation time and creator of a key (and its latest version once rotated). @throws KesError `ERR_KES_KEY_NOT_FOUND` */
  describeKey(name: string, options?: CallOptions): Promise<KeyInfo>;
  /** Deletes a key. @throws KesError `ERR_KES_KEY_NOT_FOUND` */
  deleteKey(name: string, options?: CallOptions): Promise<void>;
  /** Key names starting with `prefix` (a trailing `*` is allowed), sorted; follows `continue_at` pages. */
  listKeys(prefix?: string, options?: CallOptions): AsyncIterable<string>;
  /**
   * A new data key, as plaintext and encrypted under `name` (bound to `context`). Wipe `plaintext` after use.
   * `options.version` picks the key version; `version` in the result is set for a rotated key.
   */
  generateKey(name: string, context?: Uint8Array, options?: KeyCallOptions): Promise<GeneratedKey>;
  /** Encrypts `plaintext` under key `name` (bound to `context`); for a rotated key the result's `version` names the version used. */
  encrypt(name: string, plaintext: Uint8Array, context?: Uint8Array, options?: KeyCallOptions): Promise<VersionedBytes>;
  /** Decrypts a ciphertext made with key `name` and the same `context` (`options.version` is only a hint). @throws KesError `ERR_KES_DECRYPT` */
  decrypt(name: string, ciphertext: Uint8Array, context?: Uint8Array, options?: KeyCallOptions): Promise<Uint8Array>;
  /**
   * HMAC-SHA256 of `message` under key `name`'s HMAC key: version 1's unless `options.version`
   * picks another (then the result's `version` names it). @throws KesError `ERR_KES_HMAC_NOT_SUPPORTED`
   */
  hmac(name: string, message: Uint8Array, options?: KeyCallOptions): Promise<VersionedBytes>;
  /**
   * Adds a new version to key `name` (`PUT /v1/key/rotate/<name>`): fresh random key material
   * of version 1's algorithm, or the 32 bytes of `input` (for `input.cipher`, default `AES256`
   * as in `importKey`). Earlier versions keep decrypting; new
   * ciphertexts use the new one (unless `minEncryptionVersion` pins another). Needs a kes-ts
   * server with key versions enabled (404 `key versions are not enabled` otherwise). A call retried after a connection broke
   * mid-request may add two versions, which does no harm.
   *
   * @throws KesError `ERR_KES_KEY_NOT_FOUND`, `ERR_KES_INVALID_KEY_SIZE`, `ERR_KES_UNSUPPORTED_ALGORITHM`;
   *   the server's key-version errors (see docs/errors.md)
   * @example
   * const { version } = await client.rotateKey('my-key'); // '2'
   */
  rotateKey(name: string, input?: ImportKeyInput, options?: CallOptions): Promise<KeyVersionInfo>;
  /**
   * Every version of key `name` with its algorithm, creation and state, and the key's version
   * settings (`GET /v1/key/versions/<name>`). A key never rotated has one version, `"1"`.
   *
   * @example
   * const { latest, versions } = await client.listKeyVersions('my-key');
   */
  listKeyVersions(name: string, options?: CallOptions): Promise<KeyVersions>;
  /**
   * Deletes one version of key `name` for good (`DELETE /v1/key/version/delete/<name>?version=N`):
   * what it encrypted can no longer be decrypted. Version 1 cannot be deleted (delete the key).
   *
   * @example
   * await client.deleteKeyVersion('my-key', '2');
   */
  deleteKeyVersion(name: string, version: KeyVersionInput, options?: CallOptions): Promise<void>;
  /**
   * Sets which versions of key `name` may decrypt and which one encrypts
   * (`PUT /v1/key/version/config/<name>`); a field left out keeps its value. Reversible.
   *
   * @example
   * await client.configureKeyVersions('my-key', { minDecryptionVersion: 2 }); // version 1 can no longer decrypt
   */
  configureKeyVersions(name: string, config: KeyVersionConfigInput, options?: CallOptions): Promise<KeyVersionConfig>;
  /**
   * Re-encrypts a ciphertext of key `name` under its encryption default, or under
   * `options.version` (`PUT /v1/key/rewrap/<name>`); the plaintext never leaves the server.
   * `context` must be the one the ciphertext was made with.
   *
   * @throws KesError `ERR_KES_DECRYPT` when the ciphertext or context is wrong
   * @example
   * const { ciphertext, version } = await client.rewrap('my-key', stored);
   */
  rewrap(name: string, ciphertext: Uint8Array, context?: Uint8Array, options?: KeyCallOptions): Promise<RewrapResult>;
  /** Creation time and creator of a policy. @throws KesError `ERR_KES_POLICY_NOT_FOUND` */
  describePolicy(name: string, options?: CallOptions): Promise<PolicyInfo>;
  /** A policy's allow and deny patterns. @throws KesError `ERR_KES_POLICY_NOT_FOUND` */
  readPolicy(name: string, options?: CallOptions): Promise<Policy>;
  /** Policy names starting with `prefix`, sorted. */
  listPolicies(prefix?: string, options?: CallOptions): AsyncIterable<string>;
  /** Whether `identity` is the admin, or which policy it has. @throws KesError `ERR_KES_IDENTITY_NOT_FOUND` */
  describeIdentity(identity: string, options?: CallOptions): Promise<IdentityInfo>;
  /** This client's identity and policy as the server sees them. */
  describeSelf(options?: CallOptions): Promise<SelfInfo>;
  /** Identities starting with `prefix`, sorted (the admin included). */
  listIdentities(prefix?: string, options?: CallOptions): AsyncIterable<string>;
  /** Audit events as they happen (`GET /v1/log/audit`, ND-JSON); ends when `options.signal` aborts or the server closes the stream. */
  auditLog(options?: CallOptions): AsyncIterable<AuditEvent>;
  /** Error-log events as they happen (`GET /v1/log/error`, ND-JSON); ends like `auditLog`. */
  errorLog(options?: CallOptions): AsyncIterable<ErrorEvent>;
  /** Closes every connection (open log streams end). Later calls fail with `ERR_KES_CLIENT_CLOSED`. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_RETRIES = 2;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Longest ND-JSON line accepted from a log stream. */
const MAX_EVENT_BYTES = 1024 * 1024;

const invalid = (why: string): KesError => new KesError('ERR_KES_INVALID_ARGUMENT', [why]);

function checkCount(value: unknown, name: string, allowZero: boolean): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalid(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
}

function checkBytes(value: unknown, name: string, optional: boolean): void {
  if (optional && value === undefined) return;
  if (!(value instanceof Uint8Array)) throw invalid(`${name} must be a Uint8Array`);
}

/** Highest key version the API allows (kes-protocol: a uint32). */
const MAX_KEY_VERSION = 4_294_967_295;

/**
 * A key version argument (`2`, `"2"`, `"v2"`) as the decimal text the server takes; `min` is
 * 0 only where `"0"` means "the latest" (`minEncryptionVersion`).
 */
function versionArg(value: unknown, name: string, min: 0 | 1 = 1): string {
  let n: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string') {
    const m = /^v?([0-9]{1,10})$/.exec(value);
    if (m) n = Number(m[1]);
  }
  if (n === undefined || n < min || n > MAX_KEY_VERSION) {
    throw invalid(`${name} must be a key version: a whole number from ${min} to ${MAX_KEY_VERSION}, e.g. "2"`);
  }
  return String(n);
}

/** `options.version` as decimal text, or `undefined` when not given. */
function optionVersion(o: KeyCallOptions | undefined): string | undefined {
  const v = typeof o === 'object' && o !== null ? o.version : undefined;
  return v === undefined ? undefined : versionArg(v, 'version');
}

/** Attaches the key version a reply named to its bytes, as a non-enumerable property (see `VersionedBytes`). */
function versioned(bytes: Uint8Array, version: string | undefined): VersionedBytes {
  if (version !== undefined) Object.defineProperty(bytes, 'version', { value: version, enumerable: false });
  return bytes;
}

/** `{ [key]: value }`, or `{}` when `value` is undefined: an optional result field is absent, not `undefined`. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function checkOptions(o: CallOptions | undefined): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null) throw invalid('options must be an object');
  checkCount(o.timeoutMs, 'timeoutMs', true);
}

/** A JSON body with its byte fields in base64. The returned buffer may hold secrets: the caller wipes it. */
function jsonBody(fields: Record<string, Uint8Array | string | undefined>): Buffer {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${JSON.stringify(typeof v === 'string' ? v : encodeBase64(v))}`);
  }
  return Buffer.from(`{${parts.join(',')}}`, 'utf8');
}

/**
 * The pattern a listing sends and the prefix its names must have. `prefix*` and `prefix`
 * mean the same, and upstream KES takes a trailing `*` on key listings literally (listing
 * nothing), so the `*` is dropped when what remains is a valid pattern on its own (`my-*`
 * keeps it: a pattern may not end with `-`).
 */
function listPattern(prefix: string | undefined): { pattern: string; prefix: string } {
  const p = prefix ?? '';
  if (typeof p !== 'string') throw invalid('prefix must be a string');
  validatePattern(p);
  if (!p.endsWith('*')) return { pattern: p, prefix: p };
  const bare = p.slice(0, -1);
  return { pattern: isValidPattern(bare) ? bare : p, prefix: bare };
}

class Client implements KesClient {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  get endpoints(): readonly string[] {
    return this.#transport.endpoints.map((e) => e.url);
  }

  async #call(spec: CallSpec, o: CallOptions | undefined, secret = false): Promise<Reply> {
    checkOptions(o);
    return this.#transport.request({ ...spec, signal: o?.signal, timeoutMs: o?.timeoutMs }, { secret });
  }

  async #object(
    method: CallSpec['method'],
    path: string,
    o: CallOptions | undefined,
    body?: Buffer,
  ): Promise<{ o: Record<string, unknown>; ctx: ReplyContext }> {
    const reply = await this.#call({ method, path, ...(body !== undefined ? { body } : {}) }, o);
    const ctx = { endpoint: reply.endpoint, what: `${method} ${path}` };
    return { o: jsonObject(ctx, reply.body), ctx };
  }

  /** A call whose request and reply carry secrets: both bodies are wiped once parsed. */
  async #secretCall<T>(
    method: 'POST' | 'PUT',
    path: string,
    body: Buffer,
    o: CallOptions | undefined,
    read: (r: Record<string, unknown>, ctx: ReplyContext) => T,
  ): Promise<T> {
    let reply: Reply | undefined;
    try {
      reply = await this.#call({ method, path, body }, o, true);
      const ctx = { endpoint: reply.endpoint, what: `${method} ${path}` };
      return read(jsonObject(ctx, reply.body), ctx);
    } finally {
      body.fill(0);
      reply?.body.fill(0);
    }
  }

  async version(o?: CallOptions): Promise<ServerVersion> {
    const { o: r, ctx } = await this.#object('GET', '/version', o);
    return { version: str(ctx, r, 'version'), commit: str(ctx, r, 'commit', false) };
  }

  async ready(o?: CallOptions): Promise<void> {
    await this.#call({ method: 'GET', path: '/v1/ready' }, o);
  }

  async status(o?: CallOptions): Promise<ServerStatus> {
    const { o: r, ctx } = await this.#object('GET', '/v1/status', o);
    const s: ServerStatus = {
      version: str(ctx, r, 'version', false),
      os: str(ctx, r, 'os', false),
      arch: str(ctx, r, 'arch', false),
      uptime: num(ctx, r, 'uptime') ?? 0,
      numCpu: num(ctx, r, 'num_cpu') ?? 0,
      numCpuUsed: num(ctx, r, 'num_cpu_used') ?? 0,
      memHeapUsed: num(ctx, r, 'mem_heap_used') ?? 0,
      memStackUsed: num(ctx, r, 'mem_stack_used') ?? 0,
    };
    const latency = num(ctx, r, 'keystore_latency');
    const unreachable = bool(ctx, r, 'keystore_unreachable');
    const unavailable = bool(ctx, r, 'keystore_unavailable');
    if (latency !== undefined) s.keystoreLatency = latency;
    if (unreachable !== undefined) s.keystoreUnreachable = unreachable;
    if (unavailable !== undefined) s.keystoreUnavailable = unavailable;
    return s;
  }

  async metrics(o?: CallOptions): Promise<string> {
    const reply = await this.#call({ method: 'GET', path: '/v1/metrics' }, o);
    return reply.body.toString('utf8');
  }

  async apis(o?: CallOptions): Promise<ApiRoute[]> {
    const reply = await this.#call({ method: 'GET', path: '/v1/api' }, o);
    const ctx = { endpoint: reply.endpoint, what: 'GET /v1/api' };
    const list = jsonValue(ctx, reply.body.toString('utf8'));
    if (!Array.isArray(list)) throw protocolError(ctx, 'expected a JSON array');
    return list.map((v: unknown) => {
      if (typeof v !== 'object' || v === null) throw protocolError(ctx, 'an entry is not a JSON object');
      const e = v as Record<string, unknown>;
      return {
        method: str(ctx, e, 'method'),
        path: str(ctx, e, 'path'),
        maxBody: num(ctx, e, 'max_body') ?? 0,
        timeout: num(ctx, e, 'timeout') ?? 0,
      };
    });
  }

  async createKey(name: string, o?: CallOptions): Promise<void> {
    validateKeyName(name);
    await this.#call({ method: 'POST', path: `/v1/key/create/${encodeURIComponent(name)}` }, o);
  }

  async importKey(name: string, key: ImportKeyInput, o?: CallOptions): Promise<void> {
    validateKeyName(name);
    if (typeof key !== 'object' || key === null) throw invalid('key must be an object { bytes, cipher? }');
    checkBytes(key.bytes, 'key.bytes', false);
    const cipher = key.cipher ?? 'AES256';
    if (typeof cipher !== 'string') throw invalid('key.cipher must be a string');
    const body = jsonBody({ key: key.bytes, cipher });
    try {
      await this.#call({ method: 'POST', path: `/v1/key/import/${encodeURIComponent(name)}`, body }, o);
    } finally {
      body.fill(0); // the imported key is in there
    }
  }

  async describeKey(name: string, o?: CallOptions): Promise<KeyInfo> {
    validateKeyName(name);
    const { o: r, ctx } = await this.#object('GET', `/v1/key/describe/${encodeURIComponent(name)}`, o);
    return {
      name: str(ctx, r, 'name', false) || name,
      algorithm: algorithm(str(ctx, r, 'algorithm', false)),
      createdAt: time(r.created_at),
      createdBy: str(ctx, r, 'created_by', false),
      ...optional('version', keyVersion(ctx, r, 'version')),
    };
  }

  async deleteKey(name: string, o?: CallOptions): Promise<void> {
    validateKeyName(name);
    await this.#call({ method: 'DELETE', path: `/v1/key/delete/${encodeURIComponent(name)}` }, o);
  }

  listKeys(prefix?: string, o?: CallOptions): AsyncIterable<string> {
    return this.#list('/v1/key/list/', 'names', prefix, o);
  }

  async generateKey(name: string, context?: Uint8Array, o?: KeyCallOptions): Promise<GeneratedKey> {
    validateKeyName(name);
    checkBytes(context, 'context', true);
    const version = optionVersion(o);
    return this.#secretCall('POST', `/v1/key/generate/${encodeURIComponent(name)}`, jsonBody({ context, version }), o, (r, ctx) => ({
      plaintext: bytes(ctx, r, 'plaintext'),
      ciphertext: bytes(ctx, r, 'ciphertext'),
      ...optional('version', keyVersion(ctx, r, 'version')),
    }));
  }

  async encrypt(name: string, plaintext: Uint8Array, context?: Uint8Array, o?: KeyCallOptions): Promise<VersionedBytes> {
    validateKeyName(name);
    checkBytes(plaintext, 'plaintext', false);
    checkBytes(context, 'context', true);
    const version = optionVersion(o);
    return this.#secretCall('POST', `/v1/key/encrypt/${encodeURIComponent(name)}`, jsonBody({ plaintext, context, version }), o, (r, ctx) =>
      versioned(bytes(ctx, r, 'ciphertext'), keyVersion(ctx, r, 'version')),
    );
  }

  async decrypt(name: string, ciphertext: Uint8Array, context?: Uint8Array, o?: KeyCallOptions): Promise<Uint8Array> {
    validateKeyName(name);
    checkBytes(ciphertext, 'ciphertext', false);
    checkBytes(context, 'context', true);
    const version = optionVersion(o);
    return this.#secretCall('POST', `/v1/key/decrypt/${encodeURIComponent(name)}`, jsonBody({ ciphertext, context, version }), o, (r, ctx) =>
      bytes(ctx, r, 'plaintext'),
    );
  }

  async hmac(name: string, message: Uint8Array, o?: KeyCallOptions): Promise<VersionedBytes> {
    validateKeyName(name);
    checkBytes(message, 'message', false);
    const version = optionVersion(o);
    return this.#secretCall('PUT', `/v1/key/hmac/${encodeURIComponent(name)}`, jsonBody({ message, version }), o, (r, ctx) =>
      versioned(bytes(ctx, r, 'hmac'), keyVersion(ctx, r, 'version')),
    );
  }

  async rotateKey(name: string, input?: ImportKeyInput, o?: CallOptions): Promise<KeyVersionInfo> {
    validateKeyName(name);
    const path = `/v1/key/rotate/${encodeURIComponent(name)}`;
    const read = (r: Record<string, unknown>, ctx: ReplyContext): KeyVersionInfo => ({
      name: str(ctx, r, 'name', false) || name,
      version: keyVersion(ctx, r, 'version', true),
      createdAt: time(r.created_at),
      createdBy: str(ctx, r, 'created_by', false),
    });
    if (input === undefined) {
      const { o: r, ctx } = await this.#object('PUT', path, o);
      return read(r, ctx);
    }
    if (typeof input !== 'object' || input === null) throw invalid('input must be an object { bytes, cipher? }');
    checkBytes(input.bytes, 'input.bytes', false);
    const cipher = input.cipher ?? 'AES256';
    if (typeof cipher !== 'string') throw invalid('input.cipher must be a string');
    // The new version's key material is in this body: #secretCall wipes it.
    return this.#secretCall('PUT', path, jsonBody({ key: input.bytes, cipher }), o, read);
  }

  async listKeyVersions(name: string, o?: CallOptions): Promise<KeyVersions> {
    validateKeyName(name);
    const { o: r, ctx } = await this.#object('GET', `/v1/key/versions/${encodeURIComponent(name)}`, o);
    const list = r.versions;
    if (!Array.isArray(list)) throw protocolError(ctx, "field 'versions' is not a list");
    const versions = list.map((v: unknown): KeyVersionEntry => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw protocolError(ctx, "an entry of 'versions' is not a JSON object");
      const e = v as Record<string, unknown>;
      return {
        version: keyVersion(ctx, e, 'version', true),
        algorithm: algorithm(str(ctx, e, 'algorithm', false)),
        createdAt: time(e.created_at),
        createdBy: str(ctx, e, 'created_by', false),
        state: str(ctx, e, 'state', false),
      };
    });
    return {
      name: str(ctx, r, 'name', false) || name,
      latest: keyVersion(ctx, r, 'latest', true),
      minDecryptionVersion: keyVersion(ctx, r, 'min_decryption_version', true),
      minEncryptionVersion: keyVersion(ctx, r, 'min_encryption_version', true),
      ...optional('encryptionVersion', keyVersion(ctx, r, 'encryption_version')),
      versions,
    };
  }

  async deleteKeyVersion(name: string, version: KeyVersionInput, o?: CallOptions): Promise<void> {
    validateKeyName(name);
    const v = versionArg(version, 'version');
    await this.#call({ method: 'DELETE', path: `/v1/key/version/delete/${encodeURIComponent(name)}?version=${v}` }, o);
  }

  async configureKeyVersions(name: string, config: KeyVersionConfigInput, o?: CallOptions): Promise<KeyVersionConfig> {
    validateKeyName(name);
    if (typeof config !== 'object' || config === null) {
      throw invalid('config must be an object { minDecryptionVersion?, minEncryptionVersion?, encryptionVersion? }');
    }
    const body = jsonBody({
      min_decryption_version: config.minDecryptionVersion === undefined ? undefined : versionArg(config.minDecryptionVersion, 'minDecryptionVersion'),
      min_encryption_version:
        config.minEncryptionVersion === undefined ? undefined : versionArg(config.minEncryptionVersion, 'minEncryptionVersion', 0),
      encryption_version: config.encryptionVersion === undefined ? undefined : versionArg(config.encryptionVersion, 'encryptionVersion', 0),
    });
    const { o: r, ctx } = await this.#object('PUT', `/v1/key/version/config/${encodeURIComponent(name)}`, o, body);
    return {
      name: str(ctx, r, 'name', false) || name,
      minDecryptionVersion: keyVersion(ctx, r, 'min_decryption_version', true),
      minEncryptionVersion: keyVersion(ctx, r, 'min_encryption_version', true),
      ...optional('encryptionVersion', keyVersion(ctx, r, 'encryption_version')),
    };
  }

  async rewrap(name: string, ciphertext: Uint8Array, context?: Uint8Array, o?: KeyCallOptions): Promise<RewrapResult> {
    validateKeyName(name);
    checkBytes(ciphertext, 'ciphertext', false);
    checkBytes(context, 'context', true);
    const version = optionVersion(o);
    const body = jsonBody({ ciphertext, context, version });
    const { o: r, ctx } = await this.#object('PUT', `/v1/key/rewrap/${encodeURIComponent(name)}`, o, body);
    return { ciphertext: bytes(ctx, r, 'ciphertext'), version: keyVersion(ctx, r, 'version', true) };
  }

  async describePolicy(name: string, o?: CallOptions): Promise<PolicyInfo> {
    validatePolicyName(name);
    const { o: r, ctx } = await this.#object('GET', `/v1/policy/describe/${encodeURIComponent(name)}`, o);
    return { name: str(ctx, r, 'name', false) || name, createdAt: time(r.created_at), createdBy: str(ctx, r, 'created_by', false) };
  }

  async readPolicy(name: string, o?: CallOptions): Promise<Policy> {
    validatePolicyName(name);
    const { o: r, ctx } = await this.#object('GET', `/v1/policy/read/${encodeURIComponent(name)}`, o);
    return policy(ctx, r, name);
  }

  listPolicies(prefix?: string, o?: CallOptions): AsyncIterable<string> {
    return this.#list('/v1/policy/list/', 'names', prefix, o);
  }

  async describeIdentity(identity: string, o?: CallOptions): Promise<IdentityInfo> {
    validateIdentityName(identity);
    const { o: r, ctx } = await this.#object('GET', `/v1/identity/describe/${encodeURIComponent(identity)}`, o);
    return {
      identity,
      admin: bool(ctx, r, 'admin') ?? false,
      policy: str(ctx, r, 'policy', false),
      createdAt: time(r.created_at),
      createdBy: str(ctx, r, 'created_by', false),
    };
  }

  async describeSelf(o?: CallOptions): Promise<SelfInfo> {
    const { o: r, ctx } = await this.#object('GET', '/v1/identity/self/describe', o);
    const self: SelfInfo = {
      identity: str(ctx, r, 'identity', false),
      admin: bool(ctx, r, 'admin') ?? false,
      createdAt: time(r.created_at),
      createdBy: str(ctx, r, 'created_by', false),
    };
    // Current servers inline the policy object; v0.22 sent `policy_name` beside it.
    const p = r.policy;
    if (typeof p === 'object' && p !== null) self.policy = policy(ctx, p as Record<string, unknown>, str(ctx, r, 'policy_name', false));
    return self;
  }

  listIdentities(prefix?: string, o?: CallOptions): AsyncIterable<string> {
    return this.#list('/v1/identity/list/', 'identities', prefix, o);
  }

  auditLog(o?: CallOptions): AsyncIterable<AuditEvent> {
    checkOptions(o);
    return this.#stream('/v1/log/audit', auditEvent, o);
  }

  errorLog(o?: CallOptions): AsyncIterable<ErrorEvent> {
    checkOptions(o);
    return this.#stream('/v1/log/error', errorEvent, o);
  }

  close(): void {
    this.#transport.close();
  }

  /**
   * A listing, page by page. Current servers answer with every name at once; a server that
   * pages sets `continue_at` to the first name of the next page, which is asked for as the
   * next pattern (as kms-go does). Names that do not start with `prefix`, or that repeat or
   * precede what an earlier page gave, are skipped, so the result is the same for servers
   * that treat the pattern as a prefix and for those that start the page there; a
   * `continue_at` that does not move forward ends the listing instead of looping.
   */
  async *#list(route: string, field: 'names' | 'identities', requested: string | undefined, o: CallOptions | undefined): AsyncGenerator<string> {
    const first = listPattern(requested);
    const prefix = first.prefix;
    checkOptions(o);
    let pattern = first.pattern;
    let highest: string | undefined;
    for (let page = 0; ; page++) {
      const path = route + encodeURIComponent(pattern);
      const reply = await this.#call({ method: 'GET', path }, o);
      const ctx = { endpoint: reply.endpoint, what: `GET ${path}` };
      const { names, continueAt } = listPage(ctx, reply.headers['content-type'], reply.body, field);
      let pageHighest = highest;
      for (const name of names) {
        if (!name.startsWith(prefix)) continue;
        if (page > 0 && highest !== undefined && name <= highest) continue;
        if (pageHighest === undefined || name > pageHighest) pageHighest = name;
        yield name;
      }
      highest = pageHighest;
      if (continueAt === '' || !continueAt.startsWith(prefix) || continueAt <= pattern) return;
      if (!isValidPattern(continueAt)) throw protocolError(ctx, "field 'continue_at' is not a valid name");
      pattern = continueAt;
    }
  }

  /** An ND-JSON event stream. Ends quietly when the caller aborts, the client closes or the server ends the stream. */
  async *#stream<T>(path: string, decode: (ctx: ReplyContext, v: unknown) => T, o: CallOptions | undefined): AsyncGenerator<T> {
    const signal = o?.signal;
    if (signal?.aborted) return;
    let open: Awaited<ReturnType<Transport['open']>>;
    try {
      open = await this.#transport.open({ method: 'GET', path, signal, timeoutMs: o?.timeoutMs });
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const ctx = { endpoint: open.endpoint, what: `GET ${path}` };
    const res = open.response;
    let buffered = '';
    try {
      res.setEncoding('utf8');
      for await (const chunk of res as AsyncIterable<string>) {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '') yield decode(ctx, jsonValue(ctx, line));
          nl = buffered.indexOf('\n');
        }
        if (buffered.length > MAX_EVENT_BYTES) throw protocolError(ctx, `an event is longer than ${MAX_EVENT_BYTES} bytes`);
      }
      if (buffered.trim() !== '') yield decode(ctx, jsonValue(ctx, buffered));
    } catch (e) {
      if (signal?.aborted || this.#transport.closed) return;
      if (e instanceof KesClientError) throw e;
      throw new KesClientError('ERR_KES_CLIENT_UNREACHABLE', `the log stream from ${open.endpoint} broke: ${(e as Error).message} — try again`, {
        endpoint: open.endpoint,
        cause: e,
      });
    } finally {
      open.close();
    }
  }
}

/**
 * Creates a KES client. Nothing is sent until the first call; TLS settings are checked
 * then. With an API key, the client certificate is made in memory from it.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` for invalid options (no endpoint, `http://`,
 *   both `apiKey` and `cert`, `cert` without `key`, …); `ERR_KES_INVALID_API_KEY` for a
 *   malformed API key
 * @example
 * const client = createKesClient({ endpoints: 'https://127.0.0.1:7373', apiKey: process.env.KES_API_KEY, ca: caPem });
 * await client.createKey('my-key');
 * const { plaintext, ciphertext } = await client.generateKey('my-key');
 * client.close();
 */
export function createKesClient(options: KesClientOptions): KesClient {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const endpoints = parseEndpoints(options.endpoints);
  checkCount(options.timeoutMs, 'timeoutMs', true);
  checkCount(options.retries, 'retries', true);
  checkCount(options.connectTimeoutMs, 'connectTimeoutMs', false);
  if (options.insecure !== undefined && typeof options.insecure !== 'boolean') throw invalid('insecure must be a boolean');

  let cert: string | Buffer | undefined;
  let key: string | Buffer | undefined;
  if (options.apiKey !== undefined) {
    if (options.cert !== undefined || options.key !== undefined) throw invalid('pass either apiKey or cert and key, not both');
    const apiKey = typeof options.apiKey === 'string' ? ApiKey.parse(options.apiKey) : options.apiKey;
    if (!(apiKey instanceof ApiKey)) throw invalid('apiKey must be a kes:v1: string or an ApiKey');
    const made = apiKey.createCertificate();
    cert = made.certificatePem;
    key = made.privateKeyPem;
  } else if (options.cert !== undefined || options.key !== undefined) {
    if (options.cert === undefined || options.key === undefined) throw invalid('cert and key must be given together');
    cert = options.cert;
    key = options.key;
  }
  const ca = options.ca === undefined ? undefined : typeof options.ca === 'string' || Buffer.isBuffer(options.ca) ? [options.ca] : [...options.ca];

  const transport = new Transport({
    endpoints,
    tls: {
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(ca !== undefined ? { ca } : {}),
      // Threat: a man in the middle. Verification is on unless the caller explicitly opts out.
      rejectUnauthorized: options.insecure !== true,
    },
    hasCredentials: cert !== undefined,
    retries: options.retries ?? DEFAULT_RETRIES,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    userAgent: `kes-ts-client/${pkg.version}`,
  });
  return new Client(transport);
}
