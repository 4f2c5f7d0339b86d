import { describe, expect, it } from 'vitest';
import { fortanixErrorText } from './fortanix-http.js';

const res = (status: number, text: string) => {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  return { status, text, body };
};

describe('fortanixErrorText', () => {
  it('reads DSM plain-text errors as they are', () => {
    expect(fortanixErrorText(res(404, 'sobject does not exist'))).toBe('sobject does not exist');
  });
  it('reads the message of a JSON error body, and a JSON string', () => {
    expect(fortanixErrorText(res(409, '{"code":"Conflict","message":"sobject already exists"}'))).toBe('sobject already exists');
    expect(fortanixErrorText(res(400, '"bad request"'))).toBe('bad request');
  });
  it('makes one line and cuts long texts at 200 characters', () => {
    expect(fortanixErrorText(res(500, 'a\nb\r\n  c'))).toBe('a b c');
    const long = fortanixErrorText(res(500, 'x'.repeat(500)));
    expect(long).toBe(`${'x'.repeat(200)}…`);
  });
  it('an empty body gives an empty text', () => {
    expect(fortanixErrorText(res(502, ''))).toBe('');
  });
});
