import { describe, expect, it } from 'vitest';
import { cleanPath, createRouter } from './router.js';
import { ROUTE_SPECS } from './routes/table.js';

describe('cleanPath', () => {
  it.each([
    ['/v1/status', '/v1/status'],
    ['', '/'],
    ['v1/status', '/v1/status'],
    ['/v1//key/list/', '/v1/key/list/'],
    ['/v1/key/list/./x', '/v1/key/list/x'],
    ['/v1/key/../status', '/v1/status'],
    ['/../..', '/'],
    ['/v1/key/list/.', '/v1/key/list'],
    ['/v1/key/describe/.hidden', '/v1/key/describe/.hidden'],
  ])('%s → %s', (input, want) => {
    expect(cleanPath(input)).toBe(want);
  });
});

describe('router', () => {
  const r = createRouter(undefined);
  it('has the 22 upstream routes', () => {
    expect(ROUTE_SPECS).toHaveLength(22);
    expect(r.routes.map((x) => x.key)).toEqual(ROUTE_SPECS.map((x) => x.key));
  });
  it('matches exact and subtree routes and cuts the resource', () => {
    expect(r.match('/v1/status')).toMatchObject({ kind: 'route', resource: '' });
    expect(r.match('/v1/key/encrypt/my-key')).toMatchObject({ kind: 'route', resource: 'my-key', route: { id: 'key-encrypt' } });
    expect(r.match('/v1/key/encrypt/a/b')).toMatchObject({ kind: 'route', resource: 'a/b' });
    expect(r.match('/v1/identity/self/describe')).toMatchObject({ kind: 'route', route: { id: 'identity-self-describe' } });
  });
  it('redirects subtree routes without the slash and 404s the rest', () => {
    expect(r.match('/v1/key/list')).toEqual({ kind: 'redirect', location: '/v1/key/list/' });
    expect(r.match('/v1/identity/self/describe/')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/status/')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/key/bulk/decrypt/x')).toEqual({ kind: 'not-found' });
  });
  it('applies overrides only to own keys and switches skip_auth routes to identify', () => {
    const o = createRouter(JSON.parse('{"__proto__":{"skipAuth":true},"/v1/metrics":{"skipAuth":true,"timeoutMs":0}}'));
    expect(o.anySkipAuth).toBe(true);
    const m = o.routes.find((x) => x.key === '/v1/metrics');
    expect(m).toMatchObject({ auth: 'identify', timeoutMs: 15_000 });
    expect(o.routes.find((x) => x.key === '/version')?.auth).toBe('none');
  });
});
