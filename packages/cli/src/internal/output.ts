// Output helpers shared by the client commands: JSON, aligned tables, durations and sizes.
import { paint, println } from './context.js';
import type { CliContext } from './context.js';

/** Colour choice of `--color auto|never|always`. */
export type ColorWhen = 'auto' | 'never' | 'always';

/**
 * The context with colour as `--color` asks: `never` turns it off, `always` turns it
 * on even when the output is not a terminal, `auto` keeps the terminal check.
 * `NO_COLOR` always wins (https://no-color.org: the user asked for no colour at all).
 */
export function withColor(ctx: CliContext, when: ColorWhen | undefined): CliContext {
  if (when === undefined || when === 'auto') return ctx;
  const noColor = ctx.env.NO_COLOR !== undefined && ctx.env.NO_COLOR !== '';
  return { ...ctx, color: when === 'always' && !noColor };
}

/** Prints `value` as one line of JSON. */
export function printJson(ctx: CliContext, value: unknown): void {
  println(ctx.stdout, JSON.stringify(value));
}

/** Prints a list of names under an underlined header, or `(none)` hint for an empty list. */
export function printNames(ctx: CliContext, header: string, names: readonly string[]): void {
  println(ctx.stdout, paint(ctx, 'bold', header));
  println(ctx.stdout, paint(ctx, 'dim', '─'.repeat(Math.max(header.length, ...names.map((n) => n.length)))));
  for (const n of names) println(ctx.stdout, n);
}

/** Prints `label: value` rows with the labels padded to one width. */
export function printFields(ctx: CliContext, rows: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...rows.map(([l]) => l.length)) + 1;
  for (const [label, value] of rows) println(ctx.stdout, `${paint(ctx, 'bold', `${label}:`.padEnd(width + 1))}${value}`);
}

/** `1d 2h 3m 4s`-style duration from seconds (at most the two largest units). */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

/** A latency in milliseconds, with a unit that keeps two or three significant digits. */
export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

/** A byte count in binary units (`12.3 MiB`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, as upstream prints key dates. */
export function formatDate(date: Date | string | undefined): string {
  if (date === undefined) return '-';
  const d = typeof date === 'string' ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) return String(date);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')
    .replace(/Z$/, '');
}

/**
 * A list argument as a server pattern: listing is by prefix, so `my-` means `my-*`
 * (a bare `my-` is not a valid pattern: names never end in `-`).
 */
export function prefixPattern(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '' || prefix.endsWith('*')) return prefix ?? '';
  return `${prefix}*`;
}
