// Failure injection and authentication against the FAKE Key Vault (test/fakes/azure.ts):
// 5xx, throttling (Retry-After), hangs → timeout, refused connections, token expiry and
// refresh, bad credentials, managed identity, the default chain, option validation.
// Failures surface as ERR_KES_KEYSTORE_UNAVAILABLE (status(): _UNREACHABLE when nothing
// answers), never as ERR_KES_KEY_NOT_FOUND, and never carry a secret.
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createAzureKeyStore } from '@kes/keystores/azure';
import type { AzureKeyStoreOptions } from '@kes/keystores/azure';
import { expectKesError } from './contract.js';
import { FakeAzureKeyVault } from './fakes/azure.js';

let fake: FakeAzureKeyVault;
const stores: KeyStore[] = [];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

beforeAll(async () => {
  fake = await FakeAzureKeyVault.start();
});
afterEach(() => fake.clearFailures());
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake.stop();
});

async function open(o: Partial<AzureKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createAzureKeyStore({
    endpoint: fake.url,
    credentials: fake.credentials,
    authorityHost: fake.url,
    tls: { ca: fake.caPem },
    environment: {},
    purgeRetryDelayMs: 5,
    ...o,
  } as AzureKeyStoreOptions);
  stores.push(s);
  return s;
}

