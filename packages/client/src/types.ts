/**
 * What the client takes and returns. Reply fields follow the server's JSON (kes-protocol.md
 * §4) with snake_case turned into camelCase; times are `Date`s when they parse as RFC 3339.
 */
import type { ApiKey, KeyAlgorithm } from '@kes/core';

/** Options of `createKesClient()`. Pass an API key, or a certificate and its key, or neither (for `/version` only). */
export interface KesClientOptions {
  /**
   * One or more servers: `https://host:7373`, or `host:7373` (https is implied). A string
   * may list several separated by commas, like `KES_SERVER`. A base path is kept
   * (`https://proxy/kes`). Plain `http://` is refused: KES speaks HTTPS only.
   */
  endpoints: string | readonly string[];
  /** An API key (`kes:v1:…` or an `ApiKey`): the client certificate is made from it in memory. */
  apiKey?: string | ApiKey;
  /** PEM client certificate (alternative to `apiKey`; needs `key`). */
  cert?: string | Buffer;
  /** PEM private key of `cert`. */
  key?: string | Buffer;
  /** Trust anchors (PEM) for the server certificate; default: Node's root CAs. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Skip verification of the server certificate (`kes -k`). For test servers only: anyone in the path can impersonate the server. */
  insecure?: boolean;
  /** Deadline of one call in milliseconds, retries included (default 15 000; `0` = none). Log streams: until the stream opens. */
  timeoutMs?: number;
  /** How many more times a call is tried, on the next endpoint, after a connection failure or a 503 (default 2). */
  retries?: number;
  /** Longest a new connection may take (TCP and TLS handshake) before the next endpoint is tried, in ms (default 5 000). */
  connectTimeoutMs?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call; the promise rejects with the signal's reason (a log stream just ends). */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** `GET /version`. */
export interface ServerVersion {
  version: string;
  commit: string;
}

/** `GET /v1/status`. */
export interface ServerStatus {
  version: string;
  /** Go's names: `linux`, `darwin`, `windows`, … */
  os: string;
  /** Go's names: `amd64`, `arm64`, … */
  arch: string;
  /** Seconds since the server started. */
  uptime: number;
  numCpu: number;
  numCpuUsed: number;
  memHeapUsed: number;
  memStackUsed: number;
  /** Key-store latency in milliseconds; absent when the key store is unreachable. */
  keystoreLatency?: number;
  /** `true` when the key store could not be reached. */
  keystoreUnreachable?: boolean;
  /** Sent by kes-ts (and expected by kms-go) alongside `keystoreUnreachable`. */
  keystoreUnavailable?: boolean;
}

/** One entry of `GET /v1/api`. */
export interface ApiRoute {
  method: string;
  path: string;
  /** Largest request body in bytes. */
  maxBody: number;
  /** Route timeout in seconds (0 = none). */
  timeout: number;
}

/** `GET /v1/key/describe/<name>`. */
export interface KeyInfo {
  name: string;
  /** `AES256` or `ChaCha20` (older servers' `AES256-GCM_SHA256` / `XCHACHA20-POLY1305` are normalised). */
  algorithm: KeyAlgorithm | string;
  /** A `Date`, or the server's text if it is not RFC 3339. Version 1's for a rotated key. */
  createdAt: Date | string;
  /** Identity that created the key; `''` when the server does not say (legacy keys). */
  createdBy: string;
  /** The latest {@link KeyVersion}; present only for a key that has been rotated (absent means `"1"`). */
  version?: KeyVersion;
}

/**
 * A key version as the API writes it: a decimal string, `"1"` for the key as created, then
 * `"2"`, `"3"`, … for each rotation. Strings, as on the wire (kms-go decodes them as
 * strings); compare them with `Number(v)`, not as text (`"10" < "9"`).
 */
export type KeyVersion = string;

/**
 * A key version a caller passes in: `"2"`, `"v2"` or the number `2` (1 to 4294967295).
 * It is checked before anything is sent and sent as decimal text.
 */
export type KeyVersionInput = string | number;

/** Per-call options of the key operations that can use a given key version. */
export interface KeyCallOptions extends CallOptions {
  /**
   * The key version to use. Default: the key's encryption default (the latest, unless
   * `minEncryptionVersion` pins one) for `generateKey`, `encrypt` and `rewrap`; version 1
   * for `hmac`; for `decrypt` it is only a hint (versioned ciphertexts name their version).
   * A version other than 1 needs a server with key versions enabled.
   */
  version?: KeyVersionInput;
}

/**
 * Bytes from `encrypt` or `hmac`, with the key version that made them as a non-enumerable
 * `version` property. `version` is set only when the server says: for a rotated key
 * (`encrypt`), or a version other than 1 (`hmac`). The value is an ordinary `Uint8Array`.
 */
export type VersionedBytes = Uint8Array & { readonly version?: KeyVersion };

/** A key to import: 32 bytes and the cipher they are for (default `AES256`). */
export interface ImportKeyInput {
  bytes: Uint8Array;
  cipher?: 'AES256' | 'ChaCha20';
}

/** A data key from `generateKey`: use `plaintext`, store `ciphertext`, then wipe `plaintext`. */
export interface GeneratedKey {
  plaintext: Uint8Array;
  ciphertext: Uint8Array;
  /** The key version that encrypted `ciphertext`; present only for a rotated key. */
  version?: KeyVersion;
}

/** `PUT /v1/key/rotate/<name>`: the version a rotation created. */
export interface KeyVersionInfo {
  name: string;
  /** The new version, e.g. `"2"`. */
  version: KeyVersion;
  createdAt: Date | string;
  /** Identity that rotated the key; `''` when the server does not say. */
  createdBy: string;
}

/**
 * What a key version may still do: `active` (encrypt and decrypt), `decrypt-only`
 * (decrypt only, e.g. below `minEncryptionVersion`), `disabled` (neither: below
 * `minDecryptionVersion`). Other text is passed on as the server sent it.
 */
export type KeyVersionState = 'active' | 'decrypt-only' | 'disabled';

/** One version in {@link KeyVersions}. */
export interface KeyVersionEntry {
  version: KeyVersion;
  algorithm: KeyAlgorithm | string;
  createdAt: Date | string;
  /** `''` when the server does not say. */
  createdBy: string;
  state: KeyVersionState | string;
}

/** `GET /v1/key/versions/<name>`: every version of a key and its version settings. */
export interface KeyVersions {
  name: string;
  /** The highest version (`"1"` for a key never rotated). */
  latest: KeyVersion;
  /** Versions below this cannot decrypt (`"1"`: all can). */
  minDecryptionVersion: KeyVersion;
  /** Versions below this may not encrypt; `"0"`: no limit. */
  minEncryptionVersion: KeyVersion;
  /** The version that encrypts now (the latest, or the pinned `encryptionVersion`); absent if the server does not say. */
  encryptionVersion?: KeyVersion;
  /** Sorted by version, ascending; deleted versions are absent. */
  versions: KeyVersionEntry[];
}

/** Input of `configureKeyVersions`: a field left out keeps its current value. */
export interface KeyVersionConfigInput {
  /** Versions below this can no longer decrypt (at least 1). */
  minDecryptionVersion?: KeyVersionInput;
  /** Versions below this may not encrypt: `0` for no limit; else at least `minDecryptionVersion`. */
  minEncryptionVersion?: KeyVersionInput;
  /**
   * Encrypt with exactly this version instead of the latest (`0`: the latest). Pinning
   * version 1 prepares a downgrade to upstream KES, which reads only version 1.
   */
  encryptionVersion?: KeyVersionInput;
}

/** `PUT /v1/key/version/config/<name>`: the settings now in force. */
export interface KeyVersionConfig {
  name: string;
  minDecryptionVersion: KeyVersion;
  minEncryptionVersion: KeyVersion;
  /** The pinned encryption version, `"0"` when none (the latest encrypts); absent if the server does not say. */
  encryptionVersion?: KeyVersion;
}

/** `PUT /v1/key/rewrap/<name>`: the same plaintext, encrypted under `version`. */
export interface RewrapResult {
  ciphertext: Uint8Array;
  version: KeyVersion;
}

/** `GET /v1/policy/describe/<name>`. */
export interface PolicyInfo {
  name: string;
  createdAt: Date | string;
  createdBy: string;
}

/** `GET /v1/policy/read/<name>`: the policy's allow and deny patterns. */
export interface Policy {
  name: string;
  allow: string[];
  deny: string[];
  createdAt: Date | string;
  createdBy: string;
}

/** `GET /v1/identity/describe/<identity>`. */
export interface IdentityInfo {
  identity: string;
  /** True for the admin identity. */
  admin: boolean;
  /** The policy the identity is bound to; `''` for the admin. */
  policy: string;
  createdAt: Date | string;
  createdBy: string;
}

/** `GET /v1/identity/self/describe`: who the server thinks this client is. */
export interface SelfInfo {
  identity: string;
  admin: boolean;
  createdAt: Date | string;
  createdBy: string;
  /** The caller's policy (absent for the admin). */
  policy?: Policy;
}

/** One audit record from `GET /v1/log/audit`. */
export interface AuditEvent {
  /** RFC 3339 time, as the server wrote it. */
  time: string;
  request: { ip?: string; path: string; identity?: string };
  /** `code` is the HTTP status; `time` the response time in milliseconds. */
  response: { code: number; time: number };
}

/** One record from `GET /v1/log/error`: a slog-style text line. */
export interface ErrorEvent {
  message: string;
}
