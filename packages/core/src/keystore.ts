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
