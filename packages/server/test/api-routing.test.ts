// Routing, redirects, 404s, method checks, /v1/api and /version (spec §1.1, §2, §4).
import { afterEach, describe, expect, it } from 'vitest';
import { expectError, setup, vectors } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

describe('routing', () => {
  it('answers unknown paths with Go’s plain-text 404', async () => {
    s = await setup();
    for (const path of ['/', '/v1', '/v1/key', '/v1/nothing/here', '/version/', '/v1/identity/self/describe/x', '/v1/key/bulk/decrypt/k']) {
      const res = await s.handler.inject({ method: 'GET', path, identity: s.admin });
      expect(res.status, path).toBe(404);
      expect(res.text()).toBe('404 page not found\n');
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('redirects subtree routes without trailing slash with 301, keeping the query', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/list?x=1', identity: s.admin });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/v1/key/list/?x=1');
    const put = await s.handler.inject({ method: 'PUT', path: '/v1/key/create', identity: s.admin });
    expect(put.status).toBe(301);
    expect(put.headers.location).toBe('/v1/key/create/');
  });

  it('redirects paths with . / .. / // segments to the cleaned path', async () => {
    s = await setup();
    const cases: [string, string][] = [
      ['/v1/key/list/./a', '/v1/key/list/a'],
      ['/v1/key/describe/x/../k', '/v1/key/describe/k'],
      ['//v1/status', '/v1/status'],
      ['/v1//key/list/', '/v1/key/list/'],
      ['/v1/key/list/../../status?q=2', '/v1/status?q=2'],
    ];
    for (const [from, to] of cases) {
      const res = await s.handler.inject({ method: 'GET', path: from, identity: s.admin });
      expect(res.status, from).toBe(301);
      expect(res.headers.location, from).toBe(to);
    }
  });

  it('rejects other methods with 405, an Accept header and the exact message', async () => {
    s = await setup();
    const cases: [string, string, string][] = [
      ['GET', '/v1/key/create/k', 'PUT'],
      ['DELETE', '/v1/key/encrypt/k', 'PUT'],
      ['POST', '/v1/key/describe/k', 'GET'],
      ['PUT', '/v1/key/delete/k', 'DELETE'],
      ['HEAD', '/v1/status', 'GET'],
      ['OPTIONS', '/version', 'GET'],
      ['POST', '/v1/key/delete/k', 'DELETE'],
    ];
    for (const [method, path, want] of cases) {
      const res = await s.handler.inject({ method, path, identity: s.admin });
      expectError(res, 405, `received method '${method}' expected '${want}'`, expect);
      expect(res.headers.accept).toBe(want);
    }
    // The catalogue example, byte for byte.
    const example = vectors.error_messages.cases.find((c: any) => c.status === 405);
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/create/k', identity: s.admin });
    expectError(res, example.status, example.message, expect);
  });

  it('checks the method before authentication', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/create/k' }); // no certificate at all
    expect(res.status).toBe(405);
  });

  it('accepts POST where the route method is PUT', async () => {
    s = await setup();
    expect((await s.handler.inject({ method: 'POST', path: '/v1/key/create/k1', identity: s.admin })).status).toBe(200);
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k2', identity: s.admin })).status).toBe(200);
  });

  it('lists every route with its defaults on /v1/api (vectors route_defaults)', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/api', identity: s.admin });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.text().endsWith('\n')).toBe(true);
    const got = res.json<{ method: string; path: string; max_body: number; timeout: number }[]>();
    const want = vectors.route_defaults.cases.map((c: any) => ({ method: c.method, path: c.path, max_body: c.max_body, timeout: c.timeout_seconds }));
    expect(got).toHaveLength(want.length);
    expect([...got].sort((a, b) => a.path.localeCompare(b.path))).toEqual([...want].sort((a: any, b: any) => a.path.localeCompare(b.path)));
    // Field order as upstream.
    expect(res.text()).toContain('{"method":"GET","path":"/version","max_body":0,"timeout":10}');
  });

  it('reflects api timeout overrides on /v1/api and ignores unknown keys', async () => {
    s = await setup({ api: { '/v1/key/create/': { timeoutMs: 60_000 }, '/v1/key/create': { timeoutMs: 1000 }, '/nope': { skipAuth: true } } });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/api', identity: s.admin });
    const create = res.json<any[]>().find((r) => r.path === '/v1/key/create/');
    expect(create.timeout).toBe(60);
    expect(s.handler.allowsAnonymousHandshake).toBe(false);
  });

  it('rejects a negative timeout override', async () => {
    await expect(setup({ api: { '/v1/status': { timeoutMs: -1 } } })).rejects.toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: "invalid server options: api: timeout of '/v1/status' must not be negative",
    });
  });

  it('answers /version without any authentication', async () => {
    s = await setup({ build: { version: '1.2.3', commit: 'abc' } });
    const res = await s.handler.inject({ method: 'GET', path: '/version', tls: false });
    expect(res.status).toBe(200);
    expect(res.text()).toBe('{"version":"1.2.3","commit":"abc"}\n');
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('reports the package version and <unknown> commit by default', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/version' });
    expect(res.json()).toEqual({ version: '0.1.0', commit: '<unknown>' });
  });

  it('answers a malformed percent-escape with a plain 400', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/%zz', identity: s.admin });
    expect(res.status).toBe(400);
    expect(res.text()).toBe('400 Bad Request');
  });

  it('unescapes the path before cutting the resource', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/a%2Eb', identity: s.admin });
    expectError(res, 400, "key name 'a.b' is empty, too long or contains invalid characters", expect);
  });

  it('times out a route: the response is torn down without a status', async () => {
    const { FlakyStore } = await import('./api-helpers.js');
    const store = new FlakyStore();
    store.getDelayMs = 300;
    s = await setup({ keyStore: store, api: { '/v1/key/describe/': { timeoutMs: 50 } } });
    await expect(s.handler.inject({ method: 'GET', path: '/v1/key/describe/k', identity: s.admin })).rejects.toThrow(
      'the response was torn down without a status (route timeout)',
    );
    expect(s.errors.map((e: any) => e.message).some((m: string) => m.includes('msg="request timed out"'))).toBe(true);
  });
});
