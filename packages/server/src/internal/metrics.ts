/**
 * Prometheus metrics with the exact upstream names, types, labels and buckets
 * (spec §9). One dedicated registry per handler — never prom-client's global one,
 * so several handlers in one process do not share or clash.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Aggregator, LabelValues, MetricObjectWithValues, MetricValue } from 'prom-client';
import { heapUsage, nonHeapMemory } from './process-info.js';
import { availableParallelism, cpus } from 'node:os';

/** Content type of the text exposition format 0.0.4, as Go's expfmt negotiates it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8; escaping=underscores';

type CounterChild = { inc(n?: number): void };

/** One worker's metric families as `Registry.getMetricsAsJSON()` returns them (cluster mode). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Prometheus text of several workers' snapshots, combined per family as its `aggregator`
 * says (counters, histograms and memory summed; CPU counts taken once; uptime the maximum).
 */
export async function renderAggregate(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  return exposition(await AggregatorRegistry.aggregate(snapshots as MetricsSnapshot[]).metrics());
}

/** prom-client text in Go's layout: no blank lines, labelled families without samples left out. */
function exposition(text: string): string {
  const out: string[] = [];
  for (const block of text.split(/(?=^# HELP )/m)) {
    // prom-client separates families with a blank line; Go's expfmt does not.
    const lines = block.split('\n').filter((l) => l !== '');
    if (lines.some((l) => !l.startsWith('#'))) out.push(`${lines.join('\n')}\n`);
  }
  return out.join('');
}

/** The metric set of one handler. */
export class Metrics {
  readonly registry = new Registry();
  readonly #success: Counter<'code'>;
  readonly #error: Counter<'code'>;
  readonly #failure: Counter<'code'>;
  readonly #active: Gauge;
  readonly #responseTime: Histogram;
  readonly #logError: Counter;
  readonly #logAudit: Counter;
  /** Label children cached per status code: avoids hashing the label set on every request. */
  readonly #children = new Map<number, CounterChild>();
  /** Counted requests finished by this process (cluster status: how the load spreads). */
  served = 0;

  constructor(startedAt: number) {
    const registers = [this.registry];
    // Registered in name order: the exposition is sorted by family name like Go's.
    this.#active = new Gauge({ name: 'kes_http_request_active', help: 'Number of active requests that are not finished, yet.', registers });
    this.#error = new Counter({
      name: 'kes_http_request_error',
      help: 'Number of requests that failed due to some error. (HTTP 4xx status code)',
      labelNames: ['code'],
      registers,
    });
    this.#failure = new Counter({
      name: 'kes_http_request_failure',
      help: 'Number of requests that failed due to some internal failure. (HTTP 5xx status code)',
      labelNames: ['code'],
      registers,
    });
    this.#success = new Counter({
      name: 'kes_http_request_success',
      help: 'Number of requests that have been served successfully.',
      labelNames: ['code'],
      registers,
    });
    this.#responseTime = new Histogram({
      name: 'kes_http_response_time',
      help: 'Histogram of request response times spawning from 10ms to 10s.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 3, 5, 10],
      registers,
    });
    this.#logAudit = new Counter({ name: 'kes_log_audit_events', help: 'Number of audit log events written to audit log targets.', registers });
    this.#logError = new Counter({ name: 'kes_log_error_events', help: 'Number of error log events written to error log targets.', registers });
    const gauge = (name: string, help: string, value: () => number, aggregator: Aggregator = 'sum'): void => {
      new Gauge({
        name,
        help,
        registers,
        aggregator,
        collect() {
          this.set(value());
        },
      });
    };
    gauge('kes_system_mem_heap_objects', 'Number of objects on the heap (not tracked by V8; always 0).', () => 0);
    gauge('kes_system_mem_heap_used', 'Number of bytes currently allocated on the heap.', () => heapUsage());
    gauge('kes_system_mem_stack_used', 'Number of bytes allocated outside the V8 heap (analogue of the Go stack).', () => nonHeapMemory());
    gauge('kes_system_num_cpu', 'Number of available CPUs.', () => cpus().length, 'first');
    gauge('kes_system_num_cpu_used', 'Number of CPUs the server may use.', () => availableParallelism(), 'first');
    gauge('kes_system_num_threads', 'Number of active async resources (analogue of goroutines).', () => process.getActiveResourcesInfo().length);
    gauge(
      'kes_system_up_time',
      'The time the server has been up and running in seconds.',
      () => Math.floor((Date.now() - startedAt) / 10) / 100,
      'max',
    );
  }

  /** Start of a counted request; returns its start time, to hand to `end()`. */
  begin(): number {
    this.#active.inc();
    return performance.now();
  }

  /** End of a counted request that began at `start` (no closure per request). */
  end(start: number, status: number): void {
    this.#active.dec();
    this.#responseTime.observe((performance.now() - start) / 1e3);
    let child = this.#children.get(status);
    if (!child) {
      const counter = status >= 500 ? this.#failure : status >= 400 ? this.#error : this.#success;
      child = counter.labels({ code: String(status) } as LabelValues<'code'>);
      this.#children.set(status, child);
    }
    child.inc();
    this.served++;
  }

  auditWritten(): void {
    this.#logAudit.inc();
  }

  errorWritten(): void {
    this.#logError.inc();
  }

  /** Text exposition; labelled counter families without samples are left out, like Go's client. */
  async render(): Promise<string> {
    return exposition(await this.registry.metrics());
  }

  /** This process' families, for another worker to aggregate (cluster mode). */
  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON() as Promise<MetricsSnapshot>;
  }
}
