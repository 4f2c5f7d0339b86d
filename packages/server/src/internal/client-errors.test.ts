import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, KesError } from '@kes/core';
import type { KesErrorCode } from '@kes/core';
import { CLIENT_CODES, LIBRARY_ONLY_CODES, causeChain, clientError } from './client-errors.js';

const ALL = Object.keys(ERROR_CATALOGUE) as KesErrorCode[];

describe('client-visible error codes', () => {
  it('are every catalogued code except the library-only ones', () => {
    for (const code of ALL) expect(CLIENT_CODES.has(code)).toBe(!LIBRARY_ONLY_CODES.has(code));
    for (const code of LIBRARY_ONLY_CODES) expect(ALL).toContain(code);
  });

  it('keep the 36 codes the server has always shown, ERR_KES_AUDIT_UNAVAILABLE (audit file, fail-closed), the 8 key-version codes and ERR_KES_INTERNAL', () => {
    expect(CLIENT_CODES.size).toBe(45);
    for (const code of [
      'ERR_KES_VERSIONS_DISABLED',
      'ERR_KES_INVALID_VERSION',
      'ERR_KES_VERSION_NOT_FOUND',
      'ERR_KES_VERSION_NOT_ALLOWED',
    ] as const) {
      expect(CLIENT_CODES.has(code)).toBe(true);
    }
    expect(CLIENT_CODES.has('ERR_KES_AUDIT_UNAVAILABLE')).toBe(true);
    expect(CLIENT_CODES.has('ERR_KES_INTERNAL')).toBe(true);
  });

  it('pass a client-visible error through as it is', () => {
    const e = new KesError('ERR_KES_KEY_NOT_FOUND');
    expect(clientError(e)).toBe(e);
  });

  it.each([...LIBRARY_ONLY_CODES])('turn %s into a generic 500 with the error as cause', (code) => {
    const e = new KesError(code as 'ERR_KES_INVALID_ARGUMENT', ['/etc/kes/secret-path']);
    const out = clientError(e);
    expect(out.code).toBe('ERR_KES_INTERNAL');
    expect(out.status).toBe(500);
    expect(out.message).toBe('internal server error');
    expect(out.cause).toBe(e);
  });

  it('turn anything else into a generic 500', () => {
    expect(clientError(new Error('vault said no')).message).toBe('internal server error');
    expect(clientError('text').code).toBe('ERR_KES_INTERNAL');
  });
});

describe('causeChain', () => {
  it('joins the messages of an error and its causes, at most five', () => {
    const inner = new Error('e3', { cause: 'e4' });
    expect(causeChain(new Error('e1', { cause: new Error('e2', { cause: inner }) }))).toBe('e1: e2: e3: e4');
    let deep: unknown = 'bottom';
    for (let i = 0; i < 10; i++) deep = new Error(`e${i}`, { cause: deep });
    expect(causeChain(deep)?.split(': ')).toHaveLength(5);
    expect(causeChain(undefined)).toBeUndefined();
  });
});
