/**
 * The filesystem key store: one file per key in one directory, file name = key
 * name, content = the stored value bytes exactly (the layout of upstream KES, so
 * a directory written by upstream KES is read unchanged and vice versa).
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KesError } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
import { checkCall } from './internal/call.js';
import { differsOnlyByCase, platformFoldsCase, probeCaseInsensitive } from './internal/case-probe.js';
import {
  MAX_VALUE_SIZE,
  TEMP_PREFIX,
  errno,
  ioError,
  readCapped,
  removeStaleTemps,
  restrictDirMode,
  syncDir,
  writeExclusive,
} from './internal/fs-io.js';
import { FsVersionStore } from './internal/fs-versions.js';
import { isSafeKeyName } from './internal/key-name.js';
import { listPage } from './internal/list.js';

/** Options of {@link createFsKeyStore}. */
export interface FsKeyStoreOptions {
  /**
   * The key directory; created (mode 0700, with parents) on first use if missing.
   * An existing directory with group or other permission bits is restricted to
   * owner-only on first use (reported through `onWarning`); if that fails, e.g.
   * because the process does not own it, every call fails.
   */
  readonly path: string;
  /**
   * Receives notices about the key directory, e.g. that its permissions were
   * restricted. Messages name the directory and modes, never keys or values.
   * Default: `process.emitWarning`.
   */
  readonly onWarning?: (message: string) => void;
  /**
   * Whether the file system treats names that differ only by case as one file
   * (macOS and Windows by default). Detected on first use with a probe file when
   * absent; set it only to override the probe. When true, a name is accepted only
   * in the exact spelling of its directory entry.
   */
  readonly caseInsensitive?: boolean;
  /**
   * The directory of the records of rotated keys (`versions`): `<versionsPath>/<name>/<id>`.
   * Must lie outside `path` (upstream KES lists every entry of the key directory) and must
   * not contain it. Relative paths are resolved against the working directory, like `path`.
   * Created (mode 0700, with parents) on the first record only. Default: the sibling
   * `<path>.versions`, e.g. `/var/lib/kes/keys.versions`.
   */
  readonly versionsPath?: string;
}

/** Largest value `get` reads (as upstream): a bigger file is not a key this store wrote. */
export const FS_MAX_VALUE_SIZE: number = MAX_VALUE_SIZE;

function defaultWarning(message: string): void {
  process.emitWarning(message, { code: 'KES_FS_KEYSTORE' });
}

class FsKeyStore implements KeyStore {
  readonly kind: string;
  readonly #dir: string;
  readonly #warn: (message: string) => void;
  #closed = false;
  #created = false;
  #checked: Promise<void> | undefined;
  #caseInsensitive: Promise<boolean> | undefined;
  readonly versions: KeyVersionStore;

  constructor(path: string, versionsPath: string, options: FsKeyStoreOptions) {
    this.kind = `fs:${path}`;
    this.#dir = resolve(path);
    this.#warn = options.onWarning ?? defaultWarning;
    if (options.caseInsensitive !== undefined) this.#caseInsensitive = Promise.resolve(options.caseInsensitive);
    this.versions = new FsVersionStore({
      dir: versionsPath,
      warn: this.#warn,
      caseInsensitive: options.caseInsensitive,
      closed: () => this.#closed,
    });
  }

