// `kes server` with several workers: this process becomes the node:cluster primary. It
// forks the workers (each runs `kes server` with the same flags, see ./run.ts), prints the
// banner once, replaces a worker that dies, checks a reloaded config once before every
// worker applies it, and drains every worker on SIGINT/SIGTERM. Status, metrics and log
// streams across workers are @kes/server's cluster layer (createKesClusterPrimary).
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { KesError } from '@kes/core';
import { createKesClusterPrimary, startAuditFileRotation } from '@kes/server';
import type { ServerArgs } from '../commands/server.js';
import { isConfigError } from '../config/config-error.js';
import type { LoadedConfig } from '../config/types.js';
import { println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { printBanner, printWarnings } from './banner.js';
import { AUTO_ROTATE_ENV, describeConfig, loadServerConfig, prepareFrom } from './prepare.js';
import type { RunningServer } from './run.js';
import { CLOSE_TIMEOUT_MS, workerCount, workerExecArgv } from './workers.js';
import type { ServerLog } from './server-log.js';

/** The field of the primary ↔ worker control messages (reload, shutdown). */
export const CLUSTER_MESSAGE = 'kesServer';

/** A control message: `reload` / `shutdown` to a worker, `reloaded` / `reload-failed` back. */
export type ClusterMessage = { readonly [CLUSTER_MESSAGE]: 'reload' | 'shutdown' | 'reloaded' | 'reload-failed' };

/** Whether `m` is one of our control messages. */
export function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[CLUSTER_MESSAGE] === 'string';
}

/** A worker that dies sooner than this after its start is replaced only after the same delay (no crash loop at full speed). */
const RESTART_BACKOFF_MS = 1_000;
/** How long the primary waits for the workers to apply a reload before it reports. */
const RELOAD_WAIT_MS = 30_000;

function send(w: Worker, m: ClusterMessage): void {
  try {
    w.send(m, undefined, () => {});
  } catch {
    /* the worker is exiting */
  }
}

/**
 * Runs the cluster primary of `kes server` with `count` workers. Resolves once every
 * worker listens; fails (every worker stopped) if one exits before.
 *
 * @throws `ERR_KES_INVALID_ARGUMENT` when a worker fails to start (it printed why).
 */
