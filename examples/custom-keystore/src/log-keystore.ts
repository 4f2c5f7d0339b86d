/**
 * A key store of your own, in one file: every change is a line appended to a log file
 * (JSON Lines), and the current keys are the log replayed. It shows what a `KeyStore`
 * must do — atomic create, exact bytes, sorted paged listing, abort signals, close — with
 * nothing but `node:fs`.
 *
 * Limits, on purpose: one process owns the file at a time (a lock file enforces it), and
 * the log only grows (deleted keys stay in it until you rewrite it). For several servers,
 * use a store with its own consistency (Vault, AWS) instead.
 */
import { open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { KesError } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus } from '@kes/core';

/** Options of {@link createLogKeyStore}. */
export interface LogKeyStoreOptions {
  /** The log file; created if missing. `<path>.lock` marks it as in use. */
  readonly path: string;
  /** Flush every change to the disk before the call returns (default true). */
  readonly sync?: boolean;
}

/** One line of the log. Values are base64, so any bytes and any name survive JSON. */
type Entry = { readonly op: 'create'; readonly name: string; readonly value: string } | { readonly op: 'delete'; readonly name: string };

const PAGE_SIZE = 1024;

class LogKeyStore implements KeyStore {
  readonly kind: string;
  readonly #path: string;
  readonly #sync: boolean;
  #keys = new Map<string, Uint8Array>();
  #file: FileHandle | undefined;
  #opening: Promise<void> | undefined;
  #closed = false;
  /** Changes run one at a time: a create's check and its append cannot interleave with another's. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: LogKeyStoreOptions) {
    this.kind = `log:${options.path}`;
    this.#path = options.path;
    this.#sync = options.sync ?? true;
  }

  /** Opens the file on first use: takes the lock, replays the log. */
  #open(): Promise<void> {
    this.#opening ??= (async () => {
      // 'wx' fails if the lock exists: a second process would otherwise append to the same log
      // from a stale view and could let two creates of one name both succeed.
      const lock = await open(`${this.#path}.lock`, 'wx').catch((err: NodeJS.ErrnoException) => {
        throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
          cause: new Error(`${this.#path} is in use (${err.code}): remove ${this.#path}.lock if no process uses it`),
        });
      });
      await lock.writeFile(`${process.pid}\n`);
      await lock.close();
      const text = await readFile(this.#path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
      const lines = text.split('\n');
      // A crash during an append leaves a partial last line: that change never completed.
      if (!text.endsWith('\n')) lines.pop();
      for (const line of lines) {
        if (line === '') continue;
        const entry = JSON.parse(line) as Entry;
        if (entry.op === 'create') this.#keys.set(entry.name, new Uint8Array(Buffer.from(entry.value, 'base64')));
        else this.#keys.delete(entry.name);
      }
      this.#file = await open(this.#path, 'a');
      // Cut off a partial last line so the next append starts on a line of its own.
      if (text !== '' && !text.endsWith('\n')) await this.#file.truncate(Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    })().catch((err: unknown) => {
      this.#opening = undefined; // the next call tries again (say, once the other owner is gone)
      throw err;
    });
    return this.#opening;
  }

  /** Runs `fn` after the store is open, in order with every other call. */
  #run<T>(signal: AbortSignal | undefined, fn: () => Promise<T> | T): Promise<T> {
    const next = this.#queue.then(async () => {
      signal?.throwIfAborted();
      if (this.#closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('key store is closed') });
      await this.#open();
      return fn();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #append(entry: Entry): Promise<void> {
    await this.#file!.appendFile(`${JSON.stringify(entry)}\n`);
    if (this.#sync) await this.#file!.datasync();
  }

  create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    return this.#run(options?.signal, async () => {
      if (this.#keys.has(name)) throw new KesError('ERR_KES_KEY_EXISTS');
      await this.#append({ op: 'create', name, value: Buffer.from(value).toString('base64') });
      this.#keys.set(name, Uint8Array.from(value)); // a copy: the caller may reuse its buffer
    });
  }

  get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    return this.#run(options?.signal, () => {
      const value = this.#keys.get(name);
      if (value === undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      return Uint8Array.from(value); // a copy: the caller may wipe it
    });
  }

  delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    return this.#run(options?.signal, async () => {
      if (!this.#keys.has(name)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      await this.#append({ op: 'delete', name });
      this.#keys.get(name)?.fill(0);
      this.#keys.delete(name);
    });
  }

  list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    return this.#run(options?.signal, () => {
      const limit = options?.limit && options.limit > 0 ? Math.floor(options.limit) : PAGE_SIZE;
      const from = options?.continueAt ?? '';
      const names = [...this.#keys.keys()].filter((n) => n.startsWith(prefix) && n >= from).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (names.length <= limit) return { names, continueAt: '' };
      return { names: names.slice(0, limit), continueAt: names[limit]! }; // continueAt is inclusive
    });
  }

  status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    const start = performance.now();
    return this.#run(options?.signal, () => ({ latencyMs: performance.now() - start }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue; // let calls already queued finish (they fail: the store is closed)
    if (this.#file) {
      await this.#file.close();
      await rm(`${this.#path}.lock`, { force: true });
    }
    for (const value of this.#keys.values()) value.fill(0); // wipe key material we own
    this.#keys.clear();
  }
}

/**
 * Creates a key store backed by an append-only log file. Validates options at once and
 * opens the file on the first call.
 *
 * @throws TypeError if `path` is empty
 * @example
 * const store = createLogKeyStore({ path: '/var/lib/my-app/keys.log' });
 * const kes = await createKesHandler({ admin, keyStore: store });
 */
export function createLogKeyStore(options: LogKeyStoreOptions): KeyStore {
  if (typeof options?.path !== 'string' || options.path === '') throw new TypeError('createLogKeyStore: path must be a non-empty string');
  return new LogKeyStore(options);
}
