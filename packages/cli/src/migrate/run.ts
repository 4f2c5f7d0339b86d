// `kes migrate --from A.yml --to B.yml [--merge | --force] [PATTERN]`: copies the stored
// key values from one key store to another, byte for byte (no re-encoding, so every
// format version survives), and with each key the version records of a rotated key.
// Safe to interrupt and re-run: a key or record the target already holds with the same
// bytes is skipped, and nothing is overwritten without --force.
import { timingSafeEqual } from 'node:crypto';
import { isKesError, matchPattern } from '@kes/core';
import type { KeyStore, KeyVersionStore } from '@kes/core';
import type { MigrateArgs } from '../commands/migrate.js';
import { describeKeyStore, openKeyStore } from '../config/keystores/index.js';
import { loadConfigFile } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { paint, paintStderr, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { printJson } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';
import { causeText, checkKeyStoreAtStart } from '../server/key-store-check.js';

/** What happened to the version records of the matching keys (records are immutable values). */
export interface VersionRecordCounts {
  /** Records of matching keys in the source. */
  total: number;
  /** Created in the target. */
  copied: number;
  /** Already in the target with the same value. */
  skipped: number;
  /** In the target with a different value, left alone (`--merge`), or records of a key kept with `--merge`. */
  kept: number;
  /** In the target with a different value, replaced (`--force`). */
  replaced: number;
  /** Records the target had for a key that `--force` replaced, and the source does not have. */
  removed: number;
}

/** What happened to the matching keys. */
export interface MigrateCounts {
  /** Matching keys in the source. */
  total: number;
  /** Created in the target. */
  copied: number;
  /** Already in the target with the same value (an earlier, interrupted run copied them). */
  skipped: number;
  /** In the target with a different value, left alone (`--merge`). */
  kept: number;
  /** In the target with a different value, replaced (`--force`). */
  replaced: number;
  /** Not copied: rotated keys whose version records the target store cannot keep. */
  failed: number;
  /** Their version records. */
  versions: VersionRecordCounts;
}

/** Counts that start at zero. */
export function newCounts(): MigrateCounts {
  return {
    total: 0,
    copied: 0,
    skipped: 0,
    kept: 0,
    replaced: 0,
    failed: 0,
    versions: { total: 0, copied: 0, skipped: 0, kept: 0, replaced: 0, removed: 0 },
  };
}

/** How often the progress bar is redrawn on a terminal. */
const PROGRESS_INTERVAL_MS = 100;

/** Checks the flag combinations (usage errors, exit code 2). */
export function checkMigrateArgs(args: MigrateArgs): void {
  const minkms = (['server', 'enclave', 'apiKey', 'insecure'] as const).filter((f) => args[f] !== undefined && args[f] !== false);
  if (minkms.length > 0) {
    const flags = minkms.map((f) => (f === 'apiKey' ? '--api-key' : `--${f}`)).join(', ');
    throw new UsageError(`${flags}: migrating to a MinIO KMS server is not supported by kes-ts; migrate to a key store with --to FILE`);
  }
  if (args.from === undefined || args.from === '') throw new UsageError('--from FILE is required: the config file of the key store to copy from');
  if (args.to === undefined || args.to === '') throw new UsageError('--to FILE is required: the config file of the key store to copy to');
  if (args.force && args.merge) {
    throw new UsageError('--force and --merge cannot be combined: --merge keeps keys the target already has, --force replaces them');
  }
}

/** `[######------]  12/40` for a terminal `width` columns wide. */
export function progressBar(done: number, total: number, counts: MigrateCounts, width: number): string {
  const tail = ` ${String(done).padStart(String(total).length)}/${total}  ${counts.copied} copied, ${counts.skipped + counts.kept} skipped${counts.replaced > 0 ? `, ${counts.replaced} replaced` : ''}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - 3));
  const filled = total === 0 ? barWidth : Math.floor((done / total) * barWidth);
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
}

/** `3 copied, 1 skipped (already in the target)`: the parts of a summary. */
function outcomeParts(c: { copied: number; skipped: number; kept: number; replaced: number }): string[] {
  const parts = [`${c.copied} copied`];
  if (c.skipped > 0) parts.push(`${c.skipped} skipped (already in the target)`);
  if (c.kept > 0) parts.push(`${c.kept} kept (different in the target, --merge)`);
  if (c.replaced > 0) parts.push(`${c.replaced} replaced (--force)`);
  return parts;
}

/**
 * The summary line (`12 copied, 3 skipped (already in the target) of 15 keys`), with the
 * version records when there were any (`; version records: 4 copied of 4`).
 */
export function summaryLine(counts: MigrateCounts): string {
  const parts = outcomeParts(counts);
  if (counts.failed > 0) parts.push(`${counts.failed} failed`);
  let line = `${parts.join(', ')} of ${counts.total} key${counts.total === 1 ? '' : 's'}`;
  const v = counts.versions;
  if (v.total > 0 || v.removed > 0) {
    const records = outcomeParts(v);
    if (v.removed > 0) records.push(`${v.removed} removed (--force)`);
    line += `; version records: ${records.join(', ')} of ${v.total}`;
  }
  return line;
}

/** What was done before a stop: `2 copied, 1 skipped so far`. */
export function soFar(counts: MigrateCounts): string {
  const skipped = counts.skipped + counts.kept;
  return `${counts.copied} copied${skipped > 0 ? `, ${skipped} skipped` : ''}${counts.replaced > 0 ? `, ${counts.replaced} replaced` : ''} so far`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

async function open(file: string, ctx: CliContext, role: 'source' | 'target'): Promise<{ config: LoadedConfig; store: KeyStore }> {
  const config = await loadConfigFile(file, { env: ctx.env });
  if (config.keyStore.type === 'memory') {
    throw new CliFailure(
      `${file}: the in-memory key store exists only inside one process, so there is nothing to migrate ${role === 'source' ? 'from' : 'to'}: use a persistent key store (fs, vault, aws)`,
    );
  }
  const store = await openKeyStore(config);
  try {
    await checkKeyStoreAtStart(store, config.keyStore, { file });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return { config, store };
}

/** Every source name that matches `pattern` (a shell glob over the whole name), page by page. */
async function matchingNames(store: KeyStore, pattern: string, signal: AbortSignal): Promise<string[]> {
  const all = pattern === '*';
  const names: string[] = [];
  let continueAt: string | undefined;
  for (;;) {
    const page = await store.list('', { signal, ...(continueAt ? { continueAt } : {}) });
    for (const n of page.names) if (all || matchPattern(pattern, n, 'glob')) names.push(n);
    if (!page.continueAt || page.continueAt === continueAt) return names;
    continueAt = page.continueAt;
  }
}

/** What `--merge` / `--force` say about values the target already has. */
export interface ConflictMode {
  readonly merge?: boolean | undefined;
  readonly force?: boolean | undefined;
}

type Outcome = 'copied' | 'skipped' | 'kept' | 'replaced';

/** The store calls `copyValue` needs: a key store's or a version store's, bound to one name. */
interface ValueSlot {
  get(): Promise<Uint8Array>;
  create(value: Uint8Array): Promise<void>;
  delete(): Promise<void>;
}

/**
 * Copies one value (a key, or a version record) into `target`. The target's `create` is
 * the atomic existence check (no check-then-write race with a server using the target at
 * the same time). `conflict` words the failure when the target differs and neither
 * `--merge` nor `--force` was given.
 */
async function copyValue(value: Uint8Array, target: ValueSlot, mode: ConflictMode, conflict: () => string): Promise<Outcome> {
  try {
    await target.create(value);
    return 'copied';
  } catch (err) {
    if (!isKesError(err, 'ERR_KES_KEY_EXISTS')) throw err;
  }
  const existing = await target.get();
  try {
    if (sameBytes(existing, value)) return 'skipped';
    if (mode.merge) return 'kept';
    if (mode.force) {
      // Not atomic: interrupted between the two calls, the target lacks the value until
      // the next run copies it again. The source is never changed, so nothing is lost.
      await target.delete();
      await target.create(value);
      return 'replaced';
    }
    throw new CliFailure(conflict());
  } finally {
    existing.fill(0);
  }
}

/**
 * Record ids in copy order: versions by number, then the settings records (`c1`, `c2`, …)
 * by number, so that a run stopped half-way never leaves settings that name versions the
 * target does not have yet.
 */
function recordOrder(ids: readonly string[]): string[] {
  const rank = (id: string): [number, number] => (/^[0-9]+$/.test(id) ? [0, Number(id)] : [1, Number(id.replace(/^[a-z]+/, '')) || 0]);
  return [...ids].sort((a, b) => {
    const [ka, na] = rank(a);
    const [kb, nb] = rank(b);
    return ka - kb || na - nb || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/** A failure of one key that does not stop the run (reported, counted, and the run exits 1). */
class KeyFailure extends Error {}

/**
 * Copies one key and then its version records. A key kept with `--merge` keeps the
 * target's records too (the source's would belong to a different key); a key replaced
 * with `--force` gets exactly the source's records.
 */
async function copyKey(
  name: string,
  source: KeyStore,
  target: KeyStore,
  mode: ConflictMode,
  counts: MigrateCounts,
  signal: AbortSignal,
): Promise<void> {
  const records = source.versions ? recordOrder(await source.versions.list(name, { signal })) : [];
  counts.versions.total += records.length;
  if (records.length > 0 && !target.versions) {
    throw new KeyFailure(
      `key '${name}' was not copied: it was rotated (${records.length} version record${records.length === 1 ? '' : 's'}) and the target key store keeps no version records, so data encrypted with its later versions could not be decrypted there`,
    );
  }
  const value = await source.get(name, { signal });
  let outcome: Outcome;
  try {
    outcome = await copyValue(
      value,
      {
        get: () => target.get(name, { signal }),
        create: (v) => target.create(name, v, { signal }),
        delete: () => target.delete(name, { signal }),
      },
      mode,
      () =>
        `key '${name}' already exists in the target with a different value; nothing was overwritten (${soFar(counts)}). Re-run with --merge to keep the target's keys, or --force to replace them`,
    );
  } finally {
    // Key material: wiped as soon as it has been written.
    value.fill(0);
  }
  counts[outcome]++;
  if (!target.versions) return;
  if (outcome === 'kept') {
    counts.versions.kept += records.length;
    return;
  }
  if (outcome === 'replaced') await removeStaleRecords(name, records, target.versions, counts, signal);
  if (!source.versions) return;
  for (const id of records) await copyRecord(name, id, source.versions, target.versions, mode, counts, signal);
}

