/**
 * What a route is and what its handler sees. A route is one entry of the route table
 * (`routes/table.ts`): key, method, limits, authentication, metrics flag *and* the
 * function that serves it, so adding a route is one entry in one resource module.
 */
import type { LogHub } from './logs.js';
import type { Metrics, MetricsSnapshot } from './metrics.js';
import type { RouteDeadline } from './deadline.js';
import type { AnyRequest, AnyResponse } from './http.js';
import type { State } from './state.js';

/** How a route authenticates: nothing, identify only, or identify + admin/policy check. */
export type RouteAuth = 'none' | 'identify' | 'policy';

/**
 * Serves one request. Returns (or resolves to) the status it answered with; failures are
 * thrown as `KesError`s and turned into error replies by the pipeline.
 */
export type RouteHandler = (ctx: Ctx) => Promise<number> | number;

/** One entry of the route table. */
export interface RouteSpec {
  /** Short name, for tests and logs (`key-create`, `identity-self-describe`, …). */
  readonly id: string;
  /** Route key as in `/v1/api` and the config `api:` section (subtree routes end in `/`). */
  readonly key: string;
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** Body limit in bytes (1 MB = 1,000,000 bytes). */
  readonly maxBody: number;
  /** Default timeout in milliseconds; 0 = none. */
  readonly timeoutMs: number;
  readonly auth: RouteAuth;
  /** Counted by the `kes_http_request_*` metrics (key, policy and identity routes). */
  readonly counted: boolean;
  /**
   * The handler streams its reply (`res.write` as data comes). Such replies cannot be held
   * back until their audit record is written (see `audit-file.ts`).
   */
  readonly streams?: boolean;
  /** A key-version route (kes-ts): answers 404 `key versions are not enabled` and is left out of `/v1/api` while key versions are off. */
  readonly versions?: boolean;
  readonly handler: RouteHandler;
}

/** A route with config overrides applied. */
export interface Route extends RouteSpec {
  /** Accept header value of a 405 reply, precomputed. */
  readonly acceptHeader: string;
  /** Line of `/v1/api`, precomputed. */
  readonly apiEntry: string;
}

/** 1 MB as upstream counts body limits. */
export const MB = 1_000_000;
/** One second in milliseconds (route timeouts). */
export const S = 1000;

/** Handler-wide facts that survive reloads. */
export interface Shared {
  readonly metrics: Metrics;
  readonly logs: LogHub;
  readonly startedAt: number;
  /** `created_at` of policies and identities: server start, in the local zone. */
  readonly startedAtText: string;
  readonly versionBody: string;
  readonly version: string;
  /** True once close() started: log streams end immediately. */
  closing: boolean;
  /** Set in a cluster worker: `/v1/status` and `/v1/metrics` ask it for every worker's figures. */
  cluster?: ClusterView;
}

/** What a cluster worker's status and metrics routes can ask of the whole cluster (see `cluster.ts`). */
export interface ClusterView {
  /** Every live worker's status facts (this one's included); rejects after a short timeout. */
  status(): Promise<ClusterStatus>;
  /** Every live worker's metric snapshot; rejects after a short timeout. */
  metrics(): Promise<MetricsSnapshot[]>;
}

/** One worker's contribution to `/v1/status`. */
export interface WorkerFacts {
  readonly pid: number;
  readonly heapUsed: number;
  readonly stackUsed: number;
  /** Counted (key, policy, identity) requests it has finished. */
  readonly requests: number;
}

/** The cluster's status facts: when the primary started and each worker's figures. */
export interface ClusterStatus {
  readonly startedAt: number;
  readonly workers: readonly WorkerFacts[];
}

/** One request as the handlers see it. */
export interface Ctx {
  readonly shared: Shared;
  readonly state: State;
  readonly req: AnyRequest;
  readonly res: AnyResponse;
  readonly route: Route;
  readonly resource: string;
  readonly path: string;
  readonly method: string;
  identity: string;
  ip: string;
  /** The route timeout (undefined for routes without one); see `signalOf`. */
  readonly deadline: RouteDeadline | undefined;
}

const NEVER = new AbortController().signal;

/** The request's abort signal: aborted when the route timeout fires. Created on first use. */
export function signalOf(ctx: Ctx): AbortSignal {
  return ctx.deadline === undefined ? NEVER : ctx.deadline.signal;
}
