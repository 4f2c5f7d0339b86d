/** System routes (spec §4.1–4.3, §9): version, readiness, status, metrics and the route list. */
import type { ServerResponse } from 'node:http';
import { KesError, isKesError } from '@kes/core';
import { S, signalOf } from '../context.js';
import type { Ctx, RouteSpec } from '../context.js';
import { replyEmpty, replyJson } from '../http.js';
import { METRICS_CONTENT_TYPE, renderAggregate } from '../metrics.js';
import { statusBody } from '../process-info.js';

function version(ctx: Ctx): number {
  return replyJson(ctx.res, ctx.shared.versionBody);
}

async function ready(ctx: Ctx): Promise<number> {
  try {
    await ctx.state.cache.status(signalOf(ctx));
  } catch (e) {
    if (isKesError(e, 'ERR_KES_KEYSTORE_UNREACHABLE')) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: e });
    throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: e });
  }
  return replyEmpty(ctx.res);
}

async function status(ctx: Ctx): Promise<number> {
  let ks: { latencyMs: number } | 'unreachable';
  try {
    ks = await ctx.state.cache.status(signalOf(ctx));
  } catch {
    ks = 'unreachable';
  }
  // A cluster worker answers for the whole server; if the primary does not answer in
  // time, the reply still comes, with this worker's own figures.
  const cluster = ctx.shared.cluster ? await ctx.shared.cluster.status().catch(() => undefined) : undefined;
  return replyJson(ctx.res, statusBody(ctx.shared.version, ctx.shared.startedAt, ks, cluster));
}

async function metrics(ctx: Ctx): Promise<number> {
  const view = ctx.shared.cluster;
  const snapshots = view ? await view.metrics().catch(() => undefined) : undefined;
  const text = snapshots ? await renderAggregate(snapshots) : await ctx.shared.metrics.render();
  const res = ctx.res as ServerResponse;
  res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
  return 200;
}

/** `/v1/api`: every route with the timeouts in effect (overrides applied). */
function api(ctx: Ctx): number {
  const routes = ctx.state.versions ? ctx.state.router.routes : ctx.state.router.routes.filter((r) => r.versions !== true);
  return replyJson(ctx.res, `[${routes.map((r) => r.apiEntry).join(',')}]`);
}

/** The system routes, in `/v1/api` order (they come first). `/version` needs no client certificate. */
export const SYSTEM_ROUTES: readonly RouteSpec[] = [
  { id: 'version', key: '/version', method: 'GET', maxBody: 0, timeoutMs: 10 * S, auth: 'none', counted: false, handler: version },
  { id: 'ready', key: '/v1/ready', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: false, handler: ready },
  { id: 'status', key: '/v1/status', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: false, handler: status },
  { id: 'metrics', key: '/v1/metrics', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: false, handler: metrics },
  { id: 'api', key: '/v1/api', method: 'GET', maxBody: 0, timeoutMs: 10 * S, auth: 'policy', counted: false, handler: api },
];