/**
 * `--force` replaced the key: the target's records that the source lacks belonged to the old
 * key. (A run interrupted right after the replacement finds the key the same next time and
 * leaves such records alone; the server ignores records bound to another version 1.)
 */
async function removeStaleRecords(
  name: string,
  keep: readonly string[],
  target: KeyVersionStore,
  counts: MigrateCounts,
  signal: AbortSignal,
): Promise<void> {
  const wanted = new Set(keep);
  for (const id of await target.list(name, { signal })) {
    if (wanted.has(id)) continue;
    try {
      await target.delete(name, id, { signal });
      counts.versions.removed++;
    } catch (err) {
      if (!isKesError(err, 'ERR_KES_KEY_NOT_FOUND')) throw err;
    }
  }
}

async function copyRecord(
  name: string,
  id: string,
  source: KeyVersionStore,
  target: KeyVersionStore,
  mode: ConflictMode,
  counts: MigrateCounts,
  signal: AbortSignal,
): Promise<void> {
  const value = await source.get(name, id, { signal });
  try {
    const outcome = await copyValue(
      value,
      {
        get: () => target.get(name, id, { signal }),
        create: (v) => target.create(name, id, v, { signal }),
        delete: () => target.delete(name, id, { signal }),
      },
      mode,
      () =>
        `version record '${id}' of key '${name}' already exists in the target with a different value; nothing was overwritten (${soFar(counts)}). Re-run with --merge to keep the target's records, or --force to replace them`,
    );
    counts.versions[outcome]++;
  } finally {
    value.fill(0); // version records hold key material
  }
}

