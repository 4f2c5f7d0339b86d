/**
 * The in-memory key store: the reference implementation of the `KeyStore`
 * contract, for tests, examples and `kes server --dev`. Keys live in a `Map` and
 * are gone when the process exits or the store is closed.
 */
import { KesError } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { copyBytes } from './internal/bytes.js';
import { checkCall } from './internal/call.js';
import { listPage } from './internal/list.js';
import { checkRecordName, checkRecordRef } from './internal/record-id.js';

/** Options of {@link createMemoryKeyStore}. */
export interface MemoryKeyStoreOptions {
  /** Keys the store starts with (values are copied). */
  readonly initial?: Iterable<readonly [string, Uint8Array]>;
}

class MemoryKeyStore implements KeyStore {
  readonly kind = 'memory';
  #keys = new Map<string, Uint8Array>();
  /** Version records by name, then record id: a namespace apart from `#keys`. */
  #records = new Map<string, Map<string, Uint8Array>>();
  #closed = false;
  readonly versions: KeyVersionStore;

  constructor(initial: Iterable<readonly [string, Uint8Array]> | undefined) {
    for (const [name, value] of initial ?? []) {
      if (this.#keys.has(name)) throw new KesError('ERR_KES_KEY_EXISTS');
      this.#keys.set(name, copyBytes(value));
    }
    this.versions = this.#versionStore();
  }

  #versionStore(): KeyVersionStore {
    const records = this.#records;
    const closed = (): boolean => this.#closed;
    return {
      location: 'memory',
      async create(name, id, value, options) {
        checkRecordRef(name, id);
        checkCall(closed(), options?.signal);
        let ring = records.get(name);
        if (ring === undefined) records.set(name, (ring = new Map()));
        if (ring.has(id)) throw new KesError('ERR_KES_KEY_EXISTS');
        ring.set(id, copyBytes(value));
      },
      async get(name, id, options) {
        checkRecordRef(name, id);
        checkCall(closed(), options?.signal);
        const value = records.get(name)?.get(id);
        if (value === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
        return copyBytes(value);
      },
      async delete(name, id, options) {
        checkRecordRef(name, id);
        checkCall(closed(), options?.signal);
        const ring = records.get(name);
        const value = ring?.get(id);
        if (ring === undefined || value === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
        value.fill(0);
        ring.delete(id);
        if (ring.size === 0) records.delete(name);
      },
      async list(name, options) {
        checkRecordName(name);
        checkCall(closed(), options?.signal);
        return [...(records.get(name)?.keys() ?? [])];
      },
    };
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    checkCall(this.#closed, options?.signal);
    // Check and insert happen in one synchronous step, so concurrent creates cannot both win.
    if (this.#keys.has(name)) throw new KesError('ERR_KES_KEY_EXISTS');
    // Copy in: a caller mutating its buffer later must not change the stored key.
    this.#keys.set(name, copyBytes(value));
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    checkCall(this.#closed, options?.signal);
    const value = this.#keys.get(name);
    if (value === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    // Copy out: a caller mutating (or zeroing) the result must not change the stored key.
    return copyBytes(value);
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    checkCall(this.#closed, options?.signal);
    if (!this.#keys.delete(name)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    checkCall(this.#closed, options?.signal);
    return listPage(this.#keys.keys(), prefix, { limit: options?.limit, continueAt: options?.continueAt });
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    return { latencyMs: 0 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const value of this.#keys.values()) value.fill(0); // wipe key material we own
    this.#keys.clear();
    for (const ring of this.#records.values()) for (const value of ring.values()) value.fill(0);
    this.#records.clear();
  }
}

/**
 * Creates an in-memory key store (`kind` = `'memory'`). Values are copied in and
 * out, so callers can neither change nor observe the stored bytes through their
 * buffers. Names are not validated: the store has no namespace to escape.
 * `list` pages at 1024 names like the other stores.
 *
 * @throws ERR_KES_KEY_EXISTS if `initial` names a key twice
 * @example
 * const store = createMemoryKeyStore();
 * await store.create('my-key', value);
 */
export function createMemoryKeyStore(options: MemoryKeyStoreOptions = {}): KeyStore {
  return new MemoryKeyStore(options.initial);
}
