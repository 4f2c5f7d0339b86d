/**
 * The key cache (spec §10): parsed keys by name, as `KeyRing`s (version 1 and, with key
 * versions on, the versions ≥ 2 and their settings), single-flight fetches on misses,
 * periodic bulk sweeps (`any`, `unused`, `offline`) and a key-store probe that
 * maintains the "offline" flag. Evicted keys are zeroed with `destroy()`.
 */
import { KesError, KeyRing, MasterKey, isKesError } from '@kes/core';
import type { KeyStore, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import type { CacheOptions } from '../options.js';
import { loadKeyRing, readVersion } from './key-versions.js';
import type { VersionWarn } from './key-versions.js';

/** Probe interval while the store is offline (see `KeyCache.#setOffline`). */
const OFFLINE_PROBE_MS = 500;
/** Longest a probe may take before the store counts as unreachable. */
const PROBE_TIMEOUT_MS = 5_000;

interface Entry {
  readonly key: KeyRing;
  used: boolean;
  /** `performance.now()` when it was read from the store. */
  readonly loadedAt: number;
}

/** How far past the newest version seen `withVersion` looks for a version (see there). */
const VERSION_LOOKAHEAD = 64;

/** Effective cache settings in milliseconds. */
export interface ResolvedCacheOptions {
  readonly expiryAnyMs: number;
  readonly expiryUnusedMs: number;
  readonly expiryOfflineMs: number;
  readonly probeIntervalMs: number;
  /** Read version records too (key versions on). */
  readonly loadVersions: boolean;
}

/** Defaults as documented upstream (5 m / 30 s / off, probe every 10 s). */
export function resolveCacheOptions(o: CacheOptions | undefined, loadVersions = false): ResolvedCacheOptions {
  const pick = (v: number | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v < 0) throw new KesError('ERR_KES_INVALID_ARGUMENT', [`cache: ${what} must not be negative`]);
    return v;
  };
  return {
    expiryAnyMs: pick(o?.expiryAnyMs, 5 * 60_000, 'expiry.any'),
    expiryUnusedMs: pick(o?.expiryUnusedMs, 30_000, 'expiry.unused'),
    expiryOfflineMs: pick(o?.expiryOfflineMs, 0, 'expiry.offline'),
    probeIntervalMs: pick(o?.probeIntervalMs, 10_000, 'probeIntervalMs'),
    loadVersions,
  };
}

/** Cached access to one key store. */
export class KeyCache {
  readonly store: KeyStore;
  readonly options: ResolvedCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<KeyRing>>();
  /** Single-flight lookups of one version (see `withVersion`), by `name\0version`. */
  readonly #versionFlights = new Map<string, Promise<KeyRing>>();
  readonly #timers: NodeJS.Timeout[] = [];
  #offline = false;
  #closed = false;
  #probing: Promise<void> | undefined;
  /** Timers that run only while the store is offline (see #setOffline). */
  readonly #offlineTimers: NodeJS.Timeout[] = [];
  /** Bumped by bulk evictions and deletes, so a fetch that raced one does not re-insert a stale key. */
  #generation = 0;

  /** Where warnings about stale version records go (the server log). */
  warn: VersionWarn | undefined;