  /** Creates the directory (0700, parents too) if missing, then {@link #checkDir}. */
  async #ensureDir(): Promise<void> {
    if (!this.#created) {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      this.#created = true;
    }
    await this.#checkDir();
  }

  /**
   * Once per store: checks the directory is one and restricts it to its owner.
   * Threat: a directory with group/other bits (e.g. 0755, upstream's default)
   * lets every local user list the key names and, with write bits, plant or
   * remove keys. Does not create the directory (get/delete never do).
   */
  #checkDir(): Promise<void> {
    this.#checked ??= (async () => {
      await restrictDirMode(this.#dir, 'key directory', this.#warn);
      await removeStaleTemps(this.#dir); // see removeStaleTemps: temp files of killed creates hold key material
    })().catch((e: unknown) => {
      this.#checked = undefined; // retry on the next call, e.g. after an operator fixed permissions
      throw e;
    });
    return this.#checked;
  }

  /**
   * Whether the directory folds case (see `internal/case-probe.ts`). Probed once;
   * where the probe cannot write (read-only directory) the platform's default is assumed.
   */
  #foldsCase(): Promise<boolean> {
    this.#caseInsensitive ??= probeCaseInsensitive(this.#dir, TEMP_PREFIX).catch((e: unknown) => {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.#caseInsensitive = undefined; // the directory is missing: probe again once it is back
      }
      return platformFoldsCase();
    });
    return this.#caseInsensitive;
  }

  /**
   * On a case-insensitive directory, the exact directory entry names; otherwise
   * `undefined` (no directory listing per call on case-sensitive systems).
   */
  async #entriesIfFolding(): Promise<string[] | undefined> {
    if (!(await this.#foldsCase())) return undefined;
    return readdir(this.#dir);
  }

  /** Rejects names that could address anything but a file directly inside the directory. Runs before any I/O. */
  #file(name: string): string {
    if (!isSafeKeyName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)]);
    return join(this.#dir, name);
  }

  /**
   * "No such key" only while the key directory itself is there: a vanished or replaced
   * directory (unmounted volume, wrong path) is a failing store, never a missing key.
   */
  async #notFound(cause: unknown): Promise<KesError> {
    const dirOk = await stat(this.#dir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    return dirOk ? new KesError('ERR_KES_KEY_NOT_FOUND') : new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause });
  }

  /**
   * Threat: on a case-insensitive directory `APP-SECRET` opens `app-secret`, which
   * would pass a policy that denies exactly `app-secret`. There a name is a key only
   * in the exact spelling of its directory entry.
   *
   * @throws ERR_KES_KEY_NOT_FOUND when the directory folds case and has no entry spelled `name`
   */
  async #requireExactSpelling(name: string): Promise<void> {
    const entries = await this.#entriesIfFolding();
    if (entries !== undefined && !entries.includes(name)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
  }

  /** fsync of the directory, so a created or removed entry survives a power loss. */
  async #syncDir(): Promise<void> {
    try {
      await syncDir(this.#dir);
    } catch (e) {
      throw ioError(e, undefined);
    }
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    const file = this.#file(name);
    const bytes = Buffer.from(value); // a copy: the caller may reuse its buffer while we write
    try {
      await this.#ensureDir();
      signal?.throwIfAborted();
      // Case-insensitive directory: `APP-SECRET` must not be created beside (or onto) `app-secret`.
      // link() below already fails there with EEXIST; this also covers a forced `caseInsensitive`.
      const entries = await this.#entriesIfFolding();
      if (entries !== undefined && differsOnlyByCase(name, entries)) throw new KesError('ERR_KES_KEY_EXISTS');
      // Write the complete value to a private temp file first, then link() it to
      // the key name: link fails with EEXIST instead of replacing an existing key,
      // and a crash leaves either the whole key or none (never a torn value).
      await writeExclusive(this.#dir, file, bytes);
    } catch (e) {
      throw ioError(e, signal);
    } finally {
      bytes.fill(0); // wipe our copy of the key material
    }
    await this.#syncDir();
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    const file = this.#file(name);
    let handle: FileHandle;
    try {
      await this.#checkDir();
      await this.#requireExactSpelling(name);
      // O_NOFOLLOW: a symlink planted in the directory must not make us read a file elsewhere.
      handle = await open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') throw await this.#notFound(e);
      throw ioError(e, signal);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new KesError('ERR_KES_KEY_NOT_FOUND'); // list ignores non-files, so does get
      return await readCapped(handle, `file of key '${name}'`, signal);
    } catch (e) {
      throw ioError(e, signal);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    const file = this.#file(name);
    try {
      await this.#checkDir();
      await this.#requireExactSpelling(name);
      await unlink(file);
    } catch (e) {
      const code = errno(e);
      // EISDIR/EPERM: a sub-directory with a key's name is not a key (list ignores it too).
      if (code === 'ENOENT' || code === 'ENOTDIR') throw await this.#notFound(e);
      if (code === 'EISDIR') throw new KesError('ERR_KES_KEY_NOT_FOUND');
      if (
        code === 'EPERM' &&
        (await stat(file).then(
          (s) => s.isDirectory(),
          () => false,
        ))
      ) {
        throw new KesError('ERR_KES_KEY_NOT_FOUND');
      }
      throw ioError(e, signal);
    }
    await this.#syncDir();
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    try {
      await this.#ensureDir();
      signal?.throwIfAborted();
      const entries = await readdir(this.#dir, { withFileTypes: true });
      // Temp files, sub-directories, symlinks and foreign files are not keys.
      const names = entries.filter((e) => e.isFile() && isSafeKeyName(e.name)).map((e) => e.name);
      return listPage(names, prefix, { limit: options?.limit, continueAt: options?.continueAt });
    } catch (e) {
      throw ioError(e, signal);
    }
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    const signal = options?.signal;
    checkCall(this.#closed, signal);
    try {
      await this.#ensureDir();
      const start = performance.now();
      const st = await stat(this.#dir);
      const latencyMs = performance.now() - start;
      if (!st.isDirectory()) throw new Error(`${this.#dir} is not a directory`);
      return { latencyMs };
    } catch (e) {
      if (signal?.aborted && e === signal.reason) throw e;
      throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: e });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * Creates a filesystem key store (`kind` = `fs:<path>`). The directory is
 * created (0700) on first use, or an existing one restricted to its owner (with a
 * warning). Create is exclusive and atomic (temp file + fsync + `link()`), files
 * get mode 0600, names that are not valid KES names are rejected before any I/O,
 * reads are capped at 1 MiB and `list` pages at 1024 names. On a case-insensitive
 * file system a key is reachable only in the exact spelling of its file name.
 *
 * `versions` keeps the records of rotated keys in `options.versionsPath` (default
 * `<path>.versions`), outside the key directory, with the same create guarantees;
 * that directory is created on the first record only.
 *
 * Calls reject with ERR_KES_INVALID_KEY_NAME (hostile name), ERR_KES_KEY_EXISTS,
 * ERR_KES_KEY_NOT_FOUND, ERR_KES_KEYSTORE_UNAVAILABLE (I/O error, closed store;
 * the I/O error is the `cause`) and, from `status`, ERR_KES_KEYSTORE_UNREACHABLE.
 *
 * @throws ERR_KES_INVALID_ARGUMENT if `options.path` is not a non-empty string,
 *   `options.onWarning` is not a function, `options.caseInsensitive` not a boolean, or
 *   `options.versionsPath` is not a non-empty string or lies inside (or contains) the key directory
 * @example
 * const store = createFsKeyStore({ path: '/var/lib/kes/keys' });
 * await store.create('my-key', value);
 */
export function createFsKeyStore(options: FsKeyStoreOptions): KeyStore {
  const path = (options as Partial<FsKeyStoreOptions> | undefined)?.path;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.path must be a non-empty directory path']);
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.onWarning must be a function']);
  }
  if (options.caseInsensitive !== undefined && typeof options.caseInsensitive !== 'boolean') {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.caseInsensitive must be a boolean']);
  }
  return new FsKeyStore(path, resolveVersionsPath(path, options.versionsPath), options);
}

/**
 * The absolute versions directory: `versionsPath`, or the sibling `<path>.versions`.
 * Threat: records inside the key directory would be listed by upstream KES (whose
 * `kes migrate` aborts on them), and a key directory inside the versions directory would
 * let a record path (`<versionsPath>/<name>/<id>`) coincide with a key file. Both are
 * refused; the check is lexical (a symlink can still join them, so do not link them).
 */
function resolveVersionsPath(path: string, versionsPath: unknown): string {
  const keys = resolve(path);
  if (versionsPath === undefined) return `${keys}.versions`;
  if (typeof versionsPath !== 'string' || versionsPath.length === 0 || versionsPath.includes('\0')) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.versionsPath must be a non-empty directory path']);
  }
  const dir = resolve(versionsPath);
  if (isWithin(keys, dir)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.versionsPath must be outside the key directory (options.path)']);
  }
  if (isWithin(dir, keys)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['fs key store: options.versionsPath must not contain the key directory (options.path)']);
  }
  return dir;
}

/** True if the absolute path `p` is `dir` or lies below it. */
function isWithin(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}
