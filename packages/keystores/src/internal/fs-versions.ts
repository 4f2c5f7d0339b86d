/**
 * The version records of the fs key store (`KeyVersionStore`): one file per record at
 * `<versionsPath>/<name>/<id>`, in a directory OUTSIDE the key directory. Upstream KES
 * lists every entry of the key directory (and `kes migrate` aborts on an entry it cannot
 * read as a key), so nothing of ours may ever appear there.
 *
 * Records are written like keys (see `fs-io.ts`): a temp file in the versions directory
 * itself (same file system, so `link()` works), fsynced, then linked to its record name.
 * The versions directory is created on the first create only, so a deployment that never
 * rotates has no extra directory.
 */
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KesError, isKesError, isValidRecordId } from '@kes/core';
import type { KeyStoreCallOptions, KeyVersionStore } from '@kes/core';
import { checkCall } from './call.js';
import { differsOnlyByCase, platformFoldsCase, probeCaseInsensitive } from './case-probe.js';
import { TEMP_PREFIX, errno, ioError, readCapped, removeStaleTemps, restrictDirMode, syncDir, writeExclusive } from './fs-io.js';
import { checkRecordName, checkRecordRef } from './record-id.js';

/** What {@link FsVersionStore} takes from its key store. */
export interface FsVersionStoreOptions {
  /** The versions directory, absolute. */
  readonly dir: string;
  /** Receives the notice that the directory's mode was restricted. */
  readonly warn: (message: string) => void;
  /** Forced case folding (the store's `caseInsensitive` option); probed when undefined. */
  readonly caseInsensitive: boolean | undefined;
  /** True once the key store is closed. */
  readonly closed: () => boolean;
}

/** Attempts of a create whose name directory a concurrent delete keeps removing. */
const CREATE_ATTEMPTS = 5;

/** Error codes of a path that is not there (or whose parent is no directory): no record. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

/** The version records of one fs key store. */
export class FsVersionStore implements KeyVersionStore {
  readonly location: string;
  readonly #dir: string;
  readonly #warn: (message: string) => void;
  readonly #closed: () => boolean;
  #checked: Promise<void> | undefined;
  #caseInsensitive: Promise<boolean> | undefined;

  constructor(o: FsVersionStoreOptions) {
    this.#dir = o.dir;
    this.location = `fs:${o.dir}`;
    this.#warn = o.warn;
    this.#closed = o.closed;
    if (o.caseInsensitive !== undefined) this.#caseInsensitive = Promise.resolve(o.caseInsensitive);
  }

