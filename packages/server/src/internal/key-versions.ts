/**
 * Key versions in the key store (docs/key-rotation.md): loading a key's ring from its
 * version records, rotating, writing version settings, deleting versions.
 *
 * Records (see `KeyVersionStore` in @kes/core): id `"N"` holds version N ≥ 2, ids
 * `c1`, `c2`, … hold the settings (the highest readable one wins). Every record names
 * the version 1 it belongs to (`binding`); records of an earlier key of the same name
 * (deleted and re-created by a server that knows nothing of versions) are ignored.
 * All writes are create-only, so servers sharing a store never overwrite each other.
 */
import {
  DEFAULT_KEY_RING_SETTINGS,
  KEY_VERSION_BINDING_LABEL,
  KesError,
  KeyRing,
  MasterKey,
  encodeKeyRingSettings,
  encodeKeyVersionRecord,
  isKesError,
  parseKeyRingSettings,
  parseKeyVersion,
  parseKeyVersionRecord,
} from '@kes/core';
import type { KeyRingSettings, KeyStore, KeyVersionStore } from '@kes/core';

/** How often a rotation or settings write retries after losing a create race. */
const MAX_ATTEMPTS = 16;
/** Settings record ids: `c` and a sequence number. */
const SETTINGS_ID = /^c([1-9][0-9]{0,14})$/;

/** A key's records as listed: version numbers and settings sequence numbers. */
interface RecordIds {
  readonly versions: number[];
  readonly settings: number[];
}

function splitIds(ids: readonly string[]): RecordIds {
  const versions: number[] = [];
  const settings: number[] = [];
  for (const id of ids) {
    const m = SETTINGS_ID.exec(id);
    if (m) settings.push(Number(m[1]));
    else {
      const v = parseKeyVersion(id);
      if (v !== undefined && v >= 2 && String(v) === id) versions.push(v);
    }
  }
  return { versions, settings };
}

/** The binding every record of `base`'s versions carries. */
export function bindingOf(base: MasterKey): string {
  return base.bindingTag(KEY_VERSION_BINDING_LABEL);
}

/** Something to tell the server log about (stale records). */
export type VersionWarn = (message: string) => void;

/**
 * The ring of `name` whose version 1 is `base`: reads its records. Takes ownership of
 * `base` (destroyed if loading fails).
 *
 * @throws whatever the version store throws (a store failure), or `ERR_KES_INVALID_KEY_ENCODING`
 *   for a record of this key that cannot be read
 */
export async function loadKeyRing(versions: KeyVersionStore, name: string, base: MasterKey, warn?: VersionWarn): Promise<KeyRing> {
  const loaded = new Map<number, MasterKey>();
  try {
    const ids = splitIds(await versions.list(name));
    if (ids.versions.length === 0 && ids.settings.length === 0) return KeyRing.of(base);
    const binding = bindingOf(base);
    let highestSeen = 1;
    await Promise.all(
      ids.versions.map(async (v) => {
        highestSeen = Math.max(highestSeen, v);
        let value: Uint8Array;
        try {
          value = await versions.get(name, String(v));
        } catch (e) {
          if (isKesError(e, 'ERR_KES_KEY_NOT_FOUND')) return; // deleted since the listing
          throw e;
        }
        try {
          const record = parseKeyVersionRecord(value);
          if (record.binding !== binding || record.version !== v) {
            record.key.destroy();
            warn?.(`key '${name}': ignoring version record ${v} of an earlier key with the same name`);
            return;
          }
          loaded.set(v, record.key);
        } finally {
          value.fill(0);
        }
      }),
    );
    const settings = await readSettings(versions, name, ids.settings, binding, warn);
    return new KeyRing(base, loaded, settings, highestSeen);
  } catch (e) {
    base.destroy();
    for (const k of loaded.values()) k.destroy();
    throw e;
  }
}

/**
 * Reads version `version` of `ring`'s key: its key if the record exists and belongs to
 * this version 1, else `undefined` (a stale record is reported through `warn`).
 *
 * @throws store failures as they are
 */
export async function readVersion(
  versions: KeyVersionStore,
  name: string,
  ring: KeyRing,
  version: number,
  warn?: VersionWarn,
): Promise<MasterKey | undefined> {
  let value: Uint8Array;
  try {
    value = await versions.get(name, String(version));
  } catch (e) {
    if (isKesError(e, 'ERR_KES_KEY_NOT_FOUND')) return undefined;
    throw e;
  }
  try {
    const record = parseKeyVersionRecord(value);
    if (record.binding !== bindingOf(ring.base) || record.version !== version) {
      record.key.destroy();
      warn?.(`key '${name}': ignoring version record ${version} of an earlier key with the same name`);
      return undefined;
    }
    return record.key;
  } finally {
    value.fill(0);
  }
}

