/**
 * Case folding of a key directory. On a case-insensitive file system (the
 * default on macOS and Windows) `APP-SECRET` opens the file `app-secret`, so a
 * policy that denies exactly `app-secret` could be passed with another spelling.
 * The fs key store probes the directory once and, where case folds, accepts a
 * name only if it is the exact spelling of the directory entry.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * True if `dir` resolves names case-insensitively: creates a probe file with a
 * mixed-case name (exclusively, so nothing existing is touched), checks whether
 * its lower-cased spelling is the same file, and removes it again.
 * `prefix` keeps the probe out of listings (the store's temp-file prefix).
 *
 * @throws the I/O error when the probe cannot be created (read-only or missing directory)
 */
export async function probeCaseInsensitive(dir: string, prefix: string): Promise<boolean> {
  const name = `${prefix}case-probe-${randomBytes(8).toString('hex')}-X`;
  const file = join(dir, name);
  const handle = await open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    const probe = await handle.stat();
    const folded = await stat(join(dir, name.toLowerCase())).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    });
    return folded !== undefined && folded.ino === probe.ino && folded.dev === probe.dev;
  } finally {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
  }
}

/** What a platform's default file system does, for when the probe cannot run (read-only directory). */
export function platformFoldsCase(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'darwin' || platform === 'win32';
}

/**
 * True if `entries` (exact directory entry names) hold a spelling of `name` that
 * differs from it only by case, and not `name` itself: on a case-insensitive
 * directory that entry is what a file call with `name` would reach.
 */
export function differsOnlyByCase(name: string, entries: readonly string[]): boolean {
  if (entries.includes(name)) return false;
  const lower = name.toLowerCase();
  return entries.some((e) => e.toLowerCase() === lower);
}
