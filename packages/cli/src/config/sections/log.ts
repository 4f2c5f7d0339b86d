// `log.error` / `log.audit`: console log levels, in every spelling upstream accepts.
import type { LogLevel } from '@kes/server';
import type { CheckContext } from '../values.js';
import { mapAt } from '../values.js';

const BASE: Readonly<Record<string, number>> = { DEBUG: -4, INFO: 0, WARN: 4, ERROR: 8 };

/**
 * A level as upstream spells it (`on`, `off`, `WARN+2`, `-4`, a YAML boolean) → the
 * console level: the nearest one at or above it, `off` above ERROR.
 *
 * @returns the level, or `undefined` for a value that is no level.
 * @example
 * parseLogLevel('INFO+2'); // 'WARN'
 */
export function parseLogLevel(value: unknown): LogLevel | undefined {
  if (value === undefined || value === null || value === '') return 'INFO';
  if (value === true) return 'INFO';
  if (value === false) return 'off';
  const t = String(value).trim().toUpperCase();
  if (t === '' || t === 'ON') return 'INFO';
  if (t === 'OFF') return 'off';
  let n: number | undefined;
  const m = /^(DEBUG|INFO|WARN|ERROR)(?:\+(\d+))?$/.exec(t);
  if (m) n = (BASE[m[1] as string] as number) + Number(m[2] ?? 0);
  else if (/^[+-]?\d+$/.test(t)) n = Number(t);
  if (n === undefined) return undefined;
  if (n <= -4) return 'DEBUG';
  if (n <= 0) return 'INFO';
  if (n <= 4) return 'WARN';
  if (n <= 8) return 'ERROR';
  return 'off';
}

/** Checks `log`; both levels default to INFO (upstream's config default). */
export function checkLog(ctx: CheckContext): { readonly error: LogLevel; readonly audit: LogLevel } {
  const log = mapAt(ctx.doc, 'log');
  const levels = { error: 'INFO' as LogLevel, audit: 'INFO' as LogLevel };
  for (const stream of ['error', 'audit'] as const) {
    if (ctx.broken.has(`log.${stream}`)) continue;
    const level = parseLogLevel(log[stream]);
    if (level === undefined) {
      ctx.problems.push({
        path: ['log', stream],
        message: `'${String(log[stream])}' is not a log level (on, off, DEBUG, INFO, WARN, ERROR, LEVEL+N or a number)`,
      });
    } else {
      levels[stream] = level;
    }
  }
  return levels;
}
