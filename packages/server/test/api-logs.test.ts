// Audit and error events, log streams, metrics, status (spec §4.4, §9, §11).
import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { FlakyStore, randomIdentity, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

const b64 = (t: string | Uint8Array): string => Buffer.from(t).toString('base64');

describe('audit', () => {
  it('emits one event per request on every route, including failures, with no secrets', async () => {
    s = await setup();
    const { handler, admin, audits } = s;
    const secretPlain = 'very-secret-plaintext-42';
    const importKey = new Uint8Array(32).fill(0xab);
    const requests = [
      { method: 'GET', path: '/version' },
      { method: 'PUT', path: '/v1/key/create/a', identity: admin },
      { method: 'PUT', path: '/v1/key/import/b', identity: admin, body: JSON.stringify({ key: b64(importKey), cipher: 'AES256' }) },
      { method: 'PUT', path: '/v1/key/encrypt/a', identity: admin, body: JSON.stringify({ plaintext: b64(secretPlain) }) },
      { method: 'PUT', path: '/v1/key/generate/a', identity: admin },
      { method: 'GET', path: '/v1/key/create/a', identity: admin }, // 405
      { method: 'GET', path: '/v1/status', identity: randomIdentity() }, // 403
      { method: 'GET', path: '/v1/status' }, // 400 no cert
      { method: 'GET', path: '/nope', identity: admin }, // 404
      { method: 'GET', path: '/v1/key/list', identity: admin }, // 301
      { method: 'GET', path: '/v1/metrics', identity: admin },
      { method: 'DELETE', path: '/v1/key/delete/a', identity: admin, remoteAddress: '192.0.2.1' },
    ];
    const bodies: string[] = [];
    for (const r of requests) bodies.push((await handler.inject(r)).text());
    expect(audits).toHaveLength(requests.length);
    const codes = audits.map((a: any) => a.response.code);
    expect(codes).toEqual([200, 200, 200, 200, 200, 405, 403, 400, 404, 301, 200, 200]);
    for (const [i, a] of (audits as any[]).entries()) {
      expect(Object.keys(a)).toEqual(['time', 'request', 'response']);
      expect(a.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(a.request.path).toBe(requests[i]!.path);
      expect(Number.isInteger(a.response.time)).toBe(true);
    }
    expect((audits[1] as any).request).toEqual({ path: '/v1/key/create/a', identity: admin });
    expect((audits[11] as any).request).toEqual({ ip: '192.0.2.1', path: '/v1/key/delete/a', identity: admin });
    expect((audits[0] as any).request).toEqual({ path: '/version' });
    // No plaintext, key bytes, ciphertexts or data keys in any event.
    const all = JSON.stringify(audits);
    const generated = JSON.parse(bodies[4]!) as { plaintext: string; ciphertext: string };
    const ciphertext = (JSON.parse(bodies[3]!) as { ciphertext: string }).ciphertext;
    for (const secret of [secretPlain, b64(secretPlain), b64(importKey), generated.plaintext, generated.ciphertext, ciphertext]) {
      expect(all).not.toContain(secret);
    }
  });

  it('writes audit lines to the console stream only when log.audit is on', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (d) => lines.push(String(d)));
    s = await setup({ log: { audit: 'INFO', error: 'off', auditStream: out, format: 'json' } });
    await s.handler.inject({ method: 'GET', path: '/v1/ready', identity: s.admin });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ request: { path: '/v1/ready', identity: s.admin }, response: { code: 200 } });
    await s.handler.close();
    const quiet = new PassThrough();
    let n = 0;
    quiet.on('data', () => n++);
    s = await setup({ log: { audit: 'off', error: 'off', auditStream: quiet } });
    await s.handler.inject({ method: 'GET', path: '/v1/ready', identity: s.admin });
    expect(n).toBe(0);
  });

  it('writes error records to the console error stream in slog text form', async () => {
    const err = new PassThrough();
    const lines: string[] = [];
    err.on('data', (d) => lines.push(String(d)));
    const store = new FlakyStore();
    store.down = true;
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 0 }, log: { error: 'ERROR', errorStream: err } });
    await s.handler.inject({ method: 'GET', path: '/v1/key/describe/k', identity: s.admin, remoteAddress: '10.1.2.3' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^time=\\S+ level=ERROR msg="failed to read key" req.method=GET req.path=/v1/key/describe/k req.ip=10.1.2.3 req.identity=${s.admin} err="key store is not reachable: backend at 10.0.0.7 refused the connection"\\n$`,
      ),
    );
  });
});

describe('log streams', () => {
  it('delivers audit events as ND-JSON to /v1/log/audit subscribers until they disconnect', async () => {
    s = await setup();
    const ac = new AbortController();
    const stream = s.handler.inject({ method: 'GET', path: '/v1/log/audit', identity: s.admin, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 10));
    await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: s.admin });
    await s.handler.inject({ method: 'GET', path: '/v1/key/describe/missing', identity: s.admin });
    ac.abort();
    const res = await stream;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    const events = res
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.request.path, e.response.code])).toEqual([
      ['/v1/key/create/k', 200],
      ['/v1/key/describe/missing', 404],
    ]);
    // The stream request itself is audited when it ends.
    expect((s.audits.at(-1) as any).request.path).toBe('/v1/log/audit');
  });

  it('delivers error events to /v1/log/error subscribers and ends streams on close', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 0 } });
    const stream = s.handler.inject({ method: 'GET', path: '/v1/log/error', identity: s.admin });
    await new Promise((r) => setTimeout(r, 10));
    store.down = true;
    await s.handler.inject({ method: 'GET', path: '/v1/key/describe/x', identity: s.admin });
    await s.handler.close();
    const res = await stream;
    const events = res
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(1);
    expect(Object.keys(events[0])).toEqual(['message']);
    expect(events[0].message).toMatch(/^time=\S+ level=ERROR msg="failed to read key" req\.method=GET req\.path=\/v1\/key\/describe\/x /);
    s = undefined;
  });

  it('log streams are policy-checked', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/log/audit', identity: randomIdentity() });
    expect(res.status).toBe(403);
  });
});

describe('metrics', () => {
  it('exposes the upstream metric names and types; counts only key/policy/identity routes', async () => {
    s = await setup();
    const { handler, admin } = s;
    await handler.inject({ method: 'PUT', path: '/v1/key/create/m', identity: admin });
    await handler.inject({ method: 'GET', path: '/v1/key/describe/none', identity: admin });
    await handler.inject({ method: 'GET', path: '/v1/status', identity: admin }); // not counted
    await handler.inject({ method: 'GET', path: '/v1/key/create/m', identity: admin }); // 405, not counted
    await handler.inject({ method: 'GET', path: '/v1/key/describe/m', identity: randomIdentity() }); // 403, not counted
    const res = await handler.inject({ method: 'GET', path: '/v1/metrics', identity: admin });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8; escaping=underscores');
    const text = res.text();
    const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(types).toEqual({
      kes_http_request_active: 'gauge',
      kes_http_request_error: 'counter',
      kes_http_request_success: 'counter',
      kes_http_response_time: 'histogram',
      kes_log_audit_events: 'counter',
      kes_log_error_events: 'counter',
      kes_system_mem_heap_objects: 'gauge',
      kes_system_mem_heap_used: 'gauge',
      kes_system_mem_stack_used: 'gauge',
      kes_system_num_cpu: 'gauge',
      kes_system_num_cpu_used: 'gauge',
      kes_system_num_threads: 'gauge',
      kes_system_up_time: 'gauge',
    });
    // kes_http_request_failure has no samples yet and is omitted like Go's client.
    expect(text).toContain('kes_http_request_success{code="200"} 1\n');
    expect(text).toContain('kes_http_request_error{code="404"} 1\n');
    expect(text).toContain('kes_http_response_time_count 2\n');
    for (const le of ['0.01', '0.05', '0.1', '0.25', '0.5', '1', '1.5', '3', '5', '10', '+Inf']) {
      expect(text).toContain(`kes_http_response_time_bucket{le="${le}"}`);
    }
    expect(text).not.toMatch(/kes_http_request_error\{code="40[35]"\}/);
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(names).toEqual([...names].sort());
  });
});

describe('status', () => {
  it('reports the process with Go names and the key-store latency', async () => {
    s = await setup({ build: { version: 'v9' } });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/status', identity: s.admin });
    expect(res.status).toBe(200);
    const body = res.json<Record<string, unknown>>();
    expect(Object.keys(body)).toEqual([
      'version',
      'os',
      'arch',
      'uptime',
      'num_cpu',
      'num_cpu_used',
      'mem_heap_used',
      'mem_stack_used',
      'keystore_latency',
    ]);
    expect(body.version).toBe('v9');
    expect(['linux', 'darwin', 'windows', 'freebsd']).toContain(body.os);
    expect(['amd64', 'arm64']).toContain(body.arch);
    expect(body.keystore_latency).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(body.uptime)).toBe(true);
  });
});
