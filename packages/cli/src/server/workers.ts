// How many processes `kes server` runs, and how long they get to stop.
import { KesError } from '@kes/core';
import type { ServerArgs } from '../commands/server.js';
import type { LoadedConfig } from '../config/types.js';
import type { CliContext } from '../internal/context.js';
import { UsageError } from '../internal/usage-error.js';

/** Grace period for in-flight requests on SIGINT/SIGTERM. */
export const CLOSE_TIMEOUT_MS = 5_000;

/**
 * How many server processes to run: `--workers`, else `workers:`, else the context's
 * default (one per CPU), but one for the in-memory store, which a process cannot share.
 *
 * @throws UsageError for `--workers` above 1 with the in-memory store; `ERR_KES_INVALID_CONFIG` for `workers:` so.
 */
export function workerCount(args: ServerArgs, config: LoadedConfig | undefined, ctx: CliContext): number {
  const memory = config === undefined || config.keyStore.type === 'memory';
  const why = 'the in-memory key store cannot be shared between worker processes (each would hold different keys): use 1 or a persistent key store';
  if (args.workers !== undefined) {
    if (args.workers > 1 && memory) throw new UsageError(`--workers ${args.workers}: ${why}`);
    return args.workers;
  }
  if (config?.workers !== undefined) {
    if (config.workers > 1 && memory) throw new KesError('ERR_KES_INVALID_CONFIG', [`${config.file}: workers: ${why}`]);
    return config.workers;
  }
  return memory ? 1 : Math.max(1, ctx.defaultWorkers ?? 1);
}

/** MB per semi-space of V8's young generation in a worker (see `workerExecArgv`). */
export const WORKER_SEMI_SPACE_MB = 4;

/**
 * The node flags of a worker: the primary's, plus a 4 MB cap on each semi-space of V8's
 * young generation unless the operator set one (in the flags or `NODE_OPTIONS`).
 *
 * Why: V8 grows the young generation to 16 MB per semi-space under load and keeps it; with
 * 4 MB a worker with 100,000 cached keys stays about 25 MB smaller, and generate/decrypt
 * throughput measured the same (docs/performance.md).
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const set = (flags: string): boolean => /--(max|min)[-_]semi[-_]space[-_]size/.test(flags);
  if (execArgv.some(set) || set(nodeOptions ?? '')) return [...execArgv];
  return [...execArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}
