import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, KesError } from '@kes/core';
import type { KesErrorCode } from '@kes/core';
import { KesClientError, errorOfReply, isKesClientError, kesErrorOf, replyMessage } from './errors.js';

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

describe('kesErrorOf: error replies back to catalogue codes', () => {
  const codes = Object.keys(ERROR_CATALOGUE) as KesErrorCode[];

  it('maps every fixed catalogue message (with its status) to its code', () => {
    for (const code of codes) {
      const entry = ERROR_CATALOGUE[code];
      if (typeof entry.message !== 'string') continue;
      const e = kesErrorOf(entry.status, entry.message);
      expect(e, code).toBeInstanceOf(KesError);
      expect(e?.code).toBe(code);
      expect(e?.message).toBe(entry.message);
    }
  });

  it('tells codes with the same message apart by status', () => {
    expect(kesErrorOf(502, 'failed to create key')?.code).toBe('ERR_KES_CREATE_KEY_FAILED');
    expect(kesErrorOf(500, 'failed to create key')?.code).toBe('ERR_KES_IMPORT_KEY_FAILED');
    expect(kesErrorOf(500, 'key does not exist')).toBeUndefined();
  });

  it('maps templated messages and recovers their arguments', () => {
    const name = kesErrorOf(400, "key name 'a.b' is empty, too long or contains invalid characters");
    expect(name?.code).toBe('ERR_KES_INVALID_KEY_NAME');
    expect(name?.message).toBe("key name 'a.b' is empty, too long or contains invalid characters");
    expect(kesErrorOf(405, "received method 'GET' expected 'PUT'")?.code).toBe('ERR_KES_METHOD_NOT_ALLOWED');
    expect(kesErrorOf(406, "algorithm 'DES' is not supported")?.code).toBe('ERR_KES_UNSUPPORTED_ALGORITHM');
    expect(kesErrorOf(406, "invalid key size for 'AES256'")?.code).toBe('ERR_KES_INVALID_KEY_SIZE');
    expect(kesErrorOf(400, "listing pattern 'a*b' is empty, too long or is invalid")?.code).toBe('ERR_KES_INVALID_PATTERN');
  });

  it('maps the legacy messages of KES ≤ v0.17 to the current codes', () => {
    const exists = kesErrorOf(400, 'key does already exist');
    expect(exists?.code).toBe('ERR_KES_KEY_EXISTS');
    expect(exists?.message).toBe('key already exists');
    expect(kesErrorOf(403, 'prohibited by policy')?.code).toBe('ERR_KES_NOT_ALLOWED');
  });

  it('does not let catch-all library templates swallow unknown messages', () => {
    expect(kesErrorOf(400, 'something else')).toBeUndefined();
    expect(kesErrorOf(500, 'something else')).toBeUndefined();
    expect(kesErrorOf(400, 'Key Already Exists')).toBeUndefined(); // exact match only
  });
});

describe('replyMessage and errorOfReply', () => {
  it('reads {"message"} and {"error"} JSON bodies, and text otherwise', () => {
    expect(replyMessage('application/json', Buffer.from('{"message":"key does not exist"\n}'))).toBe('key does not exist');
    expect(replyMessage('application/json; charset=utf-8', json({ error: 'boom' }))).toBe('boom');
    expect(replyMessage('text/plain; charset=utf-8', Buffer.from('404 page not found\n'))).toBe('404 page not found');
    expect(replyMessage('application/json', Buffer.from('not json'))).toBe('not json');
    expect(replyMessage(undefined, Buffer.from('x'.repeat(5000)))).toHaveLength(1025);
  });

  it('gives a KesError for catalogued replies and a KesClientError for the rest', () => {
    const known = errorOfReply(404, 'application/json', json({ message: 'key does not exist' }), 'https://kes:7373');
    expect(known).toBeInstanceOf(KesError);
    expect(known.code).toBe('ERR_KES_KEY_NOT_FOUND');
    expect(known.status).toBe(404);

    const unknown = errorOfReply(418, 'application/json', json({ message: 'I am a teapot' }), 'https://kes:7373');
    expect(isKesClientError(unknown, 'ERR_KES_CLIENT_HTTP')).toBe(true);
    expect(unknown).toMatchObject({ code: 'ERR_KES_CLIENT_HTTP', status: 418, message: 'I am a teapot', endpoint: 'https://kes:7373' });

    const empty = errorOfReply(502, undefined, Buffer.alloc(0), 'https://kes:7373');
    expect(empty.message).toBe('https://kes:7373 answered with HTTP status 502');
  });
});

describe('KesClientError', () => {
  it('carries code, status and endpoint and is recognised across copies by its brand', () => {
    const e = new KesClientError('ERR_KES_CLIENT_TIMEOUT', 'slow', { endpoint: 'https://a:1' });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'KesClientError', code: 'ERR_KES_CLIENT_TIMEOUT', status: 0, endpoint: 'https://a:1', message: 'slow' });
    expect(isKesClientError(e, 'ERR_KES_CLIENT_TIMEOUT')).toBe(true);
    expect(isKesClientError(e, 'ERR_KES_CLIENT_TLS')).toBe(false);
    const foreign = Object.assign(new Error('x'), { [Symbol.for('kes.client.error')]: true, code: 'ERR_KES_CLIENT_TLS' });
    expect(foreign instanceof KesClientError).toBe(true);
    expect(isKesClientError(new Error('x'))).toBe(false);
  });
});
