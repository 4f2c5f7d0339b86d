// The compatibility details of issue 12, in-process: each test is named after a difference a
// side-by-side comparison with upstream KES found, and pins either upstream's behaviour or
// the deliberate difference listed in docs/compatibility.md.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, inject } from 'vitest';
import { createSelfSignedCertificate } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { expectError, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');

function put(path: string, body: string) {
  return s!.handler.inject({ method: 'PUT', path, identity: s!.admin, body });
}

function get(path: string, extra: { method?: string; identity?: string } = {}) {
  return s!.handler.inject({ method: extra.method ?? 'GET', path, identity: extra.identity ?? s!.admin });
}

describe('skip_auth relaxes the client-certificate requirement (upstream: on any route)', () => {
  it('skip_auth on /version, which needs no authentication, still allows handshakes without a certificate', async () => {
    s = await setup({ api: { '/version': { skipAuth: true } } });
    expect(s.handler.allowsAnonymousHandshake).toBe(true);
    expect((await s.handler.inject({ method: 'GET', path: '/version' })).status).toBe(200);
    // Every other route still wants a certificate: at the HTTP level now.
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/status' }), 400, 'tls: client certificate is required', expect);
  });

  it('skip_auth on /v1/identity/self/describe (identify-only) does so too', async () => {
    s = await setup({ api: { '/v1/identity/self/describe': { skipAuth: true } } });
    expect(s.handler.allowsAnonymousHandshake).toBe(true);
  });
});

describe('Go JSON decoder quirks clients can depend on', () => {
  it('a byte field given as a JSON array of numbers is accepted ({"plaintext":[1,2,3]} → 200)', async () => {
    s = await setup({ keys: [{ name: 'k' }] });
    const enc = await put('/v1/key/encrypt/k', '{"plaintext":[104,105],"context":[1,2]}');
    expect(enc.status).toBe(200);
    const { ciphertext } = enc.json<{ ciphertext: string }>();
    const dec = await put('/v1/key/decrypt/k', JSON.stringify({ ciphertext, context: b64(new Uint8Array([1, 2])) }));
    expect(Buffer.from(dec.json<{ plaintext: string }>().plaintext, 'base64').toString()).toBe('hi');
    expectError(await put('/v1/key/encrypt/k', '{"plaintext":[300]}'), 400, 'invalid request body', expect);
    expectError(await put('/v1/key/import/i', '{"key":[1.5],"cipher":"AES256"}'), 400, 'invalid import key request body', expect);
  });

  it('an invalid earlier duplicate fails even when a later one is valid ({"plaintext":5,"plaintext":"AAAA"} → 400)', async () => {
    s = await setup({ keys: [{ name: 'k' }] });
    expectError(await put('/v1/key/encrypt/k', '{"plaintext":5,"plaintext":"AAAA"}'), 400, 'invalid request body', expect);
    expectError(await put('/v1/key/encrypt/k', '{"plaintext":"AAAA","Plaintext":"AA"}'), 400, 'invalid request body', expect);
    expect((await put('/v1/key/encrypt/k', '{"plaintext":"AQ==","plaintext":"AAAA"}')).status).toBe(200);
  });

  it('null leaves a string field unchanged ({"cipher":"AES256","cipher":null} imports an AES256 key)', async () => {
    s = await setup();
    const key = b64(randomBytes(32));
    expect((await put('/v1/key/import/imp', `{"key":"${key}","cipher":"AES256","cipher":null}`)).status).toBe(200);
    expect((await get('/v1/key/describe/imp')).json<{ algorithm: string }>().algorithm).toBe('AES256');
    // On a byte field null empties it again: the import then has no key.
    const reset = await put('/v1/key/import/imp2', `{"key":"${key}","key":null,"cipher":"AES256"}`);
    expectError(reset, 406, "invalid key size for 'AES256'", expect);
  });

  it('only the first 1 MB of a body is read: a valid object followed by whitespace past 1 MB is accepted', async () => {
    s = await setup({ keys: [{ name: 'k' }] });
    const body = `{"plaintext":"${b64('x')}"}${' '.repeat(1_500_000)}`;
    expect((await put('/v1/key/encrypt/k', body)).status).toBe(200);
    const declaredTooLong = await s.handler.inject({
      method: 'PUT',
      path: '/v1/key/encrypt/k',
      identity: s.admin,
      headers: { 'content-length': String(body.length) },
      body,
    });
    expect(declaredTooLong.status).toBe(200);
  });

  it('the 1,024-separator budget bounds an array of numbers to about 1,000 bytes (upstream: no bound)', async () => {
    s = await setup({ keys: [{ name: 'k' }] });
    const array = (n: number): string => `{"plaintext":[${Array(n).fill('7').join(',')}]}`;
    expect((await put('/v1/key/encrypt/k', array(1_000))).status).toBe(200);
    expectError(await put('/v1/key/encrypt/k', array(1_100)), 400, 'invalid request body', expect);
  });
});

describe('two non-CA client certificates', () => {
  it('are 400 tls: received more than one client certificate (the leaf is never chosen among them)', async () => {
    const a = createSelfSignedCertificate({ commonName: 'a' });
    const b = createSelfSignedCertificate({ commonName: 'b' });
    s = await setup({ admin: a.identity });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/status', certificates: [a.certificate, b.certificate] });
    expectError(res, 400, 'tls: received more than one client certificate', expect);
  });
});

describe('routing edges as Go’s ServeMux', () => {
  it('/v1/key%2Fdescribe/k1 is a 404 (an escaped slash never separates route segments)', async () => {
    s = await setup({ keys: [{ name: 'k1' }] });
    const res = await get('/v1/key%2Fdescribe/k1');
    expect(res.status).toBe(404);
    expect(res.text()).toBe('404 page not found\n');
    // Escapes inside a segment still match it, as in Go.
    expect((await get('/v1/k%65y/describe/k1')).status).toBe(200);
  });

  it('OPTIONS * is 200 with an empty body; GET * is a 400', async () => {
    s = await setup();
    const options = await s.handler.inject({ method: 'OPTIONS', path: '*' });
    expect(options.status).toBe(200);
    expect(options.headers['content-length']).toBe('0');
    expect(options.text()).toBe('');
    const other = await s.handler.inject({ method: 'GET', path: '*' });
    expect(other.status).toBe(400);
    expect(other.headers.connection).toBe('close');
  });

  it('an absolute-form request target (GET https://h/v1/ready) is served by its path', async () => {
    s = await setup();
    expect((await get('https://kes.example:7373/v1/ready')).status).toBe(200);
    const moved = await get('https://kes.example/v1/key/list?x=1');
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('/v1/key/list/?x=1');
  });

  it('/v1/key/describe/. needs one redirect, straight to /v1/key/describe/', async () => {
    s = await setup();
    for (const [from, to] of [
      ['/v1/key/describe/.', '/v1/key/describe/'],
      ['/v1/key/list/.?x=1', '/v1/key/list/?x=1'],
      ['/v1/key/list/a/..', '/v1/key/list/'],
    ]) {
      const res = await get(from as string);
      expect(res.status, from).toBe(301);
      expect(res.headers.location, from).toBe(to);
    }
  });
});

describe('key listing pages like upstream', () => {
  function fsStoreWith(count: number): ReturnType<typeof createFsKeyStore> {
    const dir = mkdtempSync(join(tmpdir(), 'kes-list-'));
    dirs.push(dir);
    for (let i = 0; i < count; i++) writeFileSync(join(dir, `k-${String(i).padStart(5, '0')}`), '');
    return createFsKeyStore({ path: dir });
  }

  it('the fs store lists at most 10,000 names and continue_at (upstream: 1,024), streamed', async () => {
    s = await setup({ keyStore: fsStoreWith(10_001) });
    const res = await get('/v1/key/list/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['content-length']).toBeUndefined(); // streamed
    expect(res.text().endsWith('}\n')).toBe(true);
    const page = res.json<{ names: string[]; continue_at?: string }>();
    expect(page.names).toHaveLength(10_000);
    expect(page.names[0]).toBe('k-00000');
    expect(page.names[9_999]).toBe('k-09999');
    expect(page.continue_at).toBe('k-10000');
    // kms-go asks again with continue_at as the prefix.
    expect((await get('/v1/key/list/k-10000')).json()).toEqual({ names: ['k-10000'] });
  });

  it('a complete listing has no continue_at and a Content-Length', async () => {
    s = await setup({ keyStore: fsStoreWith(3) });
    const res = await get('/v1/key/list/*');
    expect(res.text()).toBe('{"names":["k-00000","k-00001","k-00002"]}\n');
    expect(res.headers['content-length']).toBe(String(res.body.length));
  });
});

describe('legacy JSON keys', () => {
  it('keep their stored created_at offset and fraction in describe (upstream echoes them)', async () => {
    const value = JSON.stringify({ bytes: b64(randomBytes(32)), algorithm: 'AES256-GCM_SHA256', created_at: '2021-06-01T10:00:00.500+02:00' });
    s = await setup({ keyStore: createMemoryKeyStore({ initial: [['legacy', Buffer.from(value)]] }) });
    const res = await get('/v1/key/describe/legacy');
    expect(res.text()).toBe('{"name":"legacy","algorithm":"AES256","created_at":"2021-06-01T10:00:00.5+02:00"}\n');
  });
});

describe('invalid UTF-8 in names', () => {
  it('is escaped as \\ufffd in JSON output, one per byte; a real U+FFFD is written as it is', async () => {
    s = await setup();
    const bad = await put('/v1/key/create/%ff', '');
    expect(bad.text()).toBe(`{"message":"key name '\\ufffd' is empty, too long or contains invalid characters"\n}`);
    const truncated = await put('/v1/key/create/a%E2%82', '');
    expect(truncated.text()).toBe(`{"message":"key name 'a\\ufffd\\ufffd' is empty, too long or contains invalid characters"\n}`);
    const real = await put('/v1/key/create/%EF%BF%BD', '');
    expect(real.text()).toBe(`{"message":"key name '\ufffd' is empty, too long or contains invalid characters"\n}`);
    // Audit records show the path as text, never a lone surrogate.
    const paths = s.audits.map((a) => (a as { request: { path: string } }).request.path);
    expect(paths).toContain('/v1/key/create/\ufffd');
    expect(paths.some((p) => /[\ud800-\udfff]/.test(p))).toBe(false);
  });
});

const baoAddr = inject('baoAddr');
const baoToken = inject('baoToken');

describe.skipIf(!baoAddr)('Vault key store (OpenBao)', () => {
  it('deleting a key that does not exist is 404 key does not exist (upstream Vault store: 200)', async () => {
    const mount = `kv-compat-${randomBytes(4).toString('hex')}`;
    const bao = (method: string, path: string, body?: unknown) =>
      fetch(`${baoAddr}/v1/${path}`, {
        method,
        headers: { 'X-Vault-Token': baoToken, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    expect((await bao('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '1' } })).ok).toBe(true);
    try {
      const keyStore = createVaultKeyStore({ endpoint: baoAddr, engine: mount, version: 'v1', token: baoToken });
      s = await setup({ keyStore, keys: [{ name: 'present' }] });
      expectError(await get('/v1/key/delete/missing', { method: 'DELETE' }), 404, 'key does not exist', expect);
      expect((await get('/v1/key/delete/present', { method: 'DELETE' })).status).toBe(200);
      expectError(await get('/v1/key/delete/present', { method: 'DELETE' }), 404, 'key does not exist', expect);
    } finally {
      await s?.handler.close();
      s = undefined;
      await bao('DELETE', `sys/mounts/${mount}`);
    }
  });
});
