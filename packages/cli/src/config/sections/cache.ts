// `cache.expiry`: the three cache sweeps, as Go durations.
import type { CacheOptions } from '@kes/server';
import { durationMs, mapAt } from '../values.js';
import type { CheckContext } from '../values.js';

/** Upstream's defaults: any 5m, unused 30s, offline 0 (off). */
const DEFAULTS = { expiryAnyMs: 5 * 60_000, expiryUnusedMs: 30_000, expiryOfflineMs: 0 } as const;

/**
 * Checks `cache.expiry`; returns the server's cache options, defaults filled in.
 *
 * A zero `any` or `unused` (`0`, `0s`) means the default, as upstream reads a zero
 * duration: a value that would keep keys cached forever must not be one typo away
 * (`0s` for `30s`). A zero `offline` is the default anyway (offline caching off).
 */
export function checkCache(ctx: CheckContext): Required<Pick<CacheOptions, 'expiryAnyMs' | 'expiryUnusedMs' | 'expiryOfflineMs'>> {
  const expiry = mapAt(mapAt(ctx.doc, 'cache'), 'expiry');
  const orDefault = (ms: number | undefined, fallback: number): number => (ms === undefined || ms === 0 ? fallback : ms);
  return {
    expiryAnyMs: orDefault(durationMs(expiry.any, ['cache', 'expiry', 'any'], ctx), DEFAULTS.expiryAnyMs),
    expiryUnusedMs: orDefault(durationMs(expiry.unused, ['cache', 'expiry', 'unused'], ctx), DEFAULTS.expiryUnusedMs),
    expiryOfflineMs: durationMs(expiry.offline, ['cache', 'expiry', 'offline'], ctx) ?? DEFAULTS.expiryOfflineMs,
  };
}
