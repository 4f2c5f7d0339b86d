// Failure injection against the FAKE Fortanix DSM (test/fakes/fortanix.ts): throttling,
// 5xx, hangs, resets, an endpoint that is not there, an untrusted certificate, session
// expiry and refresh, a rejected API key, and option validation. Every backend failure
// must surface as ERR_KES_KEYSTORE_UNAVAILABLE (status(): ERR_KES_KEYSTORE_UNREACHABLE
// when DSM cannot be reached), never as ERR_KES_KEY_NOT_FOUND, and never leak the API
// key, a session token or a value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createFortanixKeyStore } from '@kes/keystores/fortanix';
import type { FortanixKeyStoreOptions } from '@kes/keystores/fortanix';
import { expectKesError } from './contract.js';
import { startFakeFortanix } from './fakes/fortanix.js';
import type { FakeFortanix } from './fakes/fortanix.js';
import { rejection } from '../../../test/support/index.js';

const VALUE = new Uint8Array(Buffer.from('SECRET-VALUE-must-not-leak'));
const VALUE_B64 = Buffer.from(VALUE).toString('base64');
let fake: FakeFortanix;
const stores: KeyStore[] = [];
const dir = mkdtempSync(join(tmpdir(), 'kes-fortanix-'));

beforeAll(async () => {
  fake = await startFakeFortanix();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(o: Partial<FortanixKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createFortanixKeyStore({ endpoint: fake.endpoint, apiKey: fake.apiKey, tls: { ca: fake.caPem }, ...o });
  stores.push(s);
  return s;
}

/** The messages along an error's cause chain, joined. */
function chain(e: unknown): string {
  const parts: string[] = [];
  for (let c = e, i = 0; c !== undefined && i < 8; i++) {
    parts.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.join(' <- ');
}

/** Asserts `p` fails with `code` and a cause chain that names `detail` and holds no secret. */
async function expectFailure(
  p: Promise<unknown>,
  code: 'ERR_KES_KEYSTORE_UNAVAILABLE' | 'ERR_KES_KEYSTORE_UNREACHABLE',
  detail: RegExp,
): Promise<void> {
  const e = await rejection(p);
  expect(isKesError(e, code), chain(e)).toBe(true);
  const text = chain(e);
  expect(text).toMatch(detail);
  expect(text).not.toContain(fake.apiKey);
  expect(text).not.toContain(VALUE_B64);
  expect(text).not.toContain('SECRET-VALUE');
  for (const token of fake.sessions.keys()) expect(text).not.toContain(token);
}

describe('fortanix: failures map to unavailable (fake DSM)', () => {
  it.each([
    [403, /HTTP 403: Insufficient permissions \(the application lacks a permission: see docs\/keystores\/fortanix\.md\)/],
    [429, /HTTP 429: Too many requests \(throttled by DSM\)/],
    [500, /HTTP 500: Internal server error/],
    [502, /HTTP 502: Internal server error/],
    [503, /HTTP 503: Service unavailable/],
  ] as const)('HTTP %i on every call', async (status, detail) => {
    const store = await open();
    await store.create('fail-existing', VALUE);
    const calls: [string, () => Promise<unknown>][] = [
      ['create', () => store.create('fail-new', VALUE)],
      ['get', () => store.get('fail-existing')],
      ['delete', () => store.delete('fail-existing')],
      ['list', () => store.list('')],
    ];
    for (const [, call] of calls) {
      fake.fail(status);
      await expectFailure(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE', detail);
    }
    // Nothing was changed by the failed calls.
    expect(fake.byName('fail-new')).toBeUndefined();
    expect(Buffer.from(await store.get('fail-existing')).equals(Buffer.from(VALUE))).toBe(true);
    await store.delete('fail-existing');
  });

  it('a failing health check is unavailable; a throttled login is unavailable', async () => {
    const store = await open();
    fake.fail(503, 1, (_m, p) => p === '/sys/v1/health');
    await expectFailure(store.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE', /fortanix: health check: HTTP 503/);
    const fresh = await open();
    fake.fail(429, 1, (_m, p) => p === '/sys/v1/session/auth');
    await expectFailure(fresh.get('fail-any'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /session login with the API key failed: HTTP 429/);
    // The next call logs in again and works.
    await expectKesError(fresh.get('fail-any'), 'ERR_KES_KEY_NOT_FOUND');
  });

  it('a hung request times out (requestTimeoutMs); status reports unreachable', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    await store.status(); // logs in
    fake.fail('hang', 1);
    const t = performance.now();
    await expectFailure(store.get('fail-hang'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /POST \/crypto\/v1\/keys\/export: no answer within 300 ms/);
    expect(performance.now() - t).toBeLessThan(3_000);
    fake.fail('hang', 1, (_m, p) => p === '/sys/v1/health');
    await expectFailure(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', /GET \/sys\/v1\/health: no answer within 300 ms/);
  });

  it('a hung request is abandoned when the caller aborts', async () => {
    const store = await open();
    await store.status();
    fake.fail('hang', 1);
    const ctl = new AbortController();
    const reason = new Error('caller gave up');
    const p = store.get('fail-abort', { signal: ctl.signal });
    setTimeout(() => ctl.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('a reset connection is unavailable', async () => {
    const store = await open();
    await store.status();
    fake.fail('reset', 1);
    await expectFailure(store.get('fail-reset'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /socket hang up|ECONNRESET/);
  });

  it('an endpoint nobody listens on: calls unavailable, status unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const store = await open({ endpoint: `https://127.0.0.1:${port}` });
    await expectFailure(store.get('fail-refused'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /ECONNREFUSED/);
    await expectFailure(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', /ECONNREFUSED/);
  });

  it('a 404 that is not "sobject does not exist" (wrong base path) is not "key not found"', async () => {
    const store = await open({ endpoint: `${fake.endpoint}/wrong-base` });
    await expectFailure(store.get('fail-path'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /HTTP 404: no route for POST \/wrong-base\/sys\/v1\/session\/auth/);
  });
});

describe('fortanix: TLS (fake DSM)', () => {
  it('trusts the CA given as a file name (tls.ca)', async () => {
    const file = join(dir, 'dsm-ca.pem');
    writeFileSync(file, fake.caPem);
    const store = await open({ tls: { ca: file } });
    await expectKesError(store.get('tls-file'), 'ERR_KES_KEY_NOT_FOUND');
  });

  it('without the CA the fake certificate is not trusted', async () => {
    const store = await createFortanixKeyStore({ endpoint: fake.endpoint, apiKey: fake.apiKey });
    stores.push(store);
    await expectFailure(store.get('tls-untrusted'), 'ERR_KES_KEYSTORE_UNAVAILABLE', /certificate/i);
    await expectFailure(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', /certificate/i);
  });
});

describe('fortanix: sessions (fake DSM)', () => {
  it('logs in once (Basic <api key>) and uses the bearer token for every call', async () => {
    const store = await open();
    const before = fake.requests.length;
    await store.create('sess-a', VALUE);
    await store.get('sess-a');
    await store.delete('sess-a');
    const seen = fake.requests.slice(before);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/sys/v1/session/auth', authorization: `Basic ${fake.apiKey}` });
    expect(seen.filter((r) => r.path === '/sys/v1/session/auth')).toHaveLength(1);
    for (const r of seen.slice(1)) expect(r.authorization).toMatch(/^Bearer [0-9a-f]{64}$/);
  });

  it('an expired session (401) leads to one new login and a retry that succeeds', async () => {
    const store = await open();
    await store.create('sess-exp', VALUE);
    fake.expireSessions();
    const before = fake.requests.length;
    expect(Buffer.from(await store.get('sess-exp')).equals(Buffer.from(VALUE))).toBe(true);
    const seen = fake.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(seen).toEqual(['POST /crypto/v1/keys/export', 'POST /sys/v1/session/auth', 'POST /crypto/v1/keys/export']);
    await store.delete('sess-exp');
  });

  it('concurrent calls that see the same expired session share one new login', async () => {
    const store = await open();
    await store.status();
    fake.expireSessions();
    const before = fake.requests.length;
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.get(`sess-many-${i}`).catch(() => undefined)));
    expect(fake.requests.slice(before).filter((r) => r.path === '/sys/v1/session/auth')).toHaveLength(1);
  });

  it('a session is renewed before it expires (after 80 % of expires_in)', async () => {
    const short = await startFakeFortanix({ sessionTtlSeconds: 1 });
    try {
      const store = await createFortanixKeyStore({ endpoint: short.endpoint, apiKey: short.apiKey, tls: { ca: short.caPem } });
      await store.status();
      await new Promise((r) => setTimeout(r, 850));
      await expectKesError(store.get('sess-renew'), 'ERR_KES_KEY_NOT_FOUND');
      expect(short.requests.filter((r) => r.path === '/sys/v1/session/auth')).toHaveLength(2);
      // Renewed proactively: DSM never had to answer 401.
      expect(short.requests.filter((r) => r.path === '/crypto/v1/keys/export')).toHaveLength(1);
      await store.close();
    } finally {
      await short.close();
    }
  });

  it('a rejected API key is a clear error on every call and on status(), without the key in it', async () => {
    const wrong = Buffer.from('00000000-0000-0000-0000-000000000000:wrong').toString('base64');
    const store = await open({ apiKey: wrong });
    const detail =
      /^KesError: key store is unavailable <- Error: fortanix: session login with the API key failed: HTTP 401: Invalid username or password$/;
    await expectFailure(store.get('bad-key'), 'ERR_KES_KEYSTORE_UNAVAILABLE', detail);
    await expectFailure(store.create('bad-key', VALUE), 'ERR_KES_KEYSTORE_UNAVAILABLE', detail);
    await expectFailure(store.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE', detail);
    expect(chain(await rejection(store.get('bad-key')))).not.toContain(wrong);
  });

  it('close() terminates the session; it is idempotent and later calls fail', async () => {
    const store = await createFortanixKeyStore({ endpoint: fake.endpoint, apiKey: fake.apiKey, tls: { ca: fake.caPem } });
    await store.status();
    const sessions = fake.sessions.size;
    const terminated = fake.terminated;
    await store.close();
    await store.close();
    expect(fake.terminated).toBe(terminated + 1);
    expect(fake.sessions.size).toBe(sessions - 1);
    await expectKesError(store.get('closed'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });

  it('close() does not hang on a dead endpoint', async () => {
    const store = await open();
    await store.status();
    fake.fail('hang', 1, (_m, p) => p === '/sys/v1/session/terminate');
    const t = performance.now();
    await store.close();
    expect(performance.now() - t).toBeLessThan(5_000);
  });
});

describe('fortanix: options', () => {
  const base = { endpoint: 'https://dsm.example.net', apiKey: 'YXBwOnNlY3JldA==' };
  it.each([
    [{ ...base, endpoint: '' }, "fortanix: option 'endpoint' must be a non-empty string"],
    [{ ...base, endpoint: 'not a url' }, "fortanix: option 'endpoint' is not a valid URL"],
    [{ ...base, endpoint: 'ftp://dsm.example.net' }, "fortanix: option 'endpoint' must be an https:// or http:// URL"],
    [{ ...base, endpoint: 'https://u:p@dsm.example.net' }, "fortanix: option 'endpoint' must not contain credentials, a query or a fragment"],
    [{ ...base, apiKey: '' }, "fortanix: option 'apiKey' must be a non-empty string"],
    [{ ...base, apiKey: 'abc\r\nX-Injected: 1' }, "fortanix: option 'apiKey' is not a DSM application API key (expected base64 text)"],
    [{ ...base, groupId: 'g"}' }, "fortanix: option 'groupId' must be a DSM group id (a UUID)"],
    [{ ...base, tls: { ca: '/nonexistent/ca.pem' } }, "fortanix: option 'tls.ca': cannot read /nonexistent/ca.pem"],
    [{ ...base, requestTimeoutMs: 0 }, "fortanix: option 'requestTimeoutMs' must be a positive number of milliseconds"],
  ] as const)('%j is refused', async (options, message) => {
    await expectKesError(createFortanixKeyStore(options as FortanixKeyStoreOptions), 'ERR_KES_INVALID_ARGUMENT', message);
  });

  it('a CA file without a certificate is refused', async () => {
    const file = join(dir, 'empty.pem');
    writeFileSync(file, 'nothing here\n');
    await expectKesError(
      createFortanixKeyStore({ ...base, tls: { ca: file } }),
      'ERR_KES_INVALID_ARGUMENT',
      "fortanix: option 'tls.ca': no PEM certificate found",
    );
  });

  it('the API key never appears in a message', async () => {
    const e = await rejection(createFortanixKeyStore({ ...base, apiKey: 'c2VjcmV0\nc2VjcmV0' }));
    expect(chain(e)).not.toContain('c2VjcmV0');
  });
});
