// The KES metrics (Prometheus text format) as figures, and rates between two samples.

/** One scrape of `/v1/metrics`. */
export interface MetricSample {
  /** When it was taken (ms, monotonic clock). */
  readonly at: number;
  /** Requests answered 2xx/3xx, 4xx and 5xx, total per status code. */
  readonly success: number;
  readonly error: number;
  readonly failure: number;
  readonly byCode: Readonly<Record<string, number>>;
  readonly active: number;
  /** Response-time histogram: cumulative counts per upper bound in seconds (`+Inf` last). */
  readonly buckets: ReadonlyArray<readonly [number, number]>;
  readonly latencySum: number;
  readonly latencyCount: number;
  readonly auditEvents: number;
  readonly errorEvents: number;
  readonly uptime: number;
  readonly heap: number;
  readonly stack: number;
  readonly cpus: number;
}

/** Figures between two samples. */
export interface MetricRates {
  /** Seconds between the samples. */
  readonly interval: number;
  /** Per second. */
  readonly requests: number;
  readonly success: number;
  readonly errors: number;
  readonly failures: number;
  readonly auditEvents: number;
  readonly errorEvents: number;
  /** Milliseconds; `undefined` when no request finished in the interval. */
  readonly latencyAvg: number | undefined;
  /** Upper bounds (ms) of the histogram buckets holding the 50th, 90th and 99th percentile. */
  readonly latencyP50: number | undefined;
  readonly latencyP90: number | undefined;
  readonly latencyP99: number | undefined;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;

function labelsOf(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1] as string] = (m[2] as string).replace(/\\(.)/g, '$1');
  return out;
}

/**
 * Parses the KES metrics out of a Prometheus text exposition. Unknown families are
 * ignored, missing ones count as zero (a fresh server has no labelled samples yet).
 */
export function parseMetrics(text: string, at: number): MetricSample {
  let success = 0;
  let error = 0;
  let failure = 0;
  const byCode: Record<string, number> = {};
  const buckets = new Map<number, number>();
  const scalars: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const labels = labelsOf(m[2]);
    switch (name) {
      case 'kes_http_request_success':
      case 'kes_http_request_error':
      case 'kes_http_request_failure': {
        if (name.endsWith('success')) success += value;
        else if (name.endsWith('error')) error += value;
        else failure += value;
        const code = labels.code ?? '?';
        byCode[code] = (byCode[code] ?? 0) + value;
        break;
      }
      case 'kes_http_response_time_bucket': {
        const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
        if (!Number.isNaN(le)) buckets.set(le, value);
        break;
      }
      default:
        scalars[name] = value;
    }
  }
  return {
    at,
    success,
    error,
    failure,
    byCode,
    active: scalars.kes_http_request_active ?? 0,
    buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]),
    latencySum: scalars.kes_http_response_time_sum ?? 0,
    latencyCount: scalars.kes_http_response_time_count ?? 0,
    auditEvents: scalars.kes_log_audit_events ?? 0,
    errorEvents: scalars.kes_log_error_events ?? 0,
    uptime: scalars.kes_system_up_time ?? 0,
    heap: scalars.kes_system_mem_heap_used ?? 0,
    stack: scalars.kes_system_mem_stack_used ?? 0,
    cpus: scalars.kes_system_num_cpu ?? 0,
  };
}

/** The upper bound (ms) of the bucket holding quantile `q` of the requests between two samples. */
function quantile(prev: MetricSample, cur: MetricSample, q: number): number | undefined {
  const before = new Map(prev.buckets);
  const deltas = cur.buckets.map(([le, n]) => [le, n - (before.get(le) ?? 0)] as const);
  const total = deltas.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  for (const [le, n] of deltas) if (n >= q * total) return le * 1000;
  return undefined;
}

/**
 * Rates from `prev` to `cur`. A counter that went down (the server restarted) is
 * read as counting from zero.
 */
export function ratesBetween(prev: MetricSample, cur: MetricSample): MetricRates {
  const interval = Math.max(0.001, (cur.at - prev.at) / 1000);
  const d = (a: number, b: number): number => (b >= a ? b - a : b);
  const dSuccess = d(prev.success, cur.success);
  const dError = d(prev.error, cur.error);
  const dFailure = d(prev.failure, cur.failure);
  const dCount = d(prev.latencyCount, cur.latencyCount);
  const dSum = cur.latencySum >= prev.latencySum ? cur.latencySum - prev.latencySum : cur.latencySum;
  return {
    interval,
    requests: (dSuccess + dError + dFailure) / interval,
    success: dSuccess / interval,
    errors: dError / interval,
    failures: dFailure / interval,
    auditEvents: d(prev.auditEvents, cur.auditEvents) / interval,
    errorEvents: d(prev.errorEvents, cur.errorEvents) / interval,
    latencyAvg: dCount > 0 ? (dSum / dCount) * 1000 : undefined,
    latencyP50: quantile(prev, cur, 0.5),
    latencyP90: quantile(prev, cur, 0.9),
    latencyP99: quantile(prev, cur, 0.99),
  };
}