/** The rejection of `p` (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  expect(r, 'expected a rejection').toBeDefined();
  return r!;
}

describe('azure store failures (fake Key Vault)', () => {
  it('5xx answers are ERR_KES_KEYSTORE_UNAVAILABLE, never not-found', async () => {
    const store = await open();
    fake.failures.push({ status: 500 });
    await expectKesError(store.get('k5xx'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.create('k5xx', enc('v')), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.delete('k5xx'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.list(''), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    const err = await rejection(store.status());
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String(err.cause)).toContain('HTTP 500: InternalError: injected failure');
  });

  it('429 is retried after Retry-After, and fails as unavailable when throttling persists', async () => {
    const store = await open();
    await store.create('throttled', enc('v'));
    fake.failures.push({ status: 429, times: 2, retryAfter: '0' });
    expect(Buffer.from(await store.get('throttled')).toString()).toBe('v');
    fake.failures.push({ status: 429, retryAfter: '0' });
    const err = await rejection(store.get('throttled'));
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String(err.cause)).toContain('HTTP 429');
    fake.clearFailures();
    // A Retry-After beyond the 10 s cap is not waited for.
    fake.failures.push({ status: 429, retryAfter: '3600' });
    const started = Date.now();
    await expectKesError(store.get('throttled'), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a hung vault times out as unavailable (status: unreachable)', async () => {
    const store = await open({ requestTimeoutMs: 1500 });
    await store.status(); // token fetched while the vault still answers
    fake.failures.push({ status: 'hang' });
    const err = await rejection(store.get('hung'));
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String(err.cause)).toContain('no answer within 1500 ms');
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
  });

  it('an aborted call on a hung vault rejects with the signal reason', async () => {
    const store = await open();
    await store.status();
    fake.failures.push({ status: 'hang' });
    const reason = new Error('stop');
    const ac = new AbortController();
    const p = store.get('hung2', { signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('a refused connection is unavailable (status: unreachable)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const store = await open({
      endpoint: `https://127.0.0.1:${port}`,
      managedIdentity: { clientId: '' },
      credentials: undefined,
      managedIdentityEndpoint: `${fake.url}/metadata/identity/oauth2/token`,
    });
    await expectKesError(store.get('k'), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE');
  });

  it('an untrusted vault certificate (no CA) fails as unavailable', async () => {
    const store = await open({ tls: undefined });
    const err = await rejection(store.get('k'));
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String(err.cause)).toMatch(/certificate/i);
  });

  it('an expired token is refreshed once after a 401, and tokens are cached', async () => {
    const store = await open();
    await store.create('tok', enc('v'));
    const fetched = fake.tokenRequests;
    await store.get('tok');
    expect(fake.tokenRequests).toBe(fetched); // cached
    fake.expireTokens();
    expect(Buffer.from(await store.get('tok')).toString()).toBe('v');
    expect(fake.tokenRequests).toBe(fetched + 1);
  });

  it('a token close to expiry is renewed before use', async () => {
    const short = await FakeAzureKeyVault.start({ tokenTtlSeconds: 1 });
    try {
      const store = await createAzureKeyStore({
        endpoint: short.url,
        credentials: short.credentials,
        authorityHost: short.url,
        tls: { ca: short.caPem },
        environment: {},
      });
      await store.status();
      await store.status();
      // Lifetime 1 s → renewed after half of it; two calls 600 ms apart fetch twice.
      await new Promise((r) => setTimeout(r, 600));
      await store.status();
      expect(short.tokenRequests).toBe(2);
      expect(short.requests.filter((r) => r.path === '/secrets').every((r) => r.auth?.startsWith('Bearer fake-token-'))).toBe(true);
      await store.close();
    } finally {
      await short.stop();
    }
  });

  it('a 401 that persists after a fresh token is unavailable, not an endless loop', async () => {
    const store = await open();
    fake.failures.push({ status: 401 });
    const err = await rejection(store.get('k'));
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(fake.requests.filter((r) => r.path === '/secrets/k/versions').length).toBeGreaterThanOrEqual(2);
  });

  it('bad client credentials give a clear cause without the secret', async () => {
    const store = await open({ credentials: { ...fake.credentials, clientSecret: 'wrong-secret-value' } });
    const err = await rejection(store.get('k'));
    expect(err.code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(err.message).toBe('key store is unavailable');
    const cause = String(err.cause);
    expect(cause).toContain(
      'client-credentials login (tenant fake-tenant, client fake-client, from credentials) failed: HTTP 401: invalid_client: AADSTS7000215',
    );
    expect(cause).not.toContain('wrong-secret-value');
    expect(cause).not.toContain('Trace ID');
  });

  it('managed identity: IMDS with Metadata header and client_id; App Service endpoint from the environment', async () => {
    const imds = `${fake.url}/metadata/identity/oauth2/token`;
    const store = await open({ credentials: undefined, managedIdentity: { clientId: fake.credentials.clientId }, managedIdentityEndpoint: imds });
    await store.create('mi-key', enc('v'));
    expect(Buffer.from(await store.get('mi-key')).toString()).toBe('v');
    const wrong = await open({ credentials: undefined, managedIdentity: { clientId: 'other-identity' }, managedIdentityEndpoint: imds });
    const err = await rejection(wrong.get('mi-key'));
    expect(String(err.cause)).toContain(
      'managed-identity token from IMDS (client other-identity) failed: HTTP 400: invalid_request: Identity not found',
    );
    const app = await open({
      credentials: undefined,
      managedIdentity: { clientId: '' },
      environment: { IDENTITY_ENDPOINT: `${fake.url}/msi/token`, IDENTITY_HEADER: 'fake-identity-header' },
    });
    expect(Buffer.from(await app.get('mi-key')).toString()).toBe('v');
  });

  it('default chain: service principal from AZURE_* variables, else managed identity', async () => {
    const env = {
      AZURE_TENANT_ID: fake.credentials.tenantId,
      AZURE_CLIENT_ID: fake.credentials.clientId,
      AZURE_CLIENT_SECRET: fake.credentials.clientSecret,
      AZURE_AUTHORITY_HOST: fake.url,
    };
    const viaEnv = await open({ credentials: undefined, authorityHost: undefined, environment: env });
    await viaEnv.create('chain-key', enc('v'));
    const bad = await open({ credentials: undefined, authorityHost: undefined, environment: { ...env, AZURE_CLIENT_SECRET: 'nope' } });
    expect(String((await rejection(bad.get('chain-key'))).cause)).toContain('from environment) failed: HTTP 401');
    const viaMi = await open({
      credentials: undefined,
      environment: { AZURE_CLIENT_ID: fake.credentials.clientId },
      managedIdentityEndpoint: `${fake.url}/metadata/identity/oauth2/token`,
    });
    expect(Buffer.from(await viaMi.get('chain-key')).toString()).toBe('v');
  });
});

describe('azure store options', () => {
  const base = { endpoint: 'https://v.vault.azure.net', environment: {} };
  it.each([
    [{ ...base, endpoint: '' }, 'azure: endpoint is required'],
    [{ ...base, endpoint: 'not a url' }, 'azure: endpoint is not a valid URL'],
    [{ ...base, endpoint: 'ftp://v' }, 'azure: endpoint must be an https: or http: URL'],
    [{ ...base, endpoint: 'https://v/?x=1' }, 'azure: endpoint must not have a query or fragment'],
    [
      { ...base, credentials: { tenantId: 't', clientId: 'c', clientSecret: 's' }, managedIdentity: { clientId: 'm' } },
      "azure: 'credentials' and 'managed_identity' are mutually exclusive: configure one of them",
    ],
    [{ ...base, credentials: { tenantId: 't', clientId: '', clientSecret: 's' } }, 'azure: credentials.clientId is required'],
    [{ ...base, tls: { ca: '/nonexistent/ca.pem' } }, 'azure: cannot read tls.ca file /nonexistent/ca.pem'],
    [{ ...base, requestTimeoutMs: 0 }, 'azure: requestTimeoutMs must be an integer >= 1'],
  ])('refuses %j', async (o, message) => {
    await expectKesError(createAzureKeyStore(o as AzureKeyStoreOptions), 'ERR_KES_INVALID_ARGUMENT', message);
  });

  it('opening does no I/O; kind names the vault', async () => {
    const s = await createAzureKeyStore({ ...base, managedIdentity: { clientId: '' } });
    expect(s.kind).toBe('azure:https://v.vault.azure.net');
    await s.close();
  });
});
