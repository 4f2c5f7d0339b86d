// Findings of the server review (wire details and hostile input), each pinned by a test.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsKeyStore } from '@kes/keystores/fs';
import { expectError, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

describe('URL handling as Go’s ServeMux (spec §1.1)', () => {
  it('cleans the escaped path: escaped dots and slashes are part of the name, not a redirect to another key', async () => {
    s = await setup();
    // Go cleans r.URL.EscapedPath(): `%2e%2e` / `%2F` are not path syntax, the resource keeps them (→ invalid name).
    const dots = await s.handler.inject({ method: 'PUT', path: '/v1/key/create/%2e%2e', identity: s.admin });
    expectError(dots, 400, "key name '..' is empty, too long or contains invalid characters", expect);
    const other = await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/a%2F..%2Fb', identity: s.admin });
    expectError(other, 400, "key name 'a/../b' is empty, too long or contains invalid characters", expect);
    // Literal segments are still cleaned and redirected.
    const literal = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/a/../b?x=1', identity: s.admin });
    expect(literal.status).toBe(301);
    expect(literal.headers.location).toBe('/v1/key/describe/b?x=1');
  });

  it('percent-escapes of invalid UTF-8 reach the route (400 JSON with U+FFFD) or the 404, not a plain 400', async () => {
    s = await setup();
    const bad = await s.handler.inject({ method: 'PUT', path: '/v1/key/create/%ff', identity: s.admin });
    expect(bad.status).toBe(400);
    // Go writes the byte that is not UTF-8 as the escape `\ufffd` (see api-compat.test.ts).
    expect(bad.text()).toBe(`{"message":"key name '\\ufffd' is empty, too long or contains invalid characters"\n}`);
    const unknown = await s.handler.inject({ method: 'GET', path: '/foo%ff', identity: s.admin });
    expect(unknown.status).toBe(404);
    expect(unknown.text()).toBe('404 page not found\n');
    // A malformed escape is still Go's plain 400 (url.ParseRequestURI fails before the mux).
    const malformed = await s.handler.inject({ method: 'GET', path: '/v1/key/create/%f', identity: s.admin });
    expect(malformed.status).toBe(400);
    expect(malformed.text()).toBe('400 Bad Request');
  });
});

describe('/v1/metrics text format (spec §9)', () => {
  it('has no blank lines between families, like Go’s expfmt', async () => {
    s = await setup();
    await s.handler.inject({ method: 'PUT', path: '/v1/key/create/m', identity: s.admin });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/metrics', identity: s.admin });
    const text = res.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines.filter((l) => l === '')).toEqual([]);
    expect(lines).toContain('# TYPE kes_http_response_time histogram');
    expect(lines).toContain('kes_http_request_success{code="200"} 1');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(text));
  });
});

describe('hostile input and failing stores', () => {
  it('deeply nested, non-object and BOM-prefixed bodies are 400 invalid request body; the server keeps serving', async () => {
    s = await setup();
    await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: s.admin });
    const deep = `{"context":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    for (const body of [deep, '[]', '"x"', '42', 'true', '\ufeff{}', '{"plaintext":"YQ==",}']) {
      const res = await s.handler.inject({ method: 'PUT', path: '/v1/key/encrypt/k', identity: s.admin, body });
      expectError(res, 400, 'invalid request body', expect);
    }
    const ok = await s.handler.inject({ method: 'PUT', path: '/v1/key/encrypt/k', identity: s.admin, body: '{"plaintext":"YQ=="}' });
    expect(ok.status).toBe(200);
  });

  it('a vanished fs key directory answers 502, never 404 "key does not exist"', async () => {
    const base = mkdtempSync(join(tmpdir(), 'kes-review-'));
    try {
      const dir = join(base, 'keys');
      s = await setup({ keyStore: createFsKeyStore({ path: dir }) });
      expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: s.admin })).status).toBe(200);
      rmSync(dir, { recursive: true });
      expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/describe/k', identity: s.admin }), 502, 'failed to read key', expect);
      expectError(await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/k', identity: s.admin }), 502, 'failed to delete key', expect);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
