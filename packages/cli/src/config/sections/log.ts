// `log.error` / `log.audit`: console log levels, in every spelling upstream accepts; and
// kes-ts' `log.audit_file`: the audit file with size rotation and fail-closed mode.
import type { AuditFileOptions, LogLevel } from '@kes/server';
import type { CheckContext } from '../values.js';
import { isMap, mapAt, nonEmpty } from '../values.js';

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

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
};

/**
 * A size in bytes: an integer, or a number with a unit (`100MiB`, `1GB`, `512 KiB`).
 *
 * @returns the byte count, or `undefined` for a value that is no size.
 * @example
 * parseSize('100MiB'); // 104857600
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[(m[2] as string).toUpperCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Checks `log.audit_file` (absent → no audit file). */
function checkAuditFile(ctx: CheckContext, log: Record<string, unknown>): AuditFileOptions | undefined {
  const f = log.audit_file;
  if (!isMap(f) || ctx.broken.has('log.audit_file')) return undefined;
  const path = nonEmpty(f.path);
  if (path === undefined) {
    ctx.problems.push({ path: ['log', 'audit_file', 'path'], message: 'the audit file needs a path' });
    return undefined;
  }
  let maxSizeBytes: number | undefined;
  if (f.max_size !== undefined && !ctx.broken.has('log.audit_file.max_size')) {
    maxSizeBytes = parseSize(f.max_size);
    if (maxSizeBytes === undefined) {
      ctx.problems.push({
        path: ['log', 'audit_file', 'max_size'],
        message: `'${String(f.max_size)}' is not a size (bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB; 0 = never rotate)`,
      });
    }
  }
  let maxFiles: number | undefined;
  if (f.max_files !== undefined && !ctx.broken.has('log.audit_file.max_files')) {
    const t = String(f.max_files).trim();
    if (/^\d{1,6}$/.test(t)) maxFiles = Number(t);
    else ctx.problems.push({ path: ['log', 'audit_file', 'max_files'], message: `'${t}' is not a count: must be 0 or more (rotated files kept)` });
  }
  return {
    path: ctx.resolvePath(path),
    ...(f.fail_closed === true ? { failClosed: true } : {}),
    ...(f.fsync === true ? { fsync: true } : {}),
    ...(maxSizeBytes !== undefined ? { maxSizeBytes } : {}),
    ...(maxFiles !== undefined ? { maxFiles } : {}),
  };
}

/** Checks `log`; both levels default to INFO (upstream's config default). */
export function checkLog(ctx: CheckContext): { readonly error: LogLevel; readonly audit: LogLevel; readonly auditFile?: AuditFileOptions } {
  const log = mapAt(ctx.doc, 'log');
  const levels: { error: LogLevel; audit: LogLevel; auditFile?: AuditFileOptions } = { error: 'INFO', audit: 'INFO' };
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
  const auditFile = checkAuditFile(ctx, log);
  if (auditFile !== undefined) levels.auditFile = auditFile;
  return levels;
}
