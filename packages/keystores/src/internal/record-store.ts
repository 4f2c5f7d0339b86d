/**
 * The `KeyVersionStore` of a store with one flat namespace of objects (AWS, GCP, Azure,
 * CipherTrust, Fortanix, Entrust): a record is an object next to the keys, named by a
 * {@link RecordNaming} so that it can never be a key, and created, read and deleted
 * with the store's own operations on one object, exactly like a key's.
 */
import type { KeyStoreCallOptions, KeyVersionStore } from '@kes/core';
import { checkCall } from './call.js';
import { checkRecordName, checkRecordRef } from './record-id.js';
import type { RecordNaming } from './record-name.js';

/** What {@link recordStoreOver} takes from its key store. */
export interface RecordStoreOptions {
  /** `KeyVersionStore.location`, e.g. `<kind> secrets <name>/versions/<id>`. */
  readonly location: string;
  /** How a record's object is named, and recognised in a walk. */
  readonly naming: RecordNaming;
  /** True once the key store is closed. */
  readonly closed: () => boolean;
  /**
   * A further refusal of a key name, after the common checks (valid name and id, not
   * aborted, not closed) and before any I/O; throws `ERR_KES_INVALID_ARGUMENT`.
   */
  readonly checkName?: (name: string) => void;
  /** Creates object `object` holding `value`, create-only; `ERR_KES_KEY_EXISTS` if taken. */
  readonly create: (object: string, value: Uint8Array, signal: AbortSignal | undefined) => Promise<void>;
  /** Reads object `object`; `ERR_KES_KEY_NOT_FOUND` if absent. */
  readonly get: (object: string, signal: AbortSignal | undefined) => Promise<Uint8Array>;
  /** Deletes object `object`; `ERR_KES_KEY_NOT_FOUND` if absent. */
  readonly delete: (object: string, signal: AbortSignal | undefined) => Promise<void>;
  /**
   * Calls `visit` with every object name that may be a record of key `name`: all names
   * of the namespace, or a superset of `name`'s records where the service can filter.
   * Only the names `naming.id` recognises count; one seen twice counts once.
   */
  readonly walk: (signal: AbortSignal | undefined, visit: (object: string) => void, name: string) => Promise<void>;
}

/**
 * A `KeyVersionStore` over one flat namespace. Every call checks, before any I/O and in
 * this order: the key name and id (`checkRecordRef`, `list`: `checkRecordName`), the
 * signal and the closed store (`checkCall`), then `checkName`.
 *
 * @example
 * this.versions = recordStoreOver({
 *   location: `${this.kind} secrets <name>.versions.<id>`,
 *   naming: separatedNaming('.'),
 *   closed: () => this.#closed,
 *   create: (secret, value, signal) => this.#createSecret(secret, value, signal),
 *   get: (secret, signal) => this.#getSecret(secret, signal),
 *   delete: (secret, signal) => this.#deleteSecret(secret, signal),
 *   walk: (signal, visit) => this.#secretNames(signal, visit),
 * });
 */
export function recordStoreOver(o: RecordStoreOptions): KeyVersionStore {
  const enter = (name: string, options: KeyStoreCallOptions | undefined): void => {
    checkCall(o.closed(), options?.signal);
    o.checkName?.(name);
  };
  const object = (name: string, id: string, options: KeyStoreCallOptions | undefined): string => {
    checkRecordRef(name, id);
    enter(name, options);
    return o.naming.name(name, id);
  };
  return {
    location: o.location,
    create: async (name, id, value, options) => {
      await o.create(object(name, id, options), value, options?.signal);
    },
    get: async (name, id, options) => o.get(object(name, id, options), options?.signal),
    delete: async (name, id, options) => {
      await o.delete(object(name, id, options), options?.signal);
    },
    list: async (name, options) => {
      checkRecordName(name);
      enter(name, options);
      const ids = new Set<string>();
      const visit = (candidate: string): void => {
        const id = o.naming.id(name, candidate);
        if (id !== undefined) ids.add(id);
      };
      await o.walk(options?.signal, visit, name);
      return [...ids];
    },
  };
}
