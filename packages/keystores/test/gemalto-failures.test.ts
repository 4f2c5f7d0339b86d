// Failure injection against the FAKE CipherTrust Manager (test/fakes/gemalto.ts): 5xx,
// throttling, hangs, an endpoint that is not there, TLS without the right CA, refused
// refresh tokens, JWT expiry, background renewal and its retry. Every failure must
// surface as ERR_KES_KEYSTORE_UNAVAILABLE (status(): _UNREACHABLE when nothing answers),
// never as ERR_KES_KEY_NOT_FOUND, and never leak the refresh token, a JWT or a value.
// Option validation is tested here too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createGemaltoKeyStore } from '@kes/keystores/gemalto';
import type { GemaltoKeyStoreOptions } from '@kes/keystores/gemalto';
import { startFakeCipherTrust } from './fakes/gemalto.js';
import type { FakeCipherTrust } from './fakes/gemalto.js';
import { expectKesError, rejection } from '../../../test/support/index.js';

const TOKEN = 'refresh-SECRET-token-must-not-leak-0123456789';
const SECRET_VALUE = 'SECRET-VALUE-must-not-leak';

let fake: FakeCipherTrust;
const stores: KeyStore[] = [];
const dir = mkdtempSync(join(tmpdir(), 'kes-gemalto-'));

beforeAll(async () => {
  fake = await startFakeCipherTrust({ refreshTokens: { [TOKEN]: '' } });
});
afterEach(() => {
  fake.hang = false;
  fake.hangMatch = /./;
  fake.setRefreshToken(TOKEN, '');
});
afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(extra: Partial<GemaltoKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createGemaltoKeyStore({
    endpoint: fake.url,
    credentials: { token: TOKEN },
    tls: { ca: fake.caPem },
    requestTimeoutMs: 2_000,
    ...extra,
  });
  stores.push(s);
  return s;
}

/** Every way an error could leak something: message, cause chain, stack. */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 10; i++) {
    parts.push(String(cur), (cur as Error).stack ?? '');
    cur = (cur as Error).cause;
  }
  return parts.join('\n');
}

function causeOf(e: unknown): string {
  return String((e as Error).cause);
}

const operations = (store: KeyStore): [string, () => Promise<unknown>][] => [
  ['create', () => store.create('my-key', new Uint8Array(Buffer.from(SECRET_VALUE)))],
  ['get', () => store.get('my-key')],
  ['delete', () => store.delete('my-key')],
  ['list', () => store.list('')],
];

/** Login requests the fake received since `from`. */
const loginsSince = (from: number): number => fake.requests.slice(from).filter((r) => r.path === '/api/v1/auth/tokens').length;