  async create(name: string, id: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    checkRecordRef(name, id);
    const signal = options?.signal;
    checkCall(this.#closed(), signal);
    const bytes = Buffer.from(value); // a copy: the caller may reuse its buffer while we write
    const nameDir = join(this.#dir, name);
    try {
      await this.#ensureRoot();
      signal?.throwIfAborted();
      // Case-folding directory: the records of `APP-SECRET` must not land beside (or among) those of `app-secret`.
      const entries = await this.#entriesIfFolding();
      if (entries !== undefined && differsOnlyByCase(name, entries)) throw new KesError('ERR_KES_KEY_EXISTS');
      for (let attempt = 1; ; attempt++) {
        await this.#ensureNameDir(nameDir);
        try {
          await writeExclusive(this.#dir, join(nameDir, id), bytes);
          break;
        } catch (e) {
          // A concurrent delete removed the (then empty) name directory between our mkdir and link(): make it again.
          if (errno(e) === 'ENOENT' && attempt < CREATE_ATTEMPTS) continue;
          throw e;
        }
      }
      await syncDir(nameDir);
    } catch (e) {
      throw ioError(e, signal);
    } finally {
      bytes.fill(0); // wipe our copy of the key material
    }
  }

  async get(name: string, id: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    checkRecordRef(name, id);
    const signal = options?.signal;
    checkCall(this.#closed(), signal);
    let handle: FileHandle;
    try {
      await this.#nameDir(name);
      // O_NOFOLLOW: a symlink planted in the directory must not make us read a file elsewhere.
      handle = await open(join(this.#dir, name, id), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (e) {
      if (ABSENT.has(errno(e) ?? '')) throw await this.#notFound(e);
      throw ioError(e, signal);
    }
    try {
      if (!(await handle.stat()).isFile()) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      return await readCapped(handle, `version record '${id}' of key '${name}'`, signal);
    } catch (e) {
      throw ioError(e, signal);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async delete(name: string, id: string, options?: KeyStoreCallOptions): Promise<void> {
    checkRecordRef(name, id);
    const signal = options?.signal;
    checkCall(this.#closed(), signal);
    const nameDir = join(this.#dir, name);
    const file = join(nameDir, id);
    try {
      await this.#nameDir(name);
      await unlink(file);
    } catch (e) {
      const code = errno(e) ?? '';
      if (ABSENT.has(code)) throw await this.#notFound(e);
      // A sub-directory with a record's name is not a record (list ignores it too).
      if (code === 'EISDIR' || (code === 'EPERM' && (await isDir(file)))) throw new KesError('ERR_KES_KEY_NOT_FOUND');
      throw ioError(e, signal);
    }
    try {
      await syncDir(nameDir);
    } catch (e) {
      throw ioError(e, signal);
    }
    // Tidy up: drop the name directory once it is empty. Best effort: a concurrent create may
    // have just added a record (ENOTEMPTY) or a concurrent delete removed it (ENOENT); a create
    // that loses its directory this way makes it again.
    try {
      await rmdir(nameDir);
      await syncDir(this.#dir);
    } catch {
      // still in use, or gone already
    }
  }

  async list(name: string, options?: KeyStoreCallOptions): Promise<string[]> {
    checkRecordName(name);
    const signal = options?.signal;
    checkCall(this.#closed(), signal);
    try {
      await this.#nameDir(name);
      const entries = await readdir(join(this.#dir, name), { withFileTypes: true });
      // Temp files, sub-directories, symlinks and foreign files are not records.
      return entries.filter((e) => e.isFile() && isValidRecordId(e.name)).map((e) => e.name);
    } catch (e) {
      if (isKesError(e, 'ERR_KES_KEY_NOT_FOUND') || ABSENT.has(errno(e) ?? '')) return [];
      throw ioError(e, signal);
    }
  }

  /**
   * Creates the versions directory (0700, parents too) if missing, fsyncing the
   * directories that gained an entry, then {@link #checkRoot}.
   */
  async #ensureRoot(): Promise<void> {
    const first = await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    if (first !== undefined) {
      // Make the new directories survive a power loss: each one's entry lives in its parent.
      for (let d = this.#dir; ; d = dirname(d)) {
        await syncDir(dirname(d));
        if (d === first || dirname(d) === d) break;
      }
    }
    await this.#checkRoot();
  }

  /**
   * Once per store, when the directory exists: restricts it to its owner (with a warning)
   * and removes the temp files of killed creates (see `removeStaleTemps`). A missing
   * directory is left alone (get/list/delete never create it) and checked again next time.
   */
  #checkRoot(): Promise<void> {
    this.#checked ??= (async () => {
      await restrictDirMode(this.#dir, 'version record directory', this.#warn);
      await removeStaleTemps(this.#dir);
    })().catch((e: unknown) => {
      this.#checked = undefined; // retry on the next call, e.g. after an operator fixed permissions
      throw e;
    });
    return this.#checked;
  }

  /** Makes `<dir>/<name>` (0700) if missing; an existing entry must be a real directory, not a symlink. */
  async #ensureNameDir(nameDir: string): Promise<void> {
    try {
      await mkdir(nameDir, { mode: 0o700 });
      await syncDir(this.#dir);
      return;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    const st = await lstat(nameDir);
    if (!st.isDirectory()) throw new Error(`${nameDir} is not a directory`);
  }

  /**
   * The checks before a read, delete or list of `name`'s records: the directory's mode
   * (once), the exact spelling of the name directory on a case-folding file system, and
   * that it is a real directory (a planted symlink must not lead us elsewhere).
   *
   * @throws ERR_KES_KEY_NOT_FOUND when `name` has no record directory
   */
  async #nameDir(name: string): Promise<void> {
    try {
      await this.#checkRoot();
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new KesError('ERR_KES_KEY_NOT_FOUND'); // no record was ever created
      throw e;
    }
    // Threat: on a case-folding file system `APP-SECRET/2` opens `app-secret/2`.
    const entries = await this.#entriesIfFolding();
    if (entries !== undefined && !entries.includes(name)) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    const st = await lstat(join(this.#dir, name));
    if (!st.isDirectory()) throw new KesError('ERR_KES_KEY_NOT_FOUND');
  }

  /** "No such record" while the versions directory is a directory or absent; anything else is a failing store. */
  async #notFound(cause: unknown): Promise<KesError> {
    const ok = await stat(this.#dir).then(
      (st) => st.isDirectory(),
      (e: unknown) => errno(e) === 'ENOENT',
    );
    return ok ? new KesError('ERR_KES_KEY_NOT_FOUND') : new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause });
  }

  /** Whether the versions directory folds case; probed once it exists (see `case-probe.ts`). */
  #foldsCase(): Promise<boolean> {
    this.#caseInsensitive ??= probeCaseInsensitive(this.#dir, TEMP_PREFIX).catch((e: unknown) => {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') this.#caseInsensitive = undefined; // probe again once it exists
      return platformFoldsCase();
    });
    return this.#caseInsensitive;
  }

  /** On a case-folding versions directory its exact entry names; otherwise `undefined`. */
  async #entriesIfFolding(): Promise<string[] | undefined> {
    if (!(await this.#foldsCase())) return undefined;
    return readdir(this.#dir);
  }
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