/** The newest settings record of this key (by sequence), or the defaults. */
async function readSettings(versions: KeyVersionStore, name: string, seqs: number[], binding: string, warn?: VersionWarn): Promise<KeyRingSettings> {
  for (const seq of [...seqs].sort((a, b) => b - a)) {
    let value: Uint8Array;
    try {
      value = await versions.get(name, `c${seq}`);
    } catch (e) {
      if (isKesError(e, 'ERR_KES_KEY_NOT_FOUND')) continue; // replaced and removed since the listing
      throw e;
    }
    const { settings, binding: owner } = parseKeyRingSettings(value);
    if (owner !== binding) {
      warn?.(`key '${name}': ignoring version settings c${seq} of an earlier key with the same name`);
      continue;
    }
    return settings;
  }
  return DEFAULT_KEY_RING_SETTINGS;
}

/** Reads version 1 and the ring of `name` straight from the store (no cache). */
export async function readKeyRing(store: KeyStore, name: string, signal?: AbortSignal, warn?: VersionWarn): Promise<KeyRing> {
  const value = await store.get(name, signal ? { signal } : undefined);
  let base: MasterKey;
  try {
    base = MasterKey.parse(value);
  } finally {
    value.fill(0);
  }
  if (store.versions === undefined) return KeyRing.of(base);
  return loadKeyRing(store.versions, name, base, warn);
}

/** The outcome of a rotation. */
export interface Rotated {
  readonly version: number;
  readonly key: MasterKey;
}

/**
 * Adds a version to `name`: `material` (an imported key) or a new random key of
 * version 1's type. Tries `ring.nextVersion`; when another server created that number
 * first, `retry` decides: the rotate route takes the next number (two rotations give
 * two versions), automatic rotation stops (the other server already rotated).
 * The caller destroys `ring`; the returned key is the caller's to destroy.
 *
 * @returns the new version, or `undefined` when a race was lost and `retry` is false
 * @throws `ERR_KES_ROTATE_CONFLICT` after {@link MAX_ATTEMPTS} lost races; store errors as they are
 */
export async function rotateKeyRing(
  versions: KeyVersionStore,
  name: string,
  ring: KeyRing,
  make: () => MasterKey,
  options: { retry: boolean; signal?: AbortSignal },
): Promise<Rotated | undefined> {
  const binding = bindingOf(ring.base);
  let version = ring.nextVersion;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++, version++) {
    const key = make();
    const value = encodeKeyVersionRecord(version, key, binding);
    try {
      await versions.create(name, String(version), value, options.signal ? { signal: options.signal } : undefined);
      return { version, key };
    } catch (e) {
      key.destroy();
      if (!isKesError(e, 'ERR_KES_KEY_EXISTS')) throw e;
      if (!options.retry) return undefined;
    } finally {
      value.fill(0);
    }
  }
  throw new KesError('ERR_KES_ROTATE_CONFLICT');
}

/**
 * Writes new settings as the next `c<seq>` record (create-only), then removes the older
 * settings records. `change` computes the new settings from the current ring and may
 * throw to refuse them; it runs again on a fresh ring after a lost race.
 */
export async function writeKeyRingSettings(
  store: KeyStore & { versions: KeyVersionStore },
  name: string,
  change: (ring: KeyRing) => KeyRingSettings,
  signal?: AbortSignal,
  warn?: VersionWarn,
): Promise<KeyRingSettings> {
  const versions = store.versions;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const ring = await readKeyRing(store, name, signal, warn);
    try {
      const next = change(ring);
      const ids = splitIds(await versions.list(name, signal ? { signal } : undefined));
      const seq = Math.max(0, ...ids.settings) + 1;
      try {
        await versions.create(name, `c${seq}`, encodeKeyRingSettings(next, bindingOf(ring.base)), signal ? { signal } : undefined);
      } catch (e) {
        if (isKesError(e, 'ERR_KES_KEY_EXISTS')) continue;
        throw e;
      }
      for (const old of ids.settings) await versions.delete(name, `c${old}`).catch(() => undefined);
      return next;
    } finally {
      ring.destroy();
    }
  }
  throw new KesError('ERR_KES_ROTATE_CONFLICT');
}

/**
 * Removes every record of `name` (versions first, settings last), before its version 1
 * is deleted, so a crash cannot leave a live key with half its versions.
 */
export async function deleteKeyRecords(versions: KeyVersionStore, name: string, signal?: AbortSignal): Promise<void> {
  const ids = splitIds(await versions.list(name, signal ? { signal } : undefined));
  const order = [...ids.versions.sort((a, b) => b - a).map(String), ...ids.settings.map((s) => `c${s}`)];
  for (const id of order) {
    try {
      await versions.delete(name, id, signal ? { signal } : undefined);
    } catch (e) {
      if (!isKesError(e, 'ERR_KES_KEY_NOT_FOUND')) throw e;
    }
  }
}
