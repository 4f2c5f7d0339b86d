/**
 * The key-store contract. A key store is a plain name → bytes map; the KES server
 * stores one encoded key version (see `encodeKeyVersion`) per name.
 */

/** Options every key-store call accepts. */
export interface KeyStoreCallOptions {
  /** Aborts the call; an aborted call rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Result of `KeyStore.status()`. */
export interface KeyStoreStatus {
  /** Round-trip time of the probe in milliseconds. */
  readonly latencyMs: number;
}

/** One page of names from `KeyStore.list()`. */
export interface KeyStoreListResult {
  /** Matching names, sorted ascending. */
  readonly names: string[];
  /** First name of the next page, or `''` when the listing is complete. */
  readonly continueAt: string;
}

/**
 * A place where KES keeps its keys.
 *
 * Contract (every implementation MUST follow it; `@kes/keystores` has a contract
 * test suite that checks it):
 * - `create` MUST be atomic: if `name` exists it MUST fail with
 *   `ERR_KES_KEY_EXISTS`, and of many concurrent creates of one name exactly one
 *   succeeds. It MUST NOT leave a partially written value behind.
 * - `get` MUST fail with `ERR_KES_KEY_NOT_FOUND` for a missing name.
 * - `delete` MUST fail with `ERR_KES_KEY_NOT_FOUND` for a missing name.
 * - `list(prefix)` MUST return the names starting with `prefix`, sorted. It MAY
 *   page (`continueAt`); callers that need everything call again with
 *   `{ continueAt }`.
 * - A backend failure (network, 5xx, throttling, timeout) MUST be reported as
 *   `ERR_KES_KEYSTORE_UNAVAILABLE` (or `ERR_KES_KEYSTORE_UNREACHABLE` when the
 *   backend cannot be reached at all) with the detail as `cause`, never as
 *   `ERR_KES_KEY_NOT_FOUND`.
 * - Names passed in are already valid KES names (see `isValidName`), but an
 *   implementation SHOULD re-check anything that could escape its namespace.
 * - After `close()` every call SHOULD fail with `ERR_KES_KEYSTORE_UNAVAILABLE`.
 * - Error messages and causes MUST NOT contain key values.
 * - Buffers are never shared: `create` MUST copy what it keeps and MUST NOT
 *   read `value` after its promise settles, because the server wipes `value`
 *   then; `get` MUST return a buffer that the caller owns, because the server
 *   wipes it after parsing.
 */
export interface KeyStore {
  /** A short name for logs and the start-up banner, e.g. `fs:/var/kes/keys`. */
  readonly kind: string;
  /** Stores `value` under `name`; fails with `ERR_KES_KEY_EXISTS` if present. */
  create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void>;
  /** Returns the value under `name`; fails with `ERR_KES_KEY_NOT_FOUND` if absent. */
  get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array>;
  /** Removes `name`; fails with `ERR_KES_KEY_NOT_FOUND` if absent. */
  delete(name: string, options?: KeyStoreCallOptions): Promise<void>;
  /** Lists names starting with `prefix` (sorted). */
  list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult>;
  /** Probes the backend; fails with `ERR_KES_KEYSTORE_UNREACHABLE`/`…_UNAVAILABLE` when it is down. */
  status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus>;
  /** Releases connections, timers and files. Idempotent. */
  close(): Promise<void>;
  /**
   * Where the records of rotated keys live (versions ≥ 2 and version settings); absent
   * for a store that cannot keep them. See {@link KeyVersionStore}.
   */
  readonly versions?: KeyVersionStore;
}

/**
 * The records a key gains when it is rotated (docs/key-rotation.md): one immutable
 * record per version ≥ 2 (id `"2"`, `"3"`, …) and the version settings (ids `c1`,
 * `c2`, …, the highest wins). Version 1 stays the plain key under `name` in the
 * {@link KeyStore}, untouched.
 *
 * Contract (the version-record contract suite in `@kes/keystores` checks it):
 * - Records live where upstream KES never lists or reads: `KeyStore.list` MUST NOT
 *   return them and they MUST NOT collide with any valid key name.
 * - `create` MUST be atomic and create-only, exactly like `KeyStore.create`: of many
 *   concurrent creates of one (name, id) exactly one succeeds, the rest fail with
 *   `ERR_KES_KEY_EXISTS`; nothing partial is left behind.
 * - `get` and `delete` fail with `ERR_KES_KEY_NOT_FOUND` for a missing record.
 * - `list(name)` returns the ids of `name`'s records (any order), `[]` if none; the
 *   records of other names never appear, even names that share a prefix.
 * - Ids are 1–16 characters of `0-9 a-z`; anything else MUST be refused with
 *   `ERR_KES_INVALID_ARGUMENT` before any I/O.
 * - Failures, buffer ownership and secrecy follow the `KeyStore` contract.
 */
export interface KeyVersionStore {
  /** Where the records live, for the start-up banner, e.g. `fs:/var/kes/keys.versions`. */
  readonly location: string;
  /** Stores record `id` of key `name`; fails with `ERR_KES_KEY_EXISTS` if present. */
  create(name: string, id: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void>;
  /** Returns record `id` of key `name`; fails with `ERR_KES_KEY_NOT_FOUND` if absent. */
  get(name: string, id: string, options?: KeyStoreCallOptions): Promise<Uint8Array>;
  /** Removes record `id` of key `name`; fails with `ERR_KES_KEY_NOT_FOUND` if absent. */
  delete(name: string, id: string, options?: KeyStoreCallOptions): Promise<void>;
  /** The ids of `name`'s records, in any order. */
  list(name: string, options?: KeyStoreCallOptions): Promise<string[]>;
}

const RECORD_ID = /^[0-9a-z]{1,16}$/;

/** True if `id` is a valid version-record id (1–16 characters of `0-9 a-z`). */
export function isValidRecordId(id: string): boolean {
  return typeof id === 'string' && RECORD_ID.test(id);
}

/** Options of `KeyStore.list()`. */
export interface KeyStoreListOptions extends KeyStoreCallOptions {
  /** Continue a paged listing at this name (inclusive). */
  readonly continueAt?: string;
  /** Maximum number of names; `<= 0` or absent means the backend's default page. */
  readonly limit?: number;
}

/** Lists every name with `prefix`, following `continueAt` pages. */
export async function listAll(store: KeyStore, prefix: string, options?: KeyStoreCallOptions): Promise<string[]> {
  const names: string[] = [];
  let continueAt: string | undefined;
  for (;;) {
    const page = await store.list(prefix, { ...options, ...(continueAt ? { continueAt } : {}) });
    names.push(...page.names);
    if (!page.continueAt || page.continueAt === continueAt) return names;
    continueAt = page.continueAt;
  }
}
