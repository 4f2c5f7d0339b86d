// `api`: per-route timeout and skip_auth, keyed exactly as `/v1/api` lists the routes
// (the server's route table is the one list of route keys).
import { API_ROUTE_KEYS } from '@kes/server';
import type { RouteOverride } from '@kes/server';
import { didYouMean } from '../suggest.js';
import { durationMs, isMap } from '../values.js';
import type { CheckContext } from '../values.js';

/** Checks `api`; returns the server's route overrides. */
export function checkApi(ctx: CheckContext): Record<string, RouteOverride> {
  const api: Record<string, RouteOverride> = {};
  if (!isMap(ctx.doc.api)) return api;
  for (const [route, settings] of Object.entries(ctx.doc.api)) {
    if (!API_ROUTE_KEYS.includes(route)) {
      // An error, not a warning (upstream ignores it): a mistyped route key silently
      // drops the timeout or skip_auth the operator meant to set.
      ctx.problems.push({
        path: ['api', route],
        message: `unknown API route${didYouMean(route, API_ROUTE_KEYS)}: route keys must be written exactly as /v1/api lists them (key, policy and identity routes end with '/')`,
      });
      continue;
    }
    if (!isMap(settings)) continue;
    const timeoutMs = durationMs(settings.timeout, ['api', route, 'timeout'], ctx);
    api[route] = {
      ...(timeoutMs !== undefined && timeoutMs > 0 ? { timeoutMs } : {}),
      ...(settings.skip_auth === true ? { skipAuth: true } : {}),
    };
  }
  return api;
}
