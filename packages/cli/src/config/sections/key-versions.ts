// `key_versions` (kes-ts): key versions and automatic rotation (docs/key-rotation.md).
import { isValidPattern } from '@kes/core';
import type { AutoRotateRule, KeyVersionsOptions } from '@kes/server';
import { durationMs, isMap, mapAt } from '../values.js';
import type { CheckContext } from '../values.js';

/** Shortest automatic rotation period: anything shorter is a typo (`90s` for `90d`). */
const MIN_PERIOD_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

/** A Go duration, or whole days as `90d` (Go durations stop at hours). */
function periodMs(v: unknown, path: (string | number)[], ctx: CheckContext): number | undefined {
  if (typeof v === 'string' && /^\s*[0-9]{1,5}d\s*$/.test(v)) return Number.parseInt(v, 10) * DAY_MS;
  return durationMs(v, path, ctx);
}

/**
 * Checks `key_versions`; returns the server's options, or `undefined` when the section is
 * absent (key versions off, exactly as upstream).
 */
export function checkKeyVersions(ctx: CheckContext): KeyVersionsOptions | undefined {
  if (ctx.doc.key_versions === undefined || ctx.doc.key_versions === null) return undefined;
  const section = mapAt(ctx.doc, 'key_versions');
  const enabled = section.enabled === true;
  const rules: AutoRotateRule[] = [];
  const list = Array.isArray(section.auto_rotate) ? section.auto_rotate : [];
  if (list.length > 0 && !enabled) {
    ctx.problems.push({ path: ['key_versions', 'auto_rotate'], message: 'needs key_versions.enabled: true' });
  }
  list.forEach((rule, i) => {
    if (!isMap(rule)) return;
    const at = ['key_versions', 'auto_rotate', i];
    const pattern = typeof rule.keys === 'string' ? rule.keys.trim() : '';
    if (!isValidPattern(pattern) || pattern === '') {
      ctx.problems.push({ path: [...at, 'keys'], message: `'${String(rule.keys)}' is not a key name or pattern (e.g. minio-*)` });
    }
    const every = periodMs(rule.every, [...at, 'every'], ctx);
    if (every !== undefined && every < MIN_PERIOD_MS) {
      ctx.problems.push({ path: [...at, 'every'], message: 'must be at least 1h (use e.g. 90d or 2160h)' });
    } else if (every !== undefined && isValidPattern(pattern) && pattern !== '') rules.push({ pattern, everyMs: every });
  });
  const check = durationMs(section.check_interval, ['key_versions', 'check_interval'], ctx);
  if (check !== undefined && check < 60_000) ctx.problems.push({ path: ['key_versions', 'check_interval'], message: 'must be at least 1m' });
  return {
    enabled,
    ...(rules.length > 0 ? { autoRotate: rules } : {}),
    ...(check !== undefined && check >= 60_000 ? { autoRotateCheckMs: check } : {}),
  };
}
