/**
 * The audit file: one JSON audit record per line, appended and written to the kernel
 * (optionally fsync'ed) before the request's reply is released, rotated by size.
 *
 * Writes are group-committed: records that arrive while a write is in flight go out
 * together in the next one, so a busy server makes one `write(2)` per batch, not per
 * request. Before each batch the file at `path` is compared with the open one (inode),
 * so a rotation done by another process (the cluster primary) or by logrotate is
 * followed without losing a record: a record written between a rename and the reopen
 * lands in the renamed file.
 *
 * A failed write marks the file unhealthy and keeps the records that were not written in
 * a bounded backlog; the next attempt writes the backlog first. Fail-closed callers ask
 * {@link AuditFile.ready} before serving and refuse the request while it is false.
 */
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** Options of the audit file (`KesServerOptions.log.auditFile`). */
export interface AuditFileOptions {
  /** File the records are appended to; created with mode 0600 if missing. */
  readonly path: string;
  /**
   * Refuse a request with 503 when its audit record cannot be written, instead of
   * serving it unaudited (as Vault does). Default `false`: serve and log the failure.
   */
  readonly failClosed?: boolean;
  /** Rotate when the file would grow past this many bytes; 0 = never. Default 100 MiB. */
  readonly maxSizeBytes?: number;
  /** Rotated files kept (`<path>.1` … `<path>.N`, `.1` the newest). Default 10. */
  readonly maxFiles?: number;
  /** `fsync` each batch before the replies go out (survives power loss, costs latency). Default `false`. */
  readonly fsync?: boolean;
}

/** Rotation default: 100 MiB. */
export const DEFAULT_AUDIT_MAX_SIZE = 100 * 1024 * 1024;
/** Rotated files kept by default. */
export const DEFAULT_AUDIT_MAX_FILES = 10;
/** Records kept for a later attempt after a failed write; older ones are dropped (and counted). */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

/**
 * One process' writer of the audit file.
 *
 * @example
 * const file = new AuditFile({ path: '/var/log/kes/audit.log', failClosed: true }, { rotate: true });
 * await file.append(`${JSON.stringify(record)}\n`); // rejects when the record could not be written
 */
export class AuditFile {
  readonly options: Required<AuditFileOptions>;
  /** This process rotates the file (single process, or the cluster primary). */
  readonly #rotates: boolean;
  #fh: FileHandle | undefined;
  #ino = -1;
  #size = 0;
  #queue: { readonly line: string; readonly keep: boolean }[] = [];
  #queueWaiters: Waiter[] = [];
  #backlog: string[] = [];
  #backlogBytes = 0;
  #writing = false;
  #healthy = true;
  #dropped = 0;
  #closed = false;
  #lastError: Error | undefined;
  /** Called with each write failure (for the error log); never with record contents. */
  onError: ((message: string) => void) | undefined;

  constructor(options: AuditFileOptions, { rotate }: { rotate: boolean }) {
    this.options = {
      path: options.path,
      failClosed: options.failClosed ?? false,
      maxSizeBytes: options.maxSizeBytes ?? DEFAULT_AUDIT_MAX_SIZE,
      maxFiles: options.maxFiles ?? DEFAULT_AUDIT_MAX_FILES,
      fsync: options.fsync ?? false,
    };
    this.#rotates = rotate;
  }

