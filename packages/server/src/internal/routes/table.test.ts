import { describe, expect, it } from 'vitest';
import { API_ROUTE_KEYS, ROUTE_SPECS } from './table.js';

describe('route table', () => {
  it('declares every route once, each with its handler', () => {
    expect(new Set(ROUTE_SPECS.map((r) => r.key)).size).toBe(ROUTE_SPECS.length);
    expect(new Set(ROUTE_SPECS.map((r) => r.id)).size).toBe(ROUTE_SPECS.length);
    for (const r of ROUTE_SPECS) expect(typeof r.handler).toBe('function');
  });

  it('lists API_ROUTE_KEYS in /v1/api order', () => {
    expect(API_ROUTE_KEYS).toEqual(ROUTE_SPECS.map((r) => r.key));
    expect(API_ROUTE_KEYS.slice(0, 5)).toEqual(['/version', '/v1/ready', '/v1/status', '/v1/metrics', '/v1/api']);
    expect(API_ROUTE_KEYS.slice(-2)).toEqual(['/v1/log/error', '/v1/log/audit']);
    expect(Object.isFrozen(API_ROUTE_KEYS)).toBe(true);
  });
});
