/**
 * Multi-process mode: one KES server made of several `node:cluster` workers, each a full
 * `createKesServer()` with its own key cache, sharing one listening port. This module is
 * the IPC between them, both ends:
 *
 * - `createKesClusterWorker(options)` in each worker: a `KesServer` whose `/v1/status` and
 *   `/v1/metrics` answer for every worker (the answering worker asks the primary, which
 *   collects each live worker's figures with a short timeout), and whose audit and error
 *   events reach the `/v1/log/*` subscribers of the other workers.
 * - `createKesClusterPrimary()` in the primary: answers those questions and fans log events
 *   out to the workers that hold subscribers.
 *
 * Hot path: generate, decrypt and the other key routes never touch IPC. A worker sends its
 * events to the primary only while another worker has a log subscriber of that kind.
 * Forking, restarting, reloading and stopping workers is the front end's job (`kes server`).
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { KesError } from '@kes/core';
import { createKesHandlerWith } from './handler.js';
import type { KesServerOptions } from './options.js';
import { createKesServerWith } from './server.js';
import type { KesServer } from './server.js';
import type { ClusterStatus, Shared, WorkerFacts } from './internal/context.js';
import type { LogKind } from './internal/logs.js';
import type { MetricsSnapshot } from './internal/metrics.js';
import { workerFacts } from './internal/process-info.js';

/** How long the primary waits for each worker's figures; a worker that does not answer is left out. */
const COLLECT_TIMEOUT_MS = 1_000;
/** How long a worker waits for the primary's answer before replying with its own figures only. */
const QUERY_TIMEOUT_MS = 2_000;

type What = 'status' | 'metrics';

/** How long a worker reuses the cluster's status figures (see `WorkerLink.attach`). */
const STATUS_TTL_MS = 250;

/** The IPC messages (all carry `kes` so that other users of the channel are left alone). */
type Message =
  /** worker → primary: the handler is up and answers `facts`. */
  | { kes: 'ready' }
  /** worker → primary: collect `what` from every worker. */
  | { kes: 'query'; id: number; what: What }
  /** primary → worker: the answer to `query`. */
  | { kes: 'answer'; id: number; startedAt: number; replies: unknown[] }
  /** primary → worker: send your own figures. */
  | { kes: 'facts'; id: number; what: What }
  /** worker → primary: the figures asked for. */
  | { kes: 'facts-reply'; id: number; data: unknown }
  /** worker → primary: how many local `/v1/log/*` streams it holds. */
  | { kes: 'subscribers'; audit: number; error: number }
  /** primary → worker: whether to send its events (someone elsewhere subscribes). */
  | { kes: 'forward'; audit: boolean; error: boolean }
  /** both ways: one audit or error event. */
  | { kes: 'event'; kind: LogKind; event: object };

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { kes?: unknown }).kes === 'string';
}

/** Sends without throwing: a channel that closed (the peer is exiting) just drops the message. */
function sendTo(target: Pick<Worker, 'send'> | NodeJS.Process, msg: Message): void {
  try {
    if (typeof target.send === 'function')
      (target.send as (m: unknown, h: undefined, o: undefined, cb: (e: Error | null) => void) => boolean)(msg, undefined, undefined, () => {});
  } catch {
    /* the channel is closed */
  }
}

/** The worker end: answers the primary's `facts`, asks it for the cluster's, carries log events. */
class WorkerLink {
  #shared: Shared | undefined;
  #status: { readonly at: number; readonly value: Promise<ClusterStatus> } | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (m: { startedAt: number; replies: unknown[] }) => void; timer: NodeJS.Timeout }>();

  constructor() {
    process.on('message', (m: unknown) => {
      if (isMessage(m)) this.#onMessage(m);
    });
  }

