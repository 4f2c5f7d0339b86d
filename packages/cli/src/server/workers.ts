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
