// deploy/monitoring/ and docs/monitoring.md against what the server really exposes: a
// handler serves a mix of requests (2xx, 4xx, a key-store failure, a log subscriber),
// then every metric name used by the alert rules, the Grafana dashboard and the docs
// must be one its /v1/metrics shows, and every family it shows must be documented.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jsyaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { FlakyStore, setup } from '../../server/test/api-helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string): string => readFileSync(`${repo}${p}`, 'utf8');

/** Metrics Prometheus itself adds to every target; the only non-kes names the files may use. */
const PROMETHEUS_OWN = new Set(['up']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names an expression selects: label matchers, strings, ranges, numbers, functions and grouping removed. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\{?\w+\}?/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, '');
  return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)].filter((m) => !m[2] && !PROMQL_WORDS.has(m[1]!.toLowerCase())).map((m) => m[1]!);
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('monitoring: alert rules, dashboard and docs use the metrics /v1/metrics exposes', () => {
  /** Sample names (histogram series included) and family names of a real scrape. */
  const samples = new Set<string>();
  const families = new Map<string, string>();

  beforeAll(async () => {
    const store = new FlakyStore();
    const s = await setup({ keyStore: store });
    const as = (method: string, path: string, body?: string) => s.handler.inject({ method, path, identity: s.admin, ...(body ? { body } : {}) });
    // A log subscriber, so that log events are written and counted.
    const stop = new AbortController();
    const stream = s.handler.inject({ method: 'GET', path: '/v1/log/audit', identity: s.admin, signal: stop.signal });
    expect((await as('POST', '/v1/key/create/m')).status).toBe(200);
    expect((await as('POST', '/v1/key/generate/m', '{}')).status).toBe(200);
    expect((await as('POST', '/v1/key/create/m')).status).toBe(400);
    expect((await s.handler.inject({ method: 'GET', path: '/v1/key/describe/m', identity: 'f'.repeat(64) })).status).toBe(403);
    store.down = true;
    expect((await as('POST', '/v1/key/create/n')).status).toBeGreaterThanOrEqual(500);
    store.down = false;
    stop.abort();
    await stream;
    const scrape = await as('GET', '/v1/metrics');
    expect(scrape.status).toBe(200);
    for (const line of scrape.text().split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) families.set(type[1]!, type[2]!);
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
      if (sample && !line.startsWith('#')) samples.add(sample[1]!);
    }
    await s.handler.close();
  });

  it('the scrape has every family, with a sample each', () => {
    expect([...families.keys()].sort()).toEqual([
      'kes_http_request_active',
      'kes_http_request_error',
      'kes_http_request_failure',
      'kes_http_request_success',
      'kes_http_response_time',
      'kes_log_audit_events',
      'kes_log_error_events',
      'kes_system_mem_heap_objects',
      'kes_system_mem_heap_used',
      'kes_system_mem_stack_used',
      'kes_system_num_cpu',
      'kes_system_num_cpu_used',
      'kes_system_num_threads',
      'kes_system_up_time',
    ]);
    for (const [name, type] of families) {
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) expect(samples.has(`${name}${s}`), `${name}${s}`).toBe(true);
      else expect(samples.has(name), name).toBe(true);
    }
  });

  it('deploy/monitoring/alerts.yml is a valid Prometheus rule file over exposed metrics', () => {
    const file = jsyaml.load(read('deploy/monitoring/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] };
    expect(file.groups.length).toBeGreaterThan(0);
    const names = new Set<string>();
    for (const g of file.groups) {
      expect(g.name).toMatch(/\S/);
      for (const r of g.rules) {
        expect(
          Object.keys(r).every((k) => ['alert', 'record', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k)),
          JSON.stringify(r),
        ).toBe(true);
        expect(typeof r.alert === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(r.alert), JSON.stringify(r)).toBe(true);
        expect(names.has(r.alert!)).toBe(false);
        names.add(r.alert!);
        if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhdwy]$/);
        expect(r.labels?.severity).toMatch(/^(critical|warning|info)$/);
        expect(r.annotations?.summary).toMatch(/\S/);
        const used = metricNames(r.expr);
        expect(used.length, r.alert).toBeGreaterThan(0);
        for (const m of used) expect(samples.has(m) || PROMETHEUS_OWN.has(m), `${r.alert}: ${m}`).toBe(true);
      }
    }
  });

  it('deploy/monitoring/grafana-dashboard.json parses and every panel queries exposed metrics', () => {
    const dash = JSON.parse(read('deploy/monitoring/grafana-dashboard.json')) as {
      uid: string;
      panels: { id: number; title: string; targets: { expr: string }[] }[];
      templating: { list: { query: string | object }[] };
    };
    expect(dash.uid).toBe('kes-ts');
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    const exprs = [
      ...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dash.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string' && q.includes('(')),
    ];
    const seen = new Set<string>();
    for (const e of exprs) {
      const used = metricNames(e.replace(/label_values\(([^,]+),\s*\w+\)/, '$1'));
      expect(used.length, e).toBeGreaterThan(0);
      for (const m of used) {
        expect(samples.has(m) || PROMETHEUS_OWN.has(m), `${e}: ${m}`).toBe(true);
        seen.add(m);
      }
    }
    // The dashboard shows every family except the always-0 heap object count.
    const shown = [...families.keys()].filter((f) => f !== 'kes_system_mem_heap_objects' && f !== 'kes_system_num_cpu');
    for (const f of shown)
      expect(
        [...seen].some((m) => m === f || m.startsWith(`${f}_`)),
        f,
      ).toBe(true);
  });

  it('docs/monitoring.md documents every exposed family and names no other kes_ metric', () => {
    const doc = read('docs/monitoring.md');
    for (const f of families.keys()) expect(doc, f).toContain(`\`${f}\``);
    for (const m of doc.matchAll(/\bkes_[a-z_]+\b/g)) expect(samples.has(m[0]) || families.has(m[0]), m[0]).toBe(true);
  });

  it('the expression reader finds metric names and nothing else', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (instance, le) (rate(kes_http_response_time_bucket{job="$job"}[5m]))) > 0.5')).toEqual([
      'kes_http_response_time_bucket',
    ]);
    expect(metricNames('up{job="kes"} == 0 and on(instance) kes_system_up_time < 300')).toEqual(['up', 'kes_system_up_time']);
    expect(metricNames('kes_system_mem_heap_used > 400 * 1024 * 1e6')).toEqual(['kes_system_mem_heap_used']);
  });
});