  attach(shared: Shared): void {
    this.#shared = shared;
    shared.logs.link(
      (kind, event) => sendTo(process, { kes: 'event', kind, event }),
      (audit, error) => sendTo(process, { kes: 'subscribers', audit, error }),
    );
    shared.cluster = {
      status: (): Promise<ClusterStatus> => {
        // One round trip through the primary per STATUS_TTL_MS, shared by every request in
        // that window: a status poller at full speed would otherwise cost two IPC hops each.
        const now = Date.now();
        const cached = this.#status;
        if (cached !== undefined && now - cached.at < STATUS_TTL_MS) return cached.value;
        const value = this.#query('status').then((a) => ({ startedAt: a.startedAt, workers: a.replies as WorkerFacts[] }));
        const entry = { at: now, value };
        this.#status = entry;
        value.catch(() => {
          if (this.#status === entry) this.#status = undefined;
        });
        return value;
      },
      metrics: async (): Promise<MetricsSnapshot[]> => (await this.#query('metrics')).replies as MetricsSnapshot[],
    };
    sendTo(process, { kes: 'ready' });
  }

  #query(what: What): Promise<{ startedAt: number; replies: unknown[] }> {
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the cluster primary did not answer within ${QUERY_TIMEOUT_MS} ms`));
      }, QUERY_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve, timer });
      sendTo(process, { kes: 'query', id, what });
    });
  }

  #onMessage(m: Message): void {
    const shared = this.#shared;
    if (!shared) return;
    switch (m.kes) {
      case 'answer': {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve({ startedAt: m.startedAt, replies: m.replies });
        return;
      }
      case 'facts': {
        const data = m.what === 'status' ? Promise.resolve(workerFacts(shared.metrics.served)) : shared.metrics.snapshot();
        void data.then(
          (d) => sendTo(process, { kes: 'facts-reply', id: m.id, data: d }),
          () => {},
        );
        return;
      }
      case 'forward':
        shared.logs.forward(m.audit, m.error);
        return;
      case 'event':
        shared.logs.deliver(m.kind, m.event);
        return;
      default:
        return;
    }
  }
}

/**
 * Creates the KES server of one `node:cluster` worker: `createKesServer(options)` whose
 * status, metrics and log streams cover every worker of the cluster (see the module notes).
 * Listen on the same port in every worker; node:cluster shares it (round-robin on Linux).
 *
 * @throws ERR_KES_INVALID_ARGUMENT when not called in a cluster worker; anything
 *   `createKesServer` throws.
 * @example
 * // in the worker branch of a node:cluster program, with createKesClusterPrimary() in the primary
 * const server = await createKesClusterWorker(options);
 * await server.listen(7373, '0.0.0.0');
 */
export async function createKesClusterWorker(options: KesServerOptions): Promise<KesServer> {
  if (!cluster.isWorker || typeof process.send !== 'function') {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['createKesClusterWorker must be called in a node:cluster worker']);
  }
  const link = new WorkerLink();
  return createKesServerWith(options, (o) => createKesHandlerWith(o, (shared) => link.attach(shared)));
}

/** The primary end of a KES cluster (see {@link createKesClusterPrimary}). */
export interface KesClusterPrimary {
  /** Process ids of the workers whose server is up. */
  readonly workers: readonly number[];
  /** Stops answering workers (the primary is exiting). */
  close(): void;
}

/**
 * Attaches to `node:cluster` in the primary process: answers the workers' status and
 * metrics questions (collecting every live worker's figures, at most 1 s each) and fans
 * audit and error events out to the workers that hold `/v1/log/*` subscribers. Forking and
 * replacing workers stays with the caller; workers forked later are picked up.
 *
 * @throws ERR_KES_INVALID_ARGUMENT when not called in the cluster primary.
 * @example
 * const primary = createKesClusterPrimary();
 * for (let i = 0; i < availableParallelism(); i++) cluster.fork();
 */
export function createKesClusterPrimary(): KesClusterPrimary {
  if (!cluster.isPrimary) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['createKesClusterPrimary must be called in the node:cluster primary']);
  const startedAt = Date.now();
  const ready = new Set<Worker>();
  const subscribers = new Map<Worker, { audit: number; error: number }>();
  const forwarding = new Map<Worker, string>();
  const pending = new Map<number, (data: unknown) => void>();
  let seq = 0;

  /** Each worker forwards a kind exactly while another worker has a subscriber of it. */
  const updateForwarding = (): void => {
    for (const w of ready) {
      let audit = false;
      let error = false;
      for (const [v, s] of subscribers) {
        if (v === w) continue;
        audit ||= s.audit > 0;
        error ||= s.error > 0;
      }
      const key = `${audit}/${error}`;
      if (forwarding.get(w) === key) continue;
      forwarding.set(w, key);
      sendTo(w, { kes: 'forward', audit, error });
    }
  };

  const collect = (what: What): Promise<unknown[]> => {
    const id = ++seq;
    const workers = [...ready].filter((w) => w.isConnected());
    return new Promise((resolve) => {
      const replies: unknown[] = [];
      let left = workers.length;
      const finish = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(replies);
      };
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      if (left === 0) return finish();
      pending.set(id, (data) => {
        replies.push(data);
        if (--left === 0) finish();
      });
      for (const w of workers) sendTo(w, { kes: 'facts', id, what });
    });
  };

  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isMessage(m)) return;
    switch (m.kes) {
      case 'ready':
        ready.add(worker);
        updateForwarding();
        return;
      case 'query':
        void collect(m.what).then((replies) => sendTo(worker, { kes: 'answer', id: m.id, startedAt, replies }));
        return;
      case 'facts-reply':
        pending.get(m.id)?.(m.data);
        return;
      case 'subscribers':
        subscribers.set(worker, { audit: m.audit, error: m.error });
        updateForwarding();
        return;
      case 'event':
        for (const [w, s] of subscribers) {
          if (w !== worker && (m.kind === 'audit' ? s.audit : s.error) > 0) sendTo(w, m);
        }
        return;
      default:
        return;
    }
  };
  const onExit = (worker: Worker): void => {
    ready.delete(worker);
    subscribers.delete(worker);
    forwarding.delete(worker);
    updateForwarding();
  };
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  return {
    get workers() {
      return [...ready].map((w) => w.process.pid ?? 0);
    },
    close() {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
    },
  };
}
