import { describe, expect, it } from 'vitest';
import { parseMetrics, ratesBetween } from './sample.js';

const text = (ok: number, notFound: number, failed: number, buckets: number[], sum: number) =>
  [
    '# HELP kes_http_request_active Number of active requests that are not finished, yet.',
    '# TYPE kes_http_request_active gauge',
    'kes_http_request_active 1',
    `kes_http_request_error{code="404"} ${notFound}`,
    `kes_http_request_failure{code="502"} ${failed}`,
    `kes_http_request_success{code="200"} ${ok}`,
    ...[0.01, 0.05, 0.1].map((le, i) => `kes_http_response_time_bucket{le="${le}"} ${buckets[i]}`),
    `kes_http_response_time_bucket{le="+Inf"} ${buckets[3]}`,
    `kes_http_response_time_sum ${sum}`,
    `kes_http_response_time_count ${buckets[3]}`,
    'kes_log_audit_events 7',
    'kes_system_up_time 12.5',
    'kes_system_num_cpu 4',
    '',
  ].join('\n');

describe('kes metric figures', () => {
  it('parses the KES families', () => {
    const s = parseMetrics(text(10, 2, 1, [5, 10, 13, 13], 0.2), 0);
    expect(s).toMatchObject({
      success: 10,
      error: 2,
      failure: 1,
      active: 1,
      byCode: { '200': 10, '404': 2, '502': 1 },
      auditEvents: 7,
      uptime: 12.5,
      cpus: 4,
    });
    expect(s.buckets.at(-1)).toEqual([Number.POSITIVE_INFINITY, 13]);
  });

  it('rates, average and percentile buckets between two samples', () => {
    const a = parseMetrics(text(10, 2, 1, [5, 10, 13, 13], 0.2), 1000);
    const b = parseMetrics(text(30, 4, 1, [20, 30, 35, 35], 0.64), 3000);
    const r = ratesBetween(a, b);
    expect(r.interval).toBe(2);
    expect(r.requests).toBe(11);
    expect(r.success).toBe(10);
    expect(r.errors).toBe(1);
    expect(r.failures).toBe(0);
    expect(r.latencyAvg).toBeCloseTo(20);
    expect(r.latencyP50).toBe(10); // 15 of 22 finished within 10 ms
    expect(r.latencyP90).toBe(50); // 20 of 22 within 50 ms
    expect(r.latencyP99).toBe(100);
  });

  it('an idle interval has no latency; a restarted server counts from zero', () => {
    const a = parseMetrics(text(10, 0, 0, [1, 1, 1, 1], 0.001), 0);
    expect(ratesBetween(a, { ...a, at: 1000 }).latencyAvg).toBeUndefined();
    const restarted = parseMetrics(text(3, 0, 0, [3, 3, 3, 3], 0.003), 1000);
    expect(ratesBetween(a, restarted).requests).toBe(3);
  });
});