/** Options of {@link migrateKeys}. */
export interface MigrateKeysOptions extends ConflictMode {
  readonly signal: AbortSignal;
  /** Called with one line per key that failed without stopping the run. */
  readonly onFailure?: (message: string) => void;
  /** Called after each key (for a progress bar). */
  readonly onKey?: () => void;
}

/**
 * Copies the keys `names` (and their version records) from `source` to `target`, adding
 * to `counts`. Stops at the first conflict (without `--merge`/`--force`) or store error
 * with a `CliFailure`, and quietly when `signal` aborts (the caller checks it); a rotated
 * key that the target cannot hold is reported through `onFailure`, counted as failed,
 * and the run goes on.
 */
export async function migrateKeys(
  source: KeyStore,
  target: KeyStore,
  names: readonly string[],
  counts: MigrateCounts,
  options: MigrateKeysOptions,
): Promise<void> {
  const { signal } = options;
  for (const name of names) {
    if (signal.aborted) return;
    try {
      await copyKey(name, source, target, options, counts, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof KeyFailure) {
        counts.failed++;
        options.onFailure?.(err.message);
      } else if (err instanceof CliFailure) {
        throw err;
      } else {
        throw new CliFailure(
          `copying key '${name}' failed: ${causeText(err)} (${soFar(counts)}): fix the problem and run the same command again to continue`,
          { cause: err },
        );
      }
    }
    options.onKey?.();
  }
}

