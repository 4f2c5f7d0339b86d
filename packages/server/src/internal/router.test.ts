import { describe, expect, it } from 'vitest';
import { cleanPath, createRouter, goStringOfBytes, printable, requestPath, unescapePath } from './router.js';
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
  it('has the 22 upstream routes and the 5 key-version routes', () => {
    expect(ROUTE_SPECS.filter((x) => x.versions !== true)).toHaveLength(22);
    expect(ROUTE_SPECS.filter((x) => x.versions === true).map((x) => x.key)).toEqual([
      '/v1/key/rotate/',
      '/v1/key/versions/',
      '/v1/key/version/delete/',
      '/v1/key/version/config/',
      '/v1/key/rewrap/',
    ]);
    expect(r.routes.map((x) => x.key)).toEqual(ROUTE_SPECS.map((x) => x.key));
  });
  it('matches the four-segment key-version routes, escaped or not', () => {
    expect(r.match('/v1/key/version/delete/k')).toMatchObject({ kind: 'route', resource: 'k', route: { id: 'key-version-delete' } });
    expect(r.match('/v1/key/version/config/k')).toMatchObject({ kind: 'route', resource: 'k', route: { id: 'key-version-config' } });
    expect(r.match('/v1/key/version/config/%6b')).toMatchObject({ kind: 'route', resource: 'k', route: { id: 'key-version-config' } });
    expect(r.match('/v1/key/version/delete')).toEqual({ kind: 'redirect', location: '/v1/key/version/delete/' });
    expect(r.match('/v1/key/version%2Fdelete/k')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/key/version/k')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/key/version/')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/key/version/other/k')).toEqual({ kind: 'not-found' });
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
  it('matches escaped paths segment by segment: %2F is never a separator', () => {
    expect(r.match('/v1/key%2Fdescribe/k1')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1%2Fstatus')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/k%65y/describe/k1')).toMatchObject({ kind: 'route', route: { id: 'key-describe' }, resource: 'k1' });
    expect(r.match('/v1/st%61tus')).toMatchObject({ kind: 'route', route: { id: 'status' } });
    expect(r.match('/v1/key/describe/a%2Fb')).toMatchObject({ kind: 'route', resource: 'a/b' });
    expect(r.match('/v1/key/describe%2Fk1')).toEqual({ kind: 'not-found' });
    expect(r.match('/v1/key/l%69st')).toEqual({ kind: 'redirect', location: '/v1/key/list/' });
  });
  it('switches the handshake for skip_auth on any route, /version included', () => {
    expect(createRouter({ '/version': { skipAuth: true } }).anySkipAuth).toBe(true);
    expect(createRouter({ '/v1/identity/self/describe': { skipAuth: true } }).anySkipAuth).toBe(true);
    expect(createRouter({ '/version': { skipAuth: false } }).anySkipAuth).toBe(false);
  });
  it('applies overrides only to own keys and switches skip_auth routes to identify', () => {
    const o = createRouter(JSON.parse('{"__proto__":{"skipAuth":true},"/v1/metrics":{"skipAuth":true,"timeoutMs":0}}'));
    expect(o.anySkipAuth).toBe(true);
    const m = o.routes.find((x) => x.key === '/v1/metrics');
    expect(m).toMatchObject({ auth: 'identify', timeoutMs: 15_000 });
    expect(o.routes.find((x) => x.key === '/version')?.auth).toBe('none');
  });
});

describe('request targets and path bytes', () => {
  it('serves an absolute-form target by its path', () => {
    expect(requestPath('https://kes.example:7373/v1/ready?x=1')).toBe('/v1/ready?x=1');
    expect(requestPath('http://h')).toBe('');
    expect(requestPath('/v1/ready')).toBe('/v1/ready');
    expect(requestPath('*')).toBe('*');
  });
  it('keeps bytes that are not UTF-8 apart from a real U+FFFD, one per byte as Go reads them', () => {
    expect(unescapePath('/k/%ff')).toBe('/k/\udcff');
    expect(unescapePath('/k/%E2%82')).toBe('/k/\udce2\udc82');
    expect(unescapePath('/k/%EF%BF%BD')).toBe('/k/\ufffd');
    expect(unescapePath('/k/%ED%A0%80')).toBe('/k/\udced\udca0\udc80'); // an encoded surrogate is not UTF-8
    expect(goStringOfBytes(Buffer.from('ü€😀'))).toBe('ü€😀');
    expect(goStringOfBytes(new Uint8Array([0xf0, 0x9f, 0x98]))).toBe('\udcf0\udc9f\udc98');
    expect(printable('/k/\udcff')).toBe('/k/\ufffd');
  });
});