  /** False after a failed write, until a write succeeds again. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Records dropped from the backlog because it was full (each one a request that was served or refused). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Resolves true when records can be written: at once while healthy, else after one
   * attempt to open the file and write the backlog (which is how a fail-closed server
   * recovers). A full disk is seen only by a write: the first request after the disk
   * fills is served by its handler and then refused (its reply withheld).
   */
  async ready(): Promise<boolean> {
    // Healthy and open: nothing to check. Not yet open: open it now, so a missing directory
    // or an unwritable path refuses the first request before it runs, not after.
    if (this.#healthy && this.#fh !== undefined) return true;
    try {
      await this.append('');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Appends `line` (a complete record ending in `\n`; `''` writes only the backlog).
   * Resolves once the batch holding it is written (and fsync'ed if configured).
   *
   * @param keep - on failure, keep the line in the backlog for the next attempt (default);
   *   `false` when the caller will {@link keep} a corrected record itself.
   * @throws the write error.
   */
  append(line: string, keep = true): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('audit file is closed'));
    return new Promise<void>((resolve, reject) => {
      if (line) this.#queue.push({ line, keep });
      this.#queueWaiters.push({ resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  /** Keeps `line` for the next write (a record of a request refused because the file failed). */
  keep(line: string): void {
    this.#keep([{ line, keep: true }]);
  }

  /** Waits for pending writes and closes the file. Idempotent. */
  async close(): Promise<void> {
    while (this.#writing) await new Promise((r) => setTimeout(r, 5));
    this.#closed = true;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  /**
   * Rotates if the file at `path` is over the size limit (the cluster primary calls this
   * on a timer; a single process does it before each batch).
   */
  async rotateIfNeeded(extra = 0): Promise<void> {
    const max = this.options.maxSizeBytes;
    if (max <= 0) return;
    let size: number;
    try {
      size = (await stat(this.options.path)).size;
    } catch {
      return; // missing: the next write creates it
    }
    if (size === 0 || size + extra <= max) return;
    const { path, maxFiles } = this.options;
    if (maxFiles <= 0) {
      await unlink(path).catch(() => undefined);
      return;
    }
    await unlink(`${path}.${maxFiles}`).catch(() => undefined);
    for (let i = maxFiles - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
    await rename(path, `${path}.1`);
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queueWaiters.length > 0) {
        const lines = this.#queue;
        const waiters = this.#queueWaiters;
        this.#queue = [];
        this.#queueWaiters = [];
        let text = this.#backlog.join('');
        for (const l of lines) text += l.line;
        try {
          if (text.length > 0) await this.#write(text);
          else await this.#handle();
          this.#backlog = [];
          this.#backlogBytes = 0;
          this.#healthy = true;
          this.#lastError = undefined;
          for (const w of waiters) w.resolve();
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          this.#keep(lines);
          if (this.#healthy || this.#lastError?.message !== err.message) this.onError?.(`audit file ${this.options.path}: ${err.message}`);
          this.#healthy = false;
          this.#lastError = err;
          // The handle may be broken (a deleted directory, a full disk): reopen next time.
          const fh = this.#fh;
          this.#fh = undefined;
          await fh?.close().catch(() => undefined);
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  /** Keeps unwritten records for the next attempt, dropping the oldest beyond the cap. */
  #keep(lines: readonly { readonly line: string; readonly keep: boolean }[]): void {
    for (const l of lines) {
      if (!l.keep) continue;
      this.#backlog.push(l.line);
      this.#backlogBytes += l.line.length;
    }
    while (this.#backlogBytes > MAX_BACKLOG_BYTES && this.#backlog.length > 0) {
      this.#backlogBytes -= (this.#backlog.shift() as string).length;
      this.#dropped++;
    }
  }

  async #write(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    if (this.#rotates && this.options.maxSizeBytes > 0 && this.#fh !== undefined && this.#size + bytes.length > this.options.maxSizeBytes) {
      await this.rotateIfNeeded(bytes.length);
    }
    const fh = await this.#handle();
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
      if (bytesWritten <= 0) throw new Error('short write');
      off += bytesWritten;
    }
    this.#size += bytes.length;
    if (this.options.fsync) await fh.datasync();
  }

  /** The open file, reopened when `path` no longer names it (rotated, deleted, replaced). */
  async #handle(): Promise<FileHandle> {
    const { path } = this.options;
    let current: Stats | undefined;
    try {
      current = await stat(path);
    } catch {
      current = undefined;
    }
    if (this.#fh !== undefined && current !== undefined && current.ino === this.#ino) return this.#fh;
    const old = this.#fh;
    this.#fh = undefined;
    await old?.close().catch(() => undefined);
    const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      const s = await fh.stat();
      if (!s.isFile() && !s.isCharacterDevice()) throw new Error('not a regular file');
      this.#ino = s.ino;
      this.#size = s.size;
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    this.#fh = fh;
    return fh;
  }
}

/** How often the cluster primary checks the audit file's size. */
const ROTATION_CHECK_MS = 1000;

/**
 * Rotates a shared audit file for processes that write it without rotating it (the
 * `kes server` cluster workers): checks its size every second. `current()` is asked each
 * time, so a reload that changes `log.audit_file` is followed.
 *
 * @returns a function that stops the checks.
 * @example
 * const stop = startAuditFileRotation(() => config.options.log.auditFile);
 */
export function startAuditFileRotation(current: () => AuditFileOptions | undefined): () => void {
  let busy = false;
  const timer = setInterval(() => {
    const options = current();
    if (options === undefined || busy) return;
    busy = true;
    new AuditFile(options, { rotate: true })
      .rotateIfNeeded()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, ROTATION_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