describe('gemalto failure mapping (fake CipherTrust Manager)', () => {
  it.each([
    [500, 'gemalto: create my-key: HTTP 500: NCERRInternal: internal server error (code 500)'],
    [503, 'gemalto: create my-key: HTTP 503: Service Unavailable (code 503)'],
    [429, 'gemalto: create my-key: HTTP 429: Too Many Requests (code 429)'],
  ] as const)('HTTP %s → ERR_KES_KEYSTORE_UNAVAILABLE with the answer as cause, nothing leaked', async (status, firstCause) => {
    const store = await open();
    await store.list(''); // logged in
    fake.failNext(status, 4);
    for (const [i, [op, call]] of operations(store).entries()) {
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect((e as Error).message).toBe('key store is unavailable');
      if (i === 0) expect(causeOf(e)).toBe(`Error: ${firstCause}`);
      expect(causeOf(e)).toContain(`HTTP ${status}`);
      const all = describeError(e);
      expect(all).not.toContain(SECRET_VALUE);
      expect(all).not.toContain(TOKEN);
      expect(all).not.toMatch(/fake\.[A-Za-z0-9_-]+\.jwt/);
    }
    // The failure was transient: the next call works and found nothing was written.
    await expectKesError(store.get('my-key'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
  });

  it('a hanging server: every call fails after requestTimeoutMs with ERR_KES_KEYSTORE_UNAVAILABLE', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    await store.list('');
    fake.hang = true;
    fake.hangMatch = /^\/api\/v1\/vault\//;
    for (const [op, call] of operations(store)) {
      const started = performance.now();
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect(causeOf(e)).toMatch(
        /^GemaltoTransportError: gemalto: (POST|GET|DELETE) \/api\/v1\/vault\/secrets(\/my-key(\/export)?)?: no answer within 300 ms$/,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });

  it('a hanging login fails the call after the timeout too', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    fake.hang = true;
    fake.hangMatch = /^\/api\/v1\/auth\/tokens/;
    const e = await rejection(store.get('my-key'));
    expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE')).toBe(true);
    expect(causeOf(e)).toBe('GemaltoTransportError: gemalto: POST /api/v1/auth/tokens: no answer within 300 ms');
  });

  it('an aborted call rejects with the signal reason while the request hangs', async () => {
    const store = await open();
    await store.list('');
    fake.hang = true;
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const p = store.get('my-key', { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('status(): 5xx is unavailable, a hang is unreachable, a healthy endpoint reports a latency', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    expect((await store.status()).latencyMs).toBeGreaterThanOrEqual(0);
    fake.failNext(503, 1, /^\/$/);
    const e = await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    expect(causeOf(e)).toBe(`Error: gemalto: GET ${fake.url}/: HTTP 503: Service Unavailable (code 503)`);
    fake.hang = true;
    fake.hangMatch = /^\/$/;
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
  });

  it('an endpoint where nothing listens: calls are unavailable, status() is unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const store = await open({ endpoint: `https://127.0.0.1:${port}` });
    for (const [op, call] of operations(store)) {
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect(causeOf(e)).toMatch(/ECONNREFUSED/);
    }
    const e = await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    expect(causeOf(e)).toMatch(/^GemaltoTransportError: gemalto: POST \/api\/v1\/auth\/tokens: connect ECONNREFUSED/);
  });

  it('TLS: without the CA the server certificate is refused; the CA works as PEM text, file and directory', async () => {
    const noCa = await open({ tls: {} });
    const e = await rejection(noCa.get('my-key'));
    expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE')).toBe(true);
    expect(causeOf(e)).toMatch(/certificate/i);
    const file = join(dir, 'ca.pem');
    writeFileSync(file, fake.caPem);
    await expectKesError((await open({ tls: { ca: file } })).get('my-key'), 'ERR_KES_KEY_NOT_FOUND');
    await expectKesError((await open({ tls: { ca: dir } })).get('my-key'), 'ERR_KES_KEY_NOT_FOUND');
  });

  it('names that could leave the secrets collection are refused before any request', async () => {
    const store = await open();
    const from = fake.requests.length;
    for (const name of ['../x', 'a/b', '%2F', 'a.b', '', 'x?type=id']) {
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.create(name, new Uint8Array([1])), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME');
    }
    expect(fake.requests.length).toBe(from);
  });
});

describe('gemalto authentication (fake CipherTrust Manager)', () => {
  it('a refused refresh token is a clear error naming the login, never the token', async () => {
    const store = await open({ credentials: { token: 'wrong-token-SECRET', domain: 'kes' } });
    for (const call of [() => store.get('my-key'), () => store.status()]) {
      const e = await expectKesError(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      expect(causeOf(e)).toBe(
        "GemaltoLoginError: gemalto: login to domain 'kes' failed: HTTP 401: NCERRAuthFailed: invalid refresh token or domain (code 10)",
      );
      expect(describeError(e)).not.toContain('wrong-token-SECRET');
    }
  });

  it('logs in once for many concurrent first calls, then reuses the JWT', async () => {
    const store = await open();
    const from = fake.requests.length;
    await Promise.all(Array.from({ length: 10 }, () => store.get('nothing').catch(() => undefined)));
    await store.list('');
    expect(loginsSince(from)).toBe(1);
  });

  it('a JWT that the server no longer accepts (401): one shared re-login, the calls succeed', async () => {
    const store = await open();
    await store.create('auth-key', new Uint8Array([7]));
    fake.expireJwts();
    const from = fake.requests.length;
    const got = await Promise.all(Array.from({ length: 5 }, () => store.get('auth-key')));
    for (const g of got) expect(g).toEqual(new Uint8Array([7]));
    expect(loginsSince(from)).toBe(1);
    const authFailures = fake.requests.slice(from).filter((r) => r.path.startsWith('/api/v1/vault/') && r.authorization);
    expect(authFailures.length).toBe(10); // 5 refused with the old JWT, 5 retried with the new one
  });

  it('a 401 after re-login (refresh token revoked) fails with the login error', async () => {
    const store = await open();
    await store.list('');
    fake.expireJwts();
    fake.setRefreshToken(TOKEN, undefined);
    const e = await expectKesError(store.get('x'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    expect(causeOf(e)).toMatch(/^GemaltoLoginError: gemalto: login to the root domain failed: HTTP 401/);
  });

  it('renews the JWT in the background at half of its duration; a failed renewal is retried after loginRetryMs', async () => {
    const short = await startFakeCipherTrust({ refreshTokens: { t: '' }, jwtLifetimeSeconds: 1 });
    try {
      const store = await createGemaltoKeyStore({ endpoint: short.url, credentials: { token: 't' }, tls: { ca: short.caPem }, loginRetryMs: 100 });
      await store.create('renewed', new Uint8Array([1]));
      expect(short.logins()).toBe(1);
      // Renewal at 500 ms (polled: the machine may be busy).
      await vi.waitFor(() => expect(short.logins()).toBe(2), { timeout: 3_000, interval: 20 });
      // The next renewal (at ~1000 ms) fails twice, then succeeds on the second 100 ms retry.
      short.failNext(503, 2, /^\/api\/v1\/auth\/tokens/);
      const loginRequests = (): number => short.requests.filter((r) => r.path === '/api/v1/auth/tokens').length;
      await vi.waitFor(() => expect(short.logins()).toBe(3), { timeout: 3_000, interval: 20 });
      expect(loginRequests()).toBe(5); // 3 successful + 2 refused
      // No call ever saw a 401: the JWT was always fresh.
      expect(await store.get('renewed')).toEqual(new Uint8Array([1]));
      const refused = short.requests.filter((r) => r.path.startsWith('/api/v1/vault/')).length;
      expect(refused).toBe(2);
      await store.close();
      const after = short.requests.length;
      await new Promise((r) => setTimeout(r, 600));
      expect(short.requests.length).toBe(after); // close() stopped the renewal
    } finally {
      await short.close();
    }
  });
});

describe('gemalto options', () => {
  const base: GemaltoKeyStoreOptions = { endpoint: 'https://ct.example.net', credentials: { token: TOKEN } };
  const bad = (o: unknown): Promise<unknown> => createGemaltoKeyStore(o as GemaltoKeyStoreOptions);

  it.each([
    [{ ...base, endpoint: '' }, "gemalto: option 'endpoint' must be a non-empty string"],
    [{ ...base, endpoint: 'not a url' }, "gemalto: option 'endpoint' is not a valid URL"],
    [{ ...base, endpoint: 'ftp://ct.example.net' }, "gemalto: option 'endpoint' must be an https:// (or http://) URL"],
    [{ ...base, endpoint: 'https://u:p@ct.example.net' }, "gemalto: option 'endpoint' must not contain credentials, a query or a fragment"],
    [{ endpoint: base.endpoint }, "gemalto: option 'credentials' must be an object with a 'token'"],
    [{ ...base, credentials: { token: ' ' } }, "gemalto: option 'credentials.token' must be a non-empty string (a refresh token)"],
    [{ ...base, credentials: { token: TOKEN, domain: 3 } }, "gemalto: option 'credentials.domain' must be a string"],
    [{ ...base, endpoint: 'http://ct.example.net', tls: { ca: 'x' } }, "gemalto: option 'tls.ca' needs an https:// endpoint"],
    [{ ...base, tls: { ca: '/nonexistent/ca.pem' } }, "gemalto: option 'tls.ca': cannot read /nonexistent/ca.pem"],
    [{ ...base, requestTimeoutMs: 0 }, "gemalto: option 'requestTimeoutMs' must be a positive number of milliseconds"],
    [{ ...base, loginRetryMs: -1 }, "gemalto: option 'loginRetryMs' must be a positive number of milliseconds"],
  ])('%j → ERR_KES_INVALID_ARGUMENT', async (o, message) => {
    const e = await expectKesError(bad(o), 'ERR_KES_INVALID_ARGUMENT', message);
    expect(describeError(e)).not.toContain(TOKEN);
  });

  it('a CA file without a certificate is refused', async () => {
    const file = join(dir, 'empty.pem');
    writeFileSync(file, 'nothing here');
    await expectKesError(
      bad({ ...base, tls: { ca: file } }),
      'ERR_KES_INVALID_ARGUMENT',
      `gemalto: option 'tls.ca': ${file} contains no PEM certificate`,
    );
  });

  it('kind names the endpoint and domain, never the token', async () => {
    const s = await createGemaltoKeyStore({ ...base, credentials: { token: TOKEN, domain: 'kes' } });
    expect(s.kind).toBe('gemalto:https://ct.example.net domain=kes');
    await s.close();
  });
});
