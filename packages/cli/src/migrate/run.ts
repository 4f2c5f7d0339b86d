// `kes migrate --from A.yml --to B.yml [--merge | --force] [PATTERN]`: copies the stored
// key values from one key store to another, byte for byte (no re-encoding, so every
// format version survives). Safe to interrupt and re-run: a key the target already
// holds with the same bytes is skipped, and nothing is overwritten without --force.
import { timingSafeEqual } from 'node:crypto';
import { isKesError, matchPattern } from '@kes/core';
import type { KeyStore } from '@kes/core';
import type { MigrateArgs } from '../commands/migrate.js';
import { describeKeyStore, openKeyStore } from '../config/keystores/index.js';
import { loadConfigFile } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { printJson } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';
import { causeText, checkKeyStoreAtStart } from '../server/key-store-check.js';

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

/** The summary line (`12 copied, 3 skipped (already in the target) of 15 keys`). */
export function summaryLine(counts: MigrateCounts): string {
  const parts = [`${counts.copied} copied`];
  if (counts.skipped > 0) parts.push(`${counts.skipped} skipped (already in the target)`);
  if (counts.kept > 0) parts.push(`${counts.kept} kept (different in the target, --merge)`);
  if (counts.replaced > 0) parts.push(`${counts.replaced} replaced (--force)`);
  return `${parts.join(', ')} of ${counts.total} key${counts.total === 1 ? '' : 's'}`;
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

/**
 * Copies one key. The target's `create` is the atomic existence check (no
 * check-then-write race with a server using the target at the same time).
 */
async function copyKey(
  name: string,
  source: KeyStore,
  target: KeyStore,
  args: MigrateArgs,
  counts: MigrateCounts,
  signal: AbortSignal,
): Promise<void> {
  const value = await source.get(name, { signal });
  try {
    try {
      await target.create(name, value, { signal });
      counts.copied++;
      return;
    } catch (err) {
      if (!isKesError(err, 'ERR_KES_KEY_EXISTS')) throw err;
    }
    const existing = await target.get(name, { signal });
    try {
      if (sameBytes(existing, value)) {
        counts.skipped++;
      } else if (args.merge) {
        counts.kept++;
      } else if (args.force) {
        // Not atomic: interrupted between the two calls, the target lacks the key until
        // the next run copies it again. The source is never changed, so nothing is lost.
        await target.delete(name, { signal });
        await target.create(name, value, { signal });
        counts.replaced++;
      } else {
        throw new CliFailure(
          `key '${name}' already exists in the target with a different value; nothing was overwritten (${soFar(counts)}). Re-run with --merge to keep the target's keys, or --force to replace them`,
        );
      }
    } finally {
      existing.fill(0);
    }
  } finally {
    // Key material: wiped as soon as it has been written.
    value.fill(0);
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
  const counts: MigrateCounts = { total: 0, copied: 0, skipped: 0, kept: 0, replaced: 0 };
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
    for (const name of names) {
      if (signal.aborted) break;
      try {
        await copyKey(name, source.store, target.store, args, counts, signal);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof CliFailure) throw err;
        throw new CliFailure(
          `copying key '${name}' failed: ${causeText(err)} (${soFar(counts)}): fix the problem and run the same command again to continue`,
          { cause: err },
        );
      }
      done++;
    }
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
  else println(ctx.stdout, `${paint(ctx, 'green', 'Done:')} ${summaryLine(counts)}`);
  return counts;
}
