// `kes metric`: request and error rates and latency. On a terminal a live view redrawn
// every `--rate` until Ctrl-C; otherwise (or with --json) one snapshot measured over
// one interval.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '@kes/core/wire';
import { connect } from '../client/connect.js';
import type { Connection } from '../client/connect.js';
import type { MetricArgs } from '../commands/metric.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { formatBytes, formatLatency, formatUptime, printJson } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';
import { parseMetrics, ratesBetween } from './sample.js';
import type { MetricRates, MetricSample } from './sample.js';

const DEFAULT_RATE = '1s';
const MIN_RATE_MS = 100;
const HISTORY = 40;
const SPARKS = '▁▂▃▄▅▆▇█';

/** The refresh interval of `--rate` in milliseconds. */
export function rateMs(rate: string | undefined): number {
  let ms: number;
  try {
    ms = parseDuration(rate ?? DEFAULT_RATE);
  } catch {
    throw new UsageError(`--rate '${rate}' is not a duration (e.g. 1s, 500ms, 5s)`);
  }
  if (!(ms >= MIN_RATE_MS)) throw new UsageError(`--rate must be at least ${MIN_RATE_MS}ms`);
  return ms;
}

async function scrape(conn: Connection, signal?: AbortSignal): Promise<MetricSample> {
  const text = await conn.run((c) => c.metrics(signal ? { signal } : {}));
  return parseMetrics(text, performance.now());
}

const round = (n: number | undefined, digits = 2): number | null => (n === undefined ? null : Math.round(n * 10 ** digits) / 10 ** digits);

/** The `--json` snapshot. */
export function snapshotJson(endpoint: string, cur: MetricSample, rates: MetricRates): Record<string, unknown> {
  return {
    endpoint,
    interval: round(rates.interval, 3),
    uptime: cur.uptime,
    requests: {
      total: cur.success + cur.error + cur.failure,
      success: cur.success,
      error: cur.error,
      failure: cur.failure,
      active: cur.active,
      by_code: cur.byCode,
    },
    rates: {
      requests: round(rates.requests),
      success: round(rates.success),
      errors: round(rates.errors),
      failures: round(rates.failures),
      audit_events: round(rates.auditEvents),
      error_events: round(rates.errorEvents),
    },
    latency_ms: { avg: round(rates.latencyAvg, 3), p50: round(rates.latencyP50), p90: round(rates.latencyP90), p99: round(rates.latencyP99) },
    memory: { heap: cur.heap, other: cur.stack },
    cpus: cur.cpus,
  };
}

function sparkline(values: readonly number[]): string {
  const max = Math.max(...values, 0);
  return values.map((v) => (max === 0 ? SPARKS[0] : SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1)))])).join('');
}

const perSecond = (n: number): string => `${n.toFixed(1).padStart(8)}/s`;
const upTo = (ms: number | undefined): string => (ms === undefined ? '-' : ms === Number.POSITIVE_INFINITY ? '>10s' : `≤${formatLatency(ms)}`);

/** The lines of one view (live frame or text snapshot). */
export function viewLines(ctx: CliContext, endpoint: string, cur: MetricSample, rates: MetricRates, history: readonly number[]): string[] {
  const b = (s: string) => paint(ctx, 'bold', s.padEnd(14));
  const total = cur.success + cur.error + cur.failure;
  const errs = rates.errors > 0 ? paint(ctx, 'yellow', perSecond(rates.errors)) : perSecond(rates.errors);
  const fails = rates.failures > 0 ? paint(ctx, 'red', perSecond(rates.failures)) : perSecond(rates.failures);
  return [
    `${paint(ctx, 'green', '●')} ${paint(ctx, 'bold', endpoint.replace(/^https:\/\//, ''))}   up ${formatUptime(cur.uptime)}`,
    '',
    `${b('Requests')}${perSecond(rates.requests)}   total ${total}   ${paint(ctx, 'cyan', sparkline(history))}`,
    `${b('  Success')}${perSecond(rates.success)}   total ${cur.success}`,
    `${b('  Errors 4xx')}${errs}   total ${cur.error}`,
    `${b('  Failed 5xx')}${fails}   total ${cur.failure}`,
    `${b('Active')}${String(cur.active).padStart(8)}`,
    `${b('Latency')}avg ${rates.latencyAvg === undefined ? '-' : formatLatency(rates.latencyAvg)}   p50 ${upTo(rates.latencyP50)}   p90 ${upTo(rates.latencyP90)}   p99 ${upTo(rates.latencyP99)}`,
    `${b('Log events')}audit ${rates.auditEvents.toFixed(1)}/s   error ${rates.errorEvents.toFixed(1)}/s`,
    `${b('Memory')}heap ${formatBytes(cur.heap)}   other ${formatBytes(cur.stack)}   CPUs ${cur.cpus}`,
  ];
}

/** Runs `kes metric`. */
export async function runMetric(args: MetricArgs, ctx: CliContext): Promise<void> {
  const interval = rateMs(args.rate);
  const conn = await connect(args, ctx);
  const endpoint = conn.settings.endpoints[0] ?? '';
  try {
    if (args.json || !ctx.stdoutIsTTY) {
      const first = await scrape(conn);
      await sleep(interval);
      const cur = await scrape(conn);
      const rates = ratesBetween(first, cur);
      if (args.json) printJson(ctx, snapshotJson(endpoint, cur, rates));
      else for (const l of viewLines(ctx, endpoint, cur, rates, [rates.requests])) println(ctx.stdout, l);
      return;
    }
    await live(conn, endpoint, interval, ctx);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The live view: redrawn in place every `interval` until Ctrl-C (which ends it with exit code 0). */
async function live(conn: Connection, endpoint: string, interval: number, ctx: CliContext): Promise<void> {
  const abort = new AbortController();
  const { signal } = abort;
  const stop = (): void => abort.abort();
  const offInt = ctx.onSignal('SIGINT', stop);
  const offTerm = ctx.onSignal('SIGTERM', stop);
  const out = ctx.stdout;
  const history: number[] = [];
  let drawn = 0;
  const draw = (lines: string[]): void => {
    // Back to the first line of the previous frame, clear to the end, draw anew.
    out.write(`${drawn > 0 ? `\x1b[${drawn}A\r\x1b[J` : ''}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  out.write('\x1b[?25l'); // hide the cursor while redrawing
  try {
    let prev = await scrape(conn);
    draw([`${paint(ctx, 'bold', endpoint.replace(/^https:\/\//, ''))}  measuring…`, '', paint(ctx, 'dim', 'Ctrl-C to quit')]);
    while (!signal.aborted) {
      try {
        await sleep(interval, undefined, { signal });
      } catch {
        break;
      }
      let cur: MetricSample;
      try {
        cur = await scrape(conn, signal);
      } catch (err) {
        if (signal.aborted) break;
        // The server may be restarting: say so and keep trying.
        draw([`${paint(ctx, 'red', '●')} ${err instanceof Error ? err.message : String(err)}`, '', paint(ctx, 'dim', 'retrying… Ctrl-C to quit')]);
        continue;
      }
      const rates = ratesBetween(prev, cur);
      history.push(rates.requests);
      if (history.length > HISTORY) history.shift();
      draw([
        ...viewLines(ctx, endpoint, cur, rates, history),
        '',
        paint(ctx, 'dim', `every ${interval % 1000 === 0 ? `${interval / 1000}s` : `${interval}ms`} · Ctrl-C to quit`),
      ]);
      prev = cur;
    }
  } finally {
    out.write('\x1b[?25h');
    offInt();
    offTerm();
  }
}
