import { describe, expect, it } from 'vitest';
import { firstForwardedFor, headerValues } from './identify.js';
import type { AnyRequest } from './http.js';

describe('firstForwardedFor', () => {
  it.each([
    [['1.2.3.4'], '1.2.3.4'],
    [['1.2.3.4:5678'], '1.2.3.4'],
    [['1.1.1.1, 2.2.2.2'], '1.1.1.1'],
    [['1.1.1.1', '2.2.2.2'], '1.1.1.1'],
    [['[::1]:80'], '::1'],
    [['[::1]'], '::1'],
    [['::1'], '::1'],
    [['unknown, 1.2.3.4'], undefined],
    [['[::1'], undefined],
    [[':80'], undefined],
    [[], undefined],
  ] as [string[], string | undefined][])('%j → %s', (values, want) => {
    expect(firstForwardedFor(values)).toBe(want);
  });
});

describe('headerValues', () => {
  it('prefers the distinct values and splits a joined header otherwise', () => {
    expect(headerValues({ headersDistinct: { a: ['x', 'y'] }, headers: { a: 'x, y' } } as unknown as AnyRequest, 'a')).toEqual(['x', 'y']);
    expect(headerValues({ headers: { a: 'x, y,' } } as unknown as AnyRequest, 'a')).toEqual(['x', 'y']);
    expect(headerValues({ headers: {} } as unknown as AnyRequest, 'a')).toEqual([]);
  });
});
