/**
 * The file-system mechanics the fs key store uses for its key directory and for its
 * version-record directory alike: the crash-safe exclusive create (temp file + fsync +
 * `link()`), directory fsync, owner-only directory modes and the removal of temp files
 * that killed creates left behind. One implementation, so keys and records get the
 * same guarantees.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, link, open, readdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { KesError, isKesError } from '@kes/core';

/** Prefix of temporary files. `.` is not allowed in key names (nor in record ids), so a temp file is never listed or read. */
export const TEMP_PREFIX = '.tmp-';
/** Age after which a temp file counts as abandoned whatever its PID says (see {@link removeStaleTemps}). */
const STALE_TEMP_MS = 60 * 60_000;

/** The `code` of a Node I/O error (`ENOENT`, …), if any. */
export function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Maps an I/O failure to the store's error, keeping aborts and KesErrors as they are. */
export function ioError(e: unknown, signal: AbortSignal | undefined): unknown {
  if (isKesError(e)) return e;
  if (signal?.aborted && e === signal.reason) return e;
  return new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: e });
}

/** True if a process with this PID runs on this host (EPERM: it runs, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Checks that `dir` is a directory and restricts it to its owner. Threat: a directory
 * with group/other bits (e.g. 0755, upstream's default) lets every local user list the
 * key names and, with write bits, plant or remove keys. `what` names the directory in
 * messages (`key directory`, `version record directory`).
 *
 * @throws Error when it is no directory, or has group/other bits that cannot be removed
 */
export async function restrictDirMode(dir: string, what: string, warn: (message: string) => void): Promise<void> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (process.platform === 'win32' || (st.mode & 0o077) === 0) return; // Windows has no mode bits to tighten
  const wanted = st.mode & 0o700;
  const uid = process.getuid?.();
  const why =
    uid !== undefined && uid !== 0 && uid !== st.uid
      ? 'the process does not own it'
      : await chmod(dir, wanted).then(
          () => undefined,
          (e: unknown) => errno(e) ?? 'chmod failed',
        );
  if (why !== undefined) {
    throw new Error(`${what} ${dir} has mode ${octal(st.mode)} (group/other access) and cannot be restricted to ${octal(wanted)}: ${why}`);
  }
  warn(`fs key store: ${what} ${dir} had mode ${octal(st.mode)} (group/other access); restricted it to ${octal(wanted)}`);
}

/**
 * Removes the temp files in `dir` of creates whose process died (SIGKILL, power loss)
 * between writing the temp file and unlinking it. They are never keys, but they hold
 * key material, so they must not pile up. A temp name carries its writer's PID
 * (`.tmp-<pid>-<random>`); only files of processes that no longer run on this host, and
 * files older than an hour (another host on shared storage, older names without a PID),
 * are removed, so a create in flight in a live process (another worker) is left alone.
 * Best effort: never throws.
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const file = join(dir, n);
    const pid = /^\.tmp-(\d+)-/.exec(n)?.[1];
    try {
      const dead = pid !== undefined && Number(pid) !== process.pid && !isRunning(Number(pid));
      if (dead || Date.now() - (await stat(file)).mtimeMs > STALE_TEMP_MS) await unlink(file);
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** fsync of a directory, so a created or removed entry survives a power loss. Throws the I/O error. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `bytes` to a private temp file in `tempDir` (mode 0600, fsynced), then
 * `link()`s it to `target`, which must be on the same file system. `link` fails with
 * EEXIST instead of replacing an existing file, and a crash leaves either the whole
 * file or none under `target` (never a torn value); at worst a temp file remains,
 * which {@link removeStaleTemps} removes later. The temp file is always unlinked.
 * Does not fsync the directory of `target`.
 *
 * @throws ERR_KES_KEY_EXISTS if `target` exists; otherwise the raw I/O error
 */
export async function writeExclusive(tempDir: string, target: string, bytes: Uint8Array): Promise<void> {
  const temp = join(tempDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(12).toString('hex')}`);
  try {
    const handle = await open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.chmod(0o600); // independent of the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
    } catch (e) {
      if (errno(e) === 'EEXIST') throw new KesError('ERR_KES_KEY_EXISTS');
      throw e;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Largest value a read returns (as upstream): a bigger file is not a value this store wrote. */
export const MAX_VALUE_SIZE = 1 << 20;

/**
 * Reads an open file of at most {@link MAX_VALUE_SIZE} bytes into a buffer the
 * caller owns; the read chunks are wiped. `what` names the file in the error (never its bytes).
 *
 * @throws ERR_KES_KEYSTORE_UNAVAILABLE when the file is bigger; the signal's reason when aborted
 */
export async function readCapped(handle: FileHandle, what: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const chunk = Buffer.alloc(Math.min(64 * 1024, MAX_VALUE_SIZE + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_VALUE_SIZE) {
        throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
          cause: new Error(`${what} is larger than ${MAX_VALUE_SIZE} bytes`),
        });
      }
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    for (const c of chunks) c.fill(0);
  }
}
