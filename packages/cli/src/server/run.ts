// `kes server`: prepares the server (./prepare.ts), starts it, prints the banner
// (./banner.ts), and handles SIGHUP (reload) and SIGINT/SIGTERM (graceful stop).
// With more than one worker the process is a cluster primary (./cluster.ts) and this
// file also runs in each of its workers, which take reload and stop from the primary.
import { KesError } from '@kes/core';
import cluster from 'node:cluster';
import { createKesClusterWorker, createKesServer, splitHostPort } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { ServerArgs } from '../commands/server.js';
import { isConfigError } from '../config/config-error.js';
import { println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { UsageError } from '../internal/usage-error.js';
import { adminText, printBanner, printWarnings } from './banner.js';
import { loadServerConfig, prepare, prepareFrom, readConfig } from './prepare.js';
import { CLUSTER_MESSAGE, isClusterMessage, runPrimary } from './cluster.js';
import { CLOSE_TIMEOUT_MS, workerCount } from './workers.js';
import type { Prepared } from './prepare.js';
import { ServerLog } from './server-log.js';

/** Checks flag combinations that can never work (usage errors, exit code 2). */
function checkFlags(args: ServerArgs): void {
  if (args.dev) {
    const clash = (['config', 'cert', 'key', 'root', 'auth'] as const).filter((f) => args[f] !== undefined);
    if (clash.length > 0) throw new UsageError(`--dev cannot be combined with ${clash.map((f) => `--${f}`).join(', ')}`);
    return;
  }
  if (args.config === undefined) {
    const given = (['cert', 'key', 'root'] as const).filter((f) => args[f] !== undefined);
    if (given.length === 0) {
      throw new UsageError('no configuration: use --config FILE, --dev, or --cert CERTIFICATE --key PRIVATEKEY --root IDENTITY');
    }
    const missing = (['cert', 'key', 'root'] as const).filter((f) => args[f] === undefined || args[f] === '');
    if (missing.length > 0) {
      throw new UsageError(`without --config, ${missing.map((f) => `--${f}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required as well`);
    }
  }
  if (args.config === '') throw new UsageError('--config needs a file name');
}

/** What {@link runServer} hands back (used by in-process tests; the CLI waits for signals). */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Same as SIGHUP. */
  reload(): Promise<void>;
  /** Stops the server without exiting the process. */
  stop(): Promise<void>;
}

/**
 * Runs `kes server` until SIGINT/SIGTERM. Resolves once the server listens.
 *
 * @throws UsageError for conflicting flags; `ERR_KES_INVALID_CONFIG` for config problems;
 *   `ERR_KES_INVALID_ARGUMENT` when the server cannot start (TLS files, address in use).
 */
export async function runServer(args: ServerArgs, ctx: CliContext): Promise<RunningServer> {
  checkFlags(args);
  const log = new ServerLog(ctx, args.json === true || !ctx.stdoutIsTTY);
  // A cluster worker: the primary has checked the flags and the config and printed the warnings.
  const worker = cluster.isWorker;
  let current: Prepared;
  if (args.dev || worker) {
    // --dev keeps its keys in memory, in one process: `--workers 2` is refused.
    if (!worker) workerCount(args, undefined, ctx);
    current = await prepare(args, ctx, log);
  } else {
    const config = await readConfig(args, ctx);
    const workers = workerCount(args, config, ctx);
    if (workers > 1) return runPrimary(args, ctx, log, config, workers);
    current = await prepareFrom(config, args, log, undefined);
  }
  if (!worker) printWarnings(current, log);

  let server: KesServer;
  try {
    server = worker ? await createKesClusterWorker(current.options) : await createKesServer(current.options);
  } catch (err) {
    await current.options.keyStore.close().catch(() => {});
    throw startError(err);
  }
  const { host, port } = splitHostPort(current.address);
  let listening: { address: string; port: number };
  try {
    listening = await server.listen(port, host === '' ? '0.0.0.0' : host);
  } catch (err) {
    await server.close({ timeoutMs: 0 }).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'address already in use'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EADDRNOTAVAIL'
            ? 'address not available on this host'
            : (err as Error).message;
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`cannot listen on ${current.address}: ${why}`], { cause: err });
  }
  if (!worker) printBanner(current, listening.port, ctx, log);
  // Fixed at start: the listener is HTTP/1.1 only or HTTP/2 with fallback.
  const servesHttp2 = current.options.tls?.http2 === true;

  // SIGHUP: re-read the config file; a broken file is rejected and the old config stays.
  // A worker reloads when its primary says so (the primary has checked the file once).
  let reloading: Promise<boolean> = Promise.resolve(true);
  const reload = async (): Promise<boolean> => {
    if (!current.config || args.config === undefined) {
      log.log('WARN', 'SIGHUP ignored: there is no config file to reload');
      return false;
    }
    if (!worker) log.log('INFO', 'reloading configuration', { config: args.config });
    const old = current;
    let next: Prepared | undefined;
    try {
      const config = await loadServerConfig(args.config, args, ctx);
      const sameStore = JSON.stringify(config.keyStore) === JSON.stringify(old.config?.keyStore);
      next = await prepareFrom(config, args, log, sameStore ? old.options.keyStore : undefined);
      if (next.address !== old.address) log.log('WARN', `the listen address changed to ${next.address}; restart the server to apply it`);
      if (!worker && (next.options.tls?.http2 === true) !== servesHttp2)
        log.log('WARN', `tls.http2 changed to ${!servesHttp2}; restart the server to apply it`);
      await server.reload(next.options);
      if (!worker) printWarnings(next, log, true);
      if (next.options.keyStore !== old.options.keyStore) await old.options.keyStore.close().catch(() => {});
      current = next;
      if (!worker) {
        log.log('INFO', 'configuration reloaded', {
          policies: next.policies,
          policy_patterns: next.patterns,
          keystore: next.keyStoreText,
          admin: adminText(next.options.admin),
        });
      }
      return true;
    } catch (err) {
      if (next && next.options.keyStore !== old.options.keyStore) await next.options.keyStore.close().catch(() => {});
      const lines = isConfigError(err) ? err.problems : [err instanceof Error ? err.message : String(err)];
      log.log('ERROR', 'reload failed, keeping the current configuration', { problems: lines, ...(worker ? { pid: process.pid } : {}) });
      if (!log.json) for (const l of lines) println(ctx.stderr, `  ${l}`);
      return false;
    }
  };

  let stopping = false;
  const offs: (() => void)[] = [];
  const stop = (signal: string): void => {
    if (stopping) {
      log.log('WARN', `received ${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    if (!worker) log.log('INFO', `received ${signal}: shutting down`);
    void (async () => {
      await reloading.catch(() => {});
      await server.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch((err: unknown) => log.log('ERROR', 'error while stopping', { error: String(err) }));
      for (const off of offs) off();
      if (worker) {
        // The IPC channel would keep a worker alive: leave once drained.
        setImmediate(() => process.exit(0));
        return;
      }
      log.log('INFO', 'server stopped');
      // Anything still holding the event loop (a key-store SDK agent) must not keep us alive.
      setTimeout(() => process.exit(0), 2_000).unref();
    })();
  };
  if (worker) {
    // The primary coordinates reloads: a SIGHUP sent to the whole process group must
    // neither reload this worker a second time nor end it (the default action).
    offs.push(ctx.onSignal('SIGHUP', () => {}));
    const onMessage = (m: unknown): void => {
      if (!isClusterMessage(m)) return;
      if (m[CLUSTER_MESSAGE] === 'reload') {
        reloading = reloading.then(reload);
        void reloading.then((ok) => process.send?.({ [CLUSTER_MESSAGE]: ok ? 'reloaded' : 'reload-failed' }));
      } else if (m[CLUSTER_MESSAGE] === 'shutdown') {
        stop('shutdown');
      }
    };
    process.on('message', onMessage);
    offs.push(() => process.off('message', onMessage));
  } else {
    offs.push(ctx.onSignal('SIGHUP', () => (reloading = reloading.then(reload))));
  }
  offs.push(ctx.onSignal('SIGINT', () => stop('SIGINT')));
  offs.push(ctx.onSignal('SIGTERM', () => stop('SIGTERM')));
  return {
    url: `https://127.0.0.1:${listening.port}`,
    port: listening.port,
    reload: async () => {
      reloading = reloading.then(reload);
      await reloading;
    },
    async stop() {
      stopping = true;
      for (const off of offs) off();
      await server.close({ timeoutMs: CLOSE_TIMEOUT_MS });
    },
  };
}

/** Start-up failures caused by the environment (files, certificates) are expected errors, not bugs. */
function startError(err: unknown): unknown {
  if (err instanceof KesError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && (e.code.startsWith('E') || e.code.startsWith('ERR_'))) {
    const what = e.path ? `'${e.path}': ` : '';
    return new KesError('ERR_KES_INVALID_ARGUMENT', [`cannot start the server: ${what}${e.message}`], { cause: err });
  }
  return err;
}