  constructor(store: KeyStore, options: ResolvedCacheOptions) {
    this.store = store;
    this.options = options;
    const { expiryAnyMs: any, expiryUnusedMs: unused, expiryOfflineMs: offline, probeIntervalMs } = options;
    // The `offline` sweep runs only while the store is offline, see #setOffline.
    const holdWhileOffline = (): boolean => this.#offline && offline > 0;
    if (any > 0)
      this.#every(any, () => {
        if (!holdWhileOffline()) this.clear();
      });
    if (unused > 0)
      this.#every(Math.max(1, unused / 2), () => {
        if (!holdWhileOffline()) this.#sweepUnused();
      });
    if (probeIntervalMs > 0) this.#every(probeIntervalMs, () => void this.#probe());
  }

  /** True while the last key-store probe failed. */
  get offline(): boolean {
    return this.#offline;
  }

  /** Number of cached keys (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The cached key, marked used; `undefined` on a miss. Synchronous fast path. */
  peek(name: string): KeyRing | undefined {
    const e = this.#entries.get(name);
    if (e === undefined) return undefined;
    e.used = true;
    return e.key;
  }

  /**
   * The key `name`, from the cache or (single-flight per name) from the store.
   * Errors are not cached.
   *
   * @throws whatever the key store or `MasterKey.parse` throws.
   */
  get(name: string, signal?: AbortSignal): Promise<KeyRing> {
    const hit = this.peek(name);
    if (hit) return Promise.resolve(hit);
    return this.#single(name, signal);
  }

  /**
   * The key `name` holding `version` if the store has it: a version the cached ring lacks
   * was made by another server since it was read. Only that one record is read (as a
   * miss on an unknown key name costs one read), and only for versions at most
   * {@link VERSION_LOOKAHEAD} past the newest one seen, so made-up versions cannot make a
   * request expensive. A record that is missing or belongs to an earlier key of the
   * same name leaves the ring as it is.
   */
  async withVersion(name: string, version: number, signal?: AbortSignal): Promise<KeyRing> {
    const ring = await this.get(name, signal);
    const versions = this.options.loadVersions ? this.store.versions : undefined;
    if (ring.key(version) !== undefined || versions === undefined || version > ring.highestSeen + VERSION_LOOKAHEAD) return ring;
    const flight = `${name}\0${version}`;
    let p = this.#versionFlights.get(flight);
    if (p === undefined) {
      p = this.#addVersion(versions, name, ring, version);
      this.#versionFlights.set(flight, p);
      const clear = (): void => {
        this.#versionFlights.delete(flight);
      };
      p.then(clear, clear);
    }
    return p;
  }

  async #addVersion(versions: KeyVersionStore, name: string, ring: KeyRing, version: number): Promise<KeyRing> {
    const gen = this.#generation;
    const key = await readVersion(versions, name, ring, version, this.warn);
    if (key === undefined) return ring;
    const grown = ring.withVersion(version, key);
    const e = this.#entries.get(name);
    if (this.#closed || gen !== this.#generation || e === undefined || e.key !== ring) {
      // Raced an eviction or a reload: serve it once; zero only the key read here, the
      // others belong to the ring still cached (or already zeroed with it).
      setImmediate(() => key.destroy());
      return grown;
    }
    // The grown ring takes over the old ring's keys: the old one is dropped, never destroyed.
    this.#entries.set(name, { key: grown, used: true, loadedAt: e.loadedAt });
    return grown;
  }

  #single(name: string, signal: AbortSignal | undefined): Promise<KeyRing> {
    let p = this.#inflight.get(name);
    if (p === undefined) {
      p = this.#fetch(name, signal);
      this.#inflight.set(name, p);
      const clear = (): void => {
        this.#inflight.delete(name);
      };
      p.then(clear, clear);
    }
    return p;
  }

  async #fetch(name: string, signal: AbortSignal | undefined): Promise<KeyRing> {
    const gen = this.#generation;
    // A single-flight fetch is shared: it must not be aborted by one waiter's timeout.
    void signal;
    const value = await this.store.get(name);
    let base: MasterKey;
    try {
      base = MasterKey.parse(value); // copies the key bytes it keeps
    } finally {
      // The encoded key is ours (`get` hands out a buffer the caller owns): wipe it so
      // key material lives only inside the cached ring, which is zeroed on eviction.
      value.fill(0);
    }
    const versions = this.options.loadVersions ? this.store.versions : undefined;
    const key = versions === undefined ? KeyRing.of(base) : await loadKeyRing(versions, name, base, this.warn);
    if (this.#closed || gen !== this.#generation) {
      // Raced an eviction: serve it once, never cache it, zero it afterwards.
      destroyLater(key);
      return key;
    }
    this.#entries.set(name, { key, used: true, loadedAt: performance.now() });
    return key;
  }

  /** Evicts (and zeroes) one key, e.g. after a delete. */
  evict(name: string): void {
    this.#generation++;
    const e = this.#entries.get(name);
    if (e) {
      this.#entries.delete(name);
      destroyLater(e.key);
    }
  }

  /** Drops every cached key. */
  clear(): void {
    this.#generation++;
    for (const e of this.#entries.values()) destroyLater(e.key);
    this.#entries.clear();
  }

  /**
   * Key-store status. While offline it fails at once with `ERR_KES_KEYSTORE_UNREACHABLE`
   * without contacting the store.
   */
  async status(signal?: AbortSignal): Promise<KeyStoreStatus> {
    if (this.#offline) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE');
    return this.store.status(signal ? { signal } : undefined);
  }

  /** Runs one probe now (also used by tests). */
  async probe(): Promise<boolean> {
    await this.#probe();
    return !this.#offline;
  }

  #probe(): Promise<void> {
    // One probe at a time: a hanging store must not collect a pile of pending probes.
    this.#probing ??= this.#probeOnce().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  async #probeOnce(): Promise<void> {
    // A store that hangs (stopped process, black-holed network) is as unreachable as one
    // that refuses connections: bound the probe so the offline flag is set either way.
    const timeout = AbortSignal.timeout(Math.min(Math.max(this.options.probeIntervalMs, OFFLINE_PROBE_MS), PROBE_TIMEOUT_MS));
    try {
      await this.store.status({ signal: timeout });
      this.#setOffline(false);
    } catch (e) {
      // Our own timeout is an outage, whatever the store calls it (the AWS SDK says AbortError);
      // any other AbortError is a shutdown.
      if (timeout.aborted || !(e instanceof Error && e.name === 'AbortError')) this.#setOffline(true);
    }
  }

  /**
   * Entering offline mode starts two timers, stopped when the store answers again:
   * - the `offline` sweep, counted from the moment the outage was detected, so cached keys
   *   keep working for `expiryOfflineMs` after it (a sweep on a fixed grid, as upstream, could
   *   drop them right away), and every `expiryOfflineMs` after that;
   * - a probe every {@link OFFLINE_PROBE_MS} (if that is more often than `probeIntervalMs`), so
   *   `/v1/ready` and `/v1/status` see a store that came back within about a second.
   */
  #setOffline(offline: boolean): void {
    const was = this.#offline;
    this.#offline = offline;
    if (offline === was || this.#closed) return;
    if (offline) {
      const { expiryOfflineMs, probeIntervalMs } = this.options;
      if (expiryOfflineMs > 0) this.#offlineTimers.push(unrefInterval(expiryOfflineMs, () => this.clear()));
      if (probeIntervalMs > OFFLINE_PROBE_MS) this.#offlineTimers.push(unrefInterval(OFFLINE_PROBE_MS, () => void this.#probe()));
    } else {
      this.#stopOfflineTimers();
    }
  }

  #stopOfflineTimers(): void {
    for (const t of this.#offlineTimers) clearInterval(t);
    this.#offlineTimers.length = 0;
  }

  #sweepUnused(): void {
    for (const [name, e] of this.#entries) {
      if (e.used) e.used = false;
      else {
        this.#entries.delete(name);
        destroyLater(e.key);
      }
    }
  }

  #every(ms: number, fn: () => void): void {
    this.#timers.push(unrefInterval(ms, fn));
  }

  /** Stops timers and zeroes every cached key. Does not close the store. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    this.#stopOfflineTimers();
    this.clear();
  }
}

/** A `setInterval` that does not keep the process alive. */
function unrefInterval(ms: number, fn: () => void): NodeJS.Timeout {
  const t = setInterval(fn, ms);
  t.unref();
  return t;
}

/**
 * Zero an evicted key once the current synchronous work is done. A request that
 * already holds the key finishes its crypto in the same tick, so deferring to
 * the next macrotask keeps it from seeing a destroyed key.
 */
function destroyLater(key: KeyRing): void {
  setImmediate(() => {
    try {
      key.destroy();
    } catch {
      /* already destroyed */
    }
  });
}

/** True for errors that pass through to the client unchanged on key-store calls. */
export function isPassThroughStoreError(e: unknown): boolean {
  return isKesError(e, 'ERR_KES_KEY_NOT_FOUND') || isKesError(e, 'ERR_KES_KEY_EXISTS');
}
