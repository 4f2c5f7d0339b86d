// Failure injection and session handling of the Entrust KeyControl store against the
// FAKE KeyControl (test/fakes/entrust.ts): 5xx, throttling, hangs, a service that is not
// there, bad credentials, token expiry, renewal and revocation, TLS trust, options.
// Every backend failure must surface as ERR_KES_KEYSTORE_UNAVAILABLE (status(): also
// ERR_KES_KEYSTORE_UNREACHABLE when nothing answers), never as ERR_KES_KEY_NOT_FOUND,
// and never carry the password, the access token or a value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createEntrustKeyStore } from '@kes/keystores/entrust';
import type { EntrustKeyStoreOptions } from '@kes/keystores/entrust';
import { expectKesError, rejection } from '../../../test/support/index.js';
import { startFakeEntrust } from './fakes/entrust.js';
import type { FakeEntrust } from './fakes/entrust.js';

const SECRET_VALUE = 'SECRET-VALUE-must-not-leak';
let fake: FakeEntrust;
const stores: KeyStore[] = [];
const dir = mkdtempSync(join(tmpdir(), 'kes-entrust-'));

beforeAll(async () => {
  fake = await startFakeEntrust();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<EntrustKeyStoreOptions> = {}, f: FakeEntrust = fake): EntrustKeyStoreOptions {
  return {
    endpoint: f.endpoint,
    vaultId: f.vaultId,
    boxId: f.boxId,
    credentials: { username: f.username, password: f.password },
    tls: { ca: f.caPem },
    ...extra,
  };
}

async function open(extra: Partial<EntrustKeyStoreOptions> = {}, f: FakeEntrust = fake): Promise<KeyStore> {
  const s = await createEntrustKeyStore(options(extra, f));
  stores.push(s);
  return s;
}

/** Every way an error could leak something: message, cause chain, stack, JSON. */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 10; i++) {
    parts.push(String(cur), (cur as Error).stack ?? '', JSON.stringify(cur) ?? '');
    cur = (cur as Error).cause;
  }
  return parts.join('\n');
}

function expectNoLeak(e: unknown): void {
  const all = describeError(e);
  expect(all).not.toContain(SECRET_VALUE);
  expect(all).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
  expect(all).not.toContain(fake.password);
  for (const r of fake.requests) if (r.token) expect(all).not.toContain(r.token);
}

