import { describe, expect, it } from 'vitest';
import { EndpointPool, UNHEALTHY_MS, parseEndpoints } from './endpoints.js';

describe('parseEndpoints', () => {
  it('accepts https URLs, host:port and comma-separated lists', () => {
    expect(parseEndpoints('https://127.0.0.1:7373')).toEqual([{ url: 'https://127.0.0.1:7373', hostname: '127.0.0.1', port: 7373, basePath: '' }]);
    expect(parseEndpoints('kes-1:7373, kes-2:7373').map((e) => e.url)).toEqual(['https://kes-1:7373', 'https://kes-2:7373']);
    expect(parseEndpoints(['https://[::1]:7373/'])[0]).toEqual({ url: 'https://[::1]:7373', hostname: '::1', port: 7373, basePath: '' });
    expect(parseEndpoints('https://proxy.example/kes/')[0]).toEqual({
      url: 'https://proxy.example/kes',
      hostname: 'proxy.example',
      port: 443,
      basePath: '/kes',
    });
  });

  it('refuses what cannot be a KES endpoint, naming the problem', () => {
    expect(() => parseEndpoints('')).toThrow('endpoints must name at least one server');
    expect(() => parseEndpoints([])).toThrow('endpoints must name at least one server');
    expect(() => parseEndpoints('http://127.0.0.1:7373')).toThrow("endpoint 'http://127.0.0.1:7373' must use https");
    expect(() => parseEndpoints('https://u:p@h:1')).toThrow('must not carry credentials');
    expect(() => parseEndpoints('https://h:1/?x=1')).toThrow('must not carry credentials, a query or a fragment');
    expect(() => parseEndpoints('https://h:99999')).toThrow('is not a valid URL');
    try {
      parseEndpoints('http://x');
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_KES_INVALID_ARGUMENT');
    }
  });
});

describe('EndpointPool', () => {
  const endpoints = parseEndpoints('a:1,b:1,c:1');

  it('starts at a random endpoint and visits each once', () => {
    const starts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const order = new EndpointPool(endpoints).order();
      expect(new Set(order.map((e) => e.url)).size).toBe(3);
      starts.add((order[0] as { url: string }).url);
    }
    expect(starts.size).toBe(3);
  });

  it('puts endpoints marked bad last until UNHEALTHY_MS have passed', () => {
    const pool = new EndpointPool(endpoints);
    const a = endpoints[0]!;
    pool.markBad(a, 1000);
    for (let i = 0; i < 50; i++) expect(pool.order(1001).at(-1)).toBe(a);
    expect(pool.isBad(a, 1000 + UNHEALTHY_MS - 1)).toBe(true);
    expect(pool.isBad(a, 1000 + UNHEALTHY_MS)).toBe(false);
  });
});