export async function runPrimary(args: ServerArgs, ctx: CliContext, log: ServerLog, config: LoadedConfig, count: number): Promise<RunningServer> {
  // The key store is checked here once, so that a broken one is reported once and no
  // worker is forked; each worker then opens its own.
  const checked = await prepareFrom(config, args, log, undefined);
  await checked.options.keyStore.close().catch(() => {});
  printWarnings({ config }, log);
  const primary = createKesClusterPrimary();
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, ctx.env.NODE_OPTIONS) });
  // Workers append to one audit file and follow its rotation; only this process rotates it.
  let auditFile = config.options.log.auditFile;
  const stopRotation = startAuditFileRotation(() => auditFile);
  const bornAt = new Map<Worker, number>();
  let stopping = false;
  let port = 0;

  // Automatic key rotation runs in one worker: the first, then whichever replaces it.
  let rotator: Worker | undefined;
  const fork = (): Worker => {
    const rotates = rotator === undefined || rotator.isDead();
    const w = cluster.fork({ [AUTO_ROTATE_ENV]: rotates ? '1' : '0' });
    if (rotates) rotator = w;
    bornAt.set(w, Date.now());
    w.once('listening', (a: { port: number }) => {
      if (port === 0) port = a.port;
      log.log('INFO', 'worker started', { worker: w.id, pid: w.process.pid });
    });
    return w;
  };
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const allExited = (timeoutMs: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (live().length > 0) return;
        cluster.off('exit', check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        cluster.off('exit', check);
        for (const w of live()) w.process.kill('SIGKILL');
        resolve();
      }, timeoutMs);
      cluster.on('exit', check);
      check();
    });

  // Start: every worker must come up, or none stays.
  try {
    await new Promise<void>((resolve, reject) => {
      let up = 0;
      for (let i = 0; i < count; i++) {
        const w = fork();
        const onExit = (code: number | null, signal: string | null): void =>
          reject(
            new KesError('ERR_KES_INVALID_ARGUMENT', [
              `cannot start the server: worker ${w.id} exited (${signal ?? `exit code ${code}`}) before it listened`,
            ]),
          );
        w.once('exit', onExit);
        w.once('listening', () => {
          w.off('exit', onExit);
          if (++up === count) resolve();
        });
      }
    });
  } catch (err) {
    stopping = true;
    for (const w of live()) w.process.kill('SIGTERM');
    await allExited(CLOSE_TIMEOUT_MS);
    stopRotation();
    primary.close();
    throw err;
  }

  // A worker that dies is logged and replaced; requests keep going to the others meanwhile.
  cluster.on('exit', (w, code, signal) => {
    const born = bornAt.get(w) ?? 0;
    bornAt.delete(w);
    if (stopping) return;
    log.log('ERROR', 'worker exited; starting a replacement', { worker: w.id, pid: w.process.pid, code, signal });
    const delay = Date.now() - born < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0;
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  printBanner(describeConfig(config, args, log), port, ctx, log, count);

  // Fixed at start, like the number of workers: HTTP/1.1 only or HTTP/2 with fallback.
  const servesHttp2 = config.options.tls.http2 === true;

  // SIGHUP: the file is checked here once; only a good one goes to the workers.
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    if (args.config === undefined) {
      log.log('WARN', 'SIGHUP ignored: there is no config file to reload');
      return;
    }
    log.log('INFO', 'reloading configuration', { config: args.config });
    let next: LoadedConfig;
    try {
      next = await loadServerConfig(args.config, args, ctx);
      if (next.keyStore.type === 'memory') workerCount({ ...args, workers: count }, next, ctx);
    } catch (err) {
      const lines = isConfigError(err) ? err.problems : [err instanceof Error ? err.message : String(err)];
      log.log('ERROR', 'reload failed, keeping the current configuration', { problems: lines });
      if (!log.json) for (const l of lines) println(ctx.stderr, `  ${l}`);
      return;
    }
    printWarnings({ config: next }, log, true);
    if ((next.options.tls.http2 === true) !== servesHttp2) log.log('WARN', `tls.http2 changed to ${!servesHttp2}; restart the server to apply it`);
    if ((next.workers ?? count) !== count && args.workers === undefined)
      log.log('WARN', `workers changed to ${next.workers}; restart the server to apply it`);
    const workers = live();
    const results = await Promise.all(workers.map((w) => reloadWorker(w)));
    const failed = results.filter((ok) => !ok).length;
    const facts = describeConfig(next, args, log);
    if (failed === 0) auditFile = next.options.log.auditFile;
    if (failed === 0) {
      log.log('INFO', 'configuration reloaded', { workers: workers.length, policies: facts.policies, keystore: facts.keyStoreText });
    } else {
      log.log('ERROR', 'reload failed in some workers; they keep their configuration', { workers: workers.length, failed });
    }
  };

  const stop = (signal: string): void => {
    if (stopping) {
      log.log('WARN', `received ${signal} again: exiting now`);
      for (const w of live()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log.log('INFO', `received ${signal}: shutting down`, { workers: live().length });
    void (async () => {
      await reloading.catch(() => {});
      for (const w of live()) send(w, { [CLUSTER_MESSAGE]: 'shutdown' });
      // Each worker drains within CLOSE_TIMEOUT_MS; a stuck one is killed after a margin.
      await allExited(CLOSE_TIMEOUT_MS + 3_000);
      for (const off of offs) off();
      stopRotation();
      primary.close();
      log.log('INFO', 'server stopped');
      setTimeout(() => process.exit(0), 100).unref();
    })();
  };
  const offs = [
    ctx.onSignal('SIGHUP', () => (reloading = reloading.then(reload))),
    ctx.onSignal('SIGINT', () => stop('SIGINT')),
    ctx.onSignal('SIGTERM', () => stop('SIGTERM')),
  ];
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    reload: async () => {
      reloading = reloading.then(reload);
      await reloading;
    },
    async stop() {
      stopping = true;
      for (const off of offs) off();
      for (const w of live()) send(w, { [CLUSTER_MESSAGE]: 'shutdown' });
      await allExited(CLOSE_TIMEOUT_MS + 3_000);
      stopRotation();
      primary.close();
    },
  };
}

/** Asks one worker to reload; true once it applied the file, false if it refused or left. */
function reloadWorker(w: Worker): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      resolve(ok);
    };
    const onMessage = (m: unknown): void => {
      if (isClusterMessage(m) && (m[CLUSTER_MESSAGE] === 'reloaded' || m[CLUSTER_MESSAGE] === 'reload-failed'))
        done(m[CLUSTER_MESSAGE] === 'reloaded');
    };
    const onExit = (): void => done(false);
    const timer = setTimeout(() => done(false), RELOAD_WAIT_MS);
    w.on('message', onMessage);
    w.once('exit', onExit);
    send(w, { [CLUSTER_MESSAGE]: 'reload' });
  });
}