const operations = (store: KeyStore): [string, () => Promise<unknown>][] => [
  ['create', () => store.create('my-key', new Uint8Array(Buffer.from(SECRET_VALUE)))],
  ['get', () => store.get('my-key')],
  ['delete', () => store.delete('my-key')],
  ['list', () => store.list('')],
  ['status', () => store.status()],
];

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('entrust keycontrol failure mapping (fake KeyControl)', () => {
  it.each([
    [500, 'Internal server error', /HTTP 500: Internal server error/],
    [503, 'Service temporarily unavailable', /HTTP 503: Service temporarily unavailable/],
    [429, 'Too many requests', /HTTP 429: Too many requests/],
    [403, 'Permission denied', /HTTP 403: Permission denied/],
  ] as const)('HTTP %s → ERR_KES_KEYSTORE_UNAVAILABLE with the service answer as cause', async (status, error, causeText) => {
    const store = await open();
    await store.status(); // logged in: the injected answers hit the key calls, not the login
    for (const [op, call] of operations(store)) {
      fake.inject({ status, error, path: /^(?!Login)/ });
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect((e as Error).message).toBe('key store is unavailable');
      expect(String((e as Error).cause)).toMatch(causeText);
      expectNoLeak(e);
    }
  });

  it('a hung service times out: ERR_KES_KEYSTORE_UNAVAILABLE, status() ERR_KES_KEYSTORE_UNREACHABLE', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    await store.status();
    for (const [op, call] of operations(store)) {
      fake.inject({ hang: true });
      const started = Date.now();
      const e = await rejection(call());
      const code = op === 'status' ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE';
      expect(isKesError(e, code), `${op}: ${String(e)}`).toBe(true);
      expect(String((e as Error).cause)).toMatch(/no answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
      expectNoLeak(e);
    }
  });

  it('a hung login times out too', async () => {
    const store = await open({ requestTimeoutMs: 300 });
    fake.inject({ hang: true, path: /^Login\// });
    await expectKesError(store.get('my-key'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });

  it('a service that is not there: ERR_KES_KEYSTORE_UNAVAILABLE, status() ERR_KES_KEYSTORE_UNREACHABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const store = await open({ endpoint: `https://127.0.0.1:${port}` });
    for (const [op, call] of operations(store)) {
      const e = await rejection(call());
      const code = op === 'status' ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE';
      expect(isKesError(e, code), `${op}: ${String(e)}`).toBe(true);
      expect(String((e as Error).cause)).toMatch(/ECONNREFUSED/);
      expectNoLeak(e);
    }
  });

  it('aborting a call in flight rejects with the signal reason', async () => {
    const store = await open();
    await store.status();
    fake.inject({ hang: true });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const p = store.get('my-key', { signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('a wrong box is a misconfiguration (unavailable), never "key not found"', async () => {
    const store = await open({ boxId: 'no-such-box' });
    for (const [op, call] of operations(store)) {
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect(String((e as Error).cause)).toMatch(/HTTP 404: Box not found/);
    }
  });

  it('a name that is no KES name is refused before any request', async () => {
    const store = await open();
    const from = fake.requests.length;
    for (const name of ['../x', 'a/b', '', 'a b', '%2F']) {
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.create(name, new Uint8Array([1])), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME');
    }
    expect(fake.requests.length).toBe(from);
  });
});

describe('entrust keycontrol login and token lifecycle (fake KeyControl)', () => {
  it('bad credentials: a clear cause naming vault and user, never the password; no login storm', async () => {
    const failed = fake.counts.failedLogins;
    const store = await open({ credentials: { username: fake.username, password: `${fake.password}-wrong` } });
    for (const [, call] of operations(store)) {
      const e = await rejection(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE')).toBe(true);
      expect(String((e as Error).cause)).toBe(
        `EntrustAuthError: entrust keycontrol: login to vault '${fake.vaultId}' as '${fake.username}' failed: HTTP 401: Invalid username or password`,
      );
      expect(describeError(e)).not.toContain(`${fake.password}-wrong`);
      expectNoLeak(e);
    }
    // A refused login is not repeated for every call (account lockout): once per LOGIN_BACKOFF_MS.
    expect(fake.counts.failedLogins - failed).toBe(1);
  });

  it('a wrong vault id: the login answer says so', async () => {
    const store = await open({ vaultId: 'not-the-vault' });
    const e = await rejection(store.status());
    expect(String((e as Error).cause)).toMatch(/login to vault 'not-the-vault' as '.*' failed: HTTP 404: Vault not found/);
  });

  it('logs in once for many concurrent first calls', async () => {
    const store = await open();
    const before = fake.counts.logins;
    await Promise.all(Array.from({ length: 20 }, () => store.get('nothing-here').catch(() => undefined)));
    expect(fake.counts.logins - before).toBe(1);
  });

  it('renews the token at half its lifetime (Renew/), so it never expires under the store', async () => {
    const short = await startFakeEntrust({ tokenLifetimeMs: 800 });
    try {
      const store = await open({}, short);
      await store.create('renewed', new Uint8Array([9]));
      await sleep(1_900);
      expect(short.counts.renewals).toBeGreaterThanOrEqual(2);
      expect(short.counts.logins).toBe(1);
      expect(await store.get('renewed')).toEqual(new Uint8Array([9]));
      // The request used a renewed token, not the login token (which has expired by now).
      const tokens = new Set(short.requests.filter((r) => r.token).map((r) => r.token));
      expect(tokens.size).toBeGreaterThanOrEqual(2);
      await store.close();
      const renewals = short.counts.renewals;
      await sleep(600);
      expect(short.counts.renewals).toBe(renewals); // close() stops the renewal
    } finally {
      await short.close();
    }
  });

  it('logs in again when renewal is refused', async () => {
    const short = await startFakeEntrust({ tokenLifetimeMs: 600 });
    try {
      short.refuseRenewal(true);
      const store = await open({}, short);
      await store.status();
      await sleep(800);
      expect(short.counts.logins).toBeGreaterThanOrEqual(2);
      await store.status();
    } finally {
      await short.close();
    }
  });

  it('a 401 (token revoked or expired) logs in again once and retries the call', async () => {
    const store = await open();
    await store.create('after-revoke', new Uint8Array([4]));
    const logins = fake.counts.logins;
    fake.revokeTokens();
    expect(await store.get('after-revoke')).toEqual(new Uint8Array([4]));
    expect(fake.counts.logins).toBe(logins + 1);
  });

  it('a second 401 after the new login is reported, not retried for ever', async () => {
    const store = await open();
    await store.status();
    const from = fake.requests.length;
    fake.inject({ status: 401, error: 'Access denied', path: /^CheckoutSecret\//, count: 5 });
    const e = await expectKesError(store.get('my-key'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    expect(String(e.cause)).toMatch(/HTTP 401: Access denied/);
    expect(fake.requests.slice(from).filter((r) => r.path === 'CheckoutSecret/')).toHaveLength(2);
  });

  it('a login answer without expires_at is used for the default 5 minutes', async () => {
    const noExpiry = await startFakeEntrust({ omitExpiry: true, tokenLifetimeMs: 60_000 });
    try {
      const store = await open({}, noExpiry);
      await store.create('no-expiry', new Uint8Array([5]));
      await sleep(300);
      expect(await store.get('no-expiry')).toEqual(new Uint8Array([5]));
      expect(noExpiry.counts.renewals).toBe(0);
      expect(noExpiry.counts.logins).toBe(1);
    } finally {
      await noExpiry.close();
    }
  });
});

describe('entrust keycontrol TLS and options', () => {
  it('without the CA the service certificate is not trusted', async () => {
    const store = await open({ tls: {} });
    const e = await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    expect(String(e.cause)).toMatch(/certificate/i);
  });

  it('tls.ca may name a PEM file', async () => {
    const file = join(dir, 'ca.pem');
    writeFileSync(file, fake.caPem);
    const store = await open({ tls: { ca: file } });
    await store.status();
  });

  it.each([
    [{ endpoint: '' }, "entrust keycontrol: option 'endpoint' must be a non-empty string"],
    [
      { endpoint: 'keycontrol.example.net' },
      "entrust keycontrol: option 'endpoint' is not a URL: 'keycontrol.example.net' (expected e.g. https://keycontrol.example.net)",
    ],
    [{ endpoint: 'ftp://kc' }, "entrust keycontrol: option 'endpoint' must be an http:// or https:// URL"],
    [{ endpoint: 'https://u:p@kc' }, "entrust keycontrol: option 'endpoint' must not contain user information"],
    [{ vaultId: '' }, "entrust keycontrol: option 'vaultId' must be a non-empty string"],
    [{ vaultId: '..' }, "entrust keycontrol: option 'vaultId' is not a valid vault id"],
    [{ boxId: ' ' }, "entrust keycontrol: option 'boxId' must be a non-empty string"],
    [{ credentials: undefined }, "entrust keycontrol: option 'credentials' (username and password) is required"],
    [{ credentials: { username: '', password: 'x' } }, "entrust keycontrol: option 'credentials.username' must be a non-empty string"],
    [{ credentials: { username: 'u', password: '' } }, "entrust keycontrol: option 'credentials.password' must be a non-empty string"],
    [{ requestTimeoutMs: 0 }, "entrust keycontrol: option 'requestTimeoutMs' must be a positive integer"],
    [{ tls: { ca: '/nonexistent/ca.pem' } }, "entrust keycontrol: option 'tls.ca': cannot read /nonexistent/ca.pem"],
    [{ endpoint: 'http://kc', tls: { ca: 'x' } }, "entrust keycontrol: option 'tls.ca' needs an https:// endpoint"],
  ] as const)('refuses %j', async (extra, message) => {
    await expectKesError(createEntrustKeyStore({ ...options(), ...extra } as EntrustKeyStoreOptions), 'ERR_KES_INVALID_ARGUMENT', message);
  });

  it('the kind names endpoint, vault and box, never the user or password', async () => {
    const store = await open();
    expect(store.kind).toBe(`entrust-keycontrol:${fake.endpoint} vault=${fake.vaultId} box=${fake.boxId}`);
    expect(JSON.stringify(store)).not.toContain(fake.password);
  });
});