/**
 * Runs `kes migrate`.
 *
 * @throws UsageError for bad flag combinations; `ERR_KES_INVALID_CONFIG` for a broken
 *   config file or a key store that fails its check; CliFailure for a conflicting key
 *   (without --merge/--force), a store error mid-way, or an interrupt (Ctrl-C).
 */
export async function runMigrate(args: MigrateArgs, ctx: CliContext): Promise<MigrateCounts> {
  checkMigrateArgs(args);
  const from = args.from as string;
  const to = args.to as string;
  const pattern = args.pattern ?? '*';

  const abort = new AbortController();
  const { signal } = abort;
  // The first Ctrl-C aborts the store call in flight and stops; the handlers are then
  // removed, so a second one ends the process at once.
  const stop = (): void => {
    abort.abort(new Error('interrupted'));
    offInt();
    offTerm();
  };
  const offInt = ctx.onSignal('SIGINT', stop);
  const offTerm = ctx.onSignal('SIGTERM', stop);
  const counts = newCounts();
  const opened: KeyStore[] = [];
  const progress = ctx.stderr.isTTY === true && !args.json;
  let timer: NodeJS.Timeout | undefined;
  let done = 0;
  const draw = (): void => {
    const width = (ctx.stderr as { columns?: number }).columns ?? 80;
    ctx.stderr.write(`\r\x1b[K${progressBar(done, counts.total, counts, width)}`);
  };
  try {
    const source = await open(from, ctx, 'source');
    opened.push(source.store);
    const target = await open(to, ctx, 'target');
    opened.push(target.store);
    const names = await matchingNames(source.store, pattern, signal);
    counts.total = names.length;
    if (!args.json && names.length > 0) {
      println(
        ctx.stdout,
        `Migrating ${names.length} key${names.length === 1 ? '' : 's'}${pattern === '*' ? '' : ` matching '${pattern}'`} from ${describeKeyStore(source.config.keyStore)} (${from}) to ${describeKeyStore(target.config.keyStore)} (${to})`,
      );
    }
    if (progress) timer = setInterval(draw, PROGRESS_INTERVAL_MS);
    await migrateKeys(source.store, target.store, names, counts, {
      signal,
      merge: args.merge,
      force: args.force,
      onKey: () => done++,
      // The line goes above the progress bar, which the next tick draws again.
      onFailure: (message) => ctx.stderr.write(`${progress ? '\r\x1b[K' : ''}${paintStderr(ctx, 'red', 'Error:')} ${message}\n`),
    });
    if (signal.aborted) {
      throw new CliFailure(`interrupted (${soFar(counts)}): run the same command again to continue (keys already copied are skipped)`);
    }
  } finally {
    if (timer) clearInterval(timer);
    if (progress && counts.total > 0) {
      draw();
      ctx.stderr.write('\n');
    }
    offInt();
    offTerm();
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
  }
  if (args.json) printJson(ctx, { from, to, pattern, ...counts });
  else if (counts.total === 0) println(ctx.stdout, `No key${pattern === '*' ? '' : ` matches '${pattern}'`}: nothing to migrate`);
  else println(ctx.stdout, `${paint(ctx, counts.failed > 0 ? 'yellow' : 'green', 'Done:')} ${summaryLine(counts)}`);
  if (counts.failed > 0) {
    throw new CliFailure(
      `${counts.failed} rotated key${counts.failed === 1 ? ' was' : 's were'} not copied (see above): migrate ${counts.failed === 1 ? 'it' : 'them'} to a key store that keeps version records (see 'Key versions' in docs/keystores)`,
    );
  }
  return counts;
}
