// Key cache (spec §10): offline behaviour, single-flight, readiness.
import { afterEach, describe, expect, it } from 'vitest';
import { FlakyStore, expectError, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

const b64 = (t: string): string => Buffer.from(t).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` is true (no timing assertion: only a generous upper bound). */
async function until(fn: () => Promise<boolean>, limitMs = 5000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(10);
  }
}

describe('cache with a key store that goes down', () => {
  it('keeps cached keys working while offline, fails uncached ones, ready → 504, recovers', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 20, expiryOfflineMs: 60_000, expiryAnyMs: 60_000, expiryUnusedMs: 60_000 } });
    const { handler, admin } = s;
    for (const n of ['cached', 'uncached'])
      expect((await handler.inject({ method: 'PUT', path: `/v1/key/create/${n}`, identity: admin })).status).toBe(200);
    const enc = await handler.inject({
      method: 'PUT',
      path: '/v1/key/encrypt/cached',
      identity: admin,
      body: JSON.stringify({ plaintext: b64('hi') }),
    });
    expect(enc.status).toBe(200);
    expect((await handler.inject({ method: 'GET', path: '/v1/ready', identity: admin })).status).toBe(200);

    store.down = true;
    await until(async () => (await handler.inject({ method: 'GET', path: '/v1/ready', identity: admin })).status === 504);
    expectError(await handler.inject({ method: 'GET', path: '/v1/ready', identity: admin }), 504, 'key store is not reachable', expect);
    const status = await handler.inject({ method: 'GET', path: '/v1/status', identity: admin });
    expect(status.json()).toMatchObject({ keystore_unreachable: true, keystore_unavailable: true });
    expect(status.json<object>()).not.toHaveProperty('keystore_latency');

    // Cached key keeps working for every crypto route and describe.
    const ct = enc.json<{ ciphertext: string }>().ciphertext;
    const dec = await handler.inject({ method: 'PUT', path: '/v1/key/decrypt/cached', identity: admin, body: JSON.stringify({ ciphertext: ct }) });
    expect(dec.json()).toEqual({ plaintext: b64('hi') });
    expect((await handler.inject({ method: 'PUT', path: '/v1/key/generate/cached', identity: admin })).status).toBe(200);
    expect((await handler.inject({ method: 'PUT', path: '/v1/key/hmac/cached', identity: admin, body: '{"message":""}' })).status).toBe(200);
    expect((await handler.inject({ method: 'GET', path: '/v1/key/describe/cached', identity: admin })).status).toBe(200);
    // Uncached keys and store operations fail.
    expectError(await handler.inject({ method: 'PUT', path: '/v1/key/generate/uncached', identity: admin }), 502, 'failed to read key', expect);
    expectError(await handler.inject({ method: 'PUT', path: '/v1/key/create/new', identity: admin }), 502, 'failed to create key', expect);

    store.down = false;
    await until(async () => (await handler.inject({ method: 'GET', path: '/v1/ready', identity: admin })).status === 200);
    expect((await handler.inject({ method: 'PUT', path: '/v1/key/generate/uncached', identity: admin })).status).toBe(200);
    const st = await handler.inject({ method: 'GET', path: '/v1/status', identity: admin });
    expect(st.json<{ keystore_latency: number }>().keystore_latency).toBeGreaterThanOrEqual(1);
  });

  it('drops the cache after the offline expiry', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 20, expiryOfflineMs: 100, expiryAnyMs: 0, expiryUnusedMs: 0 } });
    const { handler, admin } = s;
    await handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: admin });
    expect((await handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: admin })).status).toBe(200);
    store.down = true;
    await until(async () => (await handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: admin })).status === 502);
    expectError(await handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: admin }), 502, 'failed to read key', expect);
  });

  it('without offline caching, the any-expiry evicts keys even while the store is down', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 0, expiryAnyMs: 50, expiryUnusedMs: 0 } });
    const { handler, admin } = s;
    await handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: admin });
    await handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: admin });
    const before = store.gets;
    store.down = true;
    await until(async () => (await handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: admin })).status === 502);
    expect(store.gets).toBeGreaterThan(before);
  });

  it('ready answers 502 for a store failure that is not "unreachable"', async () => {
    const store = new FlakyStore();
    const inner = store.inner;
    s = await setup({
      keyStore: {
        ...inner,
        kind: 'x',
        status: async () => {
          throw new Error('boom');
        },
        close: () => inner.close(),
        create: inner.create.bind(inner),
        get: inner.get.bind(inner),
        delete: inner.delete.bind(inner),
        list: inner.list.bind(inner),
      },
      cache: { probeIntervalMs: 0 },
    });
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/ready', identity: s.admin }), 502, 'key store is unavailable', expect);
  });
});

describe('single-flight', () => {
  it('100 concurrent requests for an uncached key cause exactly one key-store get', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store });
    await s.handler.inject({ method: 'PUT', path: '/v1/key/create/hot', identity: s.admin });
    store.getDelayMs = 30;
    store.gets = 0;
    const all = await Promise.all(
      Array.from({ length: 100 }, () => s!.handler.inject({ method: 'PUT', path: '/v1/key/generate/hot', identity: s!.admin })),
    );
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(store.gets).toBe(1);
  });

  it('does not cache errors', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store, cache: { probeIntervalMs: 0 } });
    await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: s.admin });
    store.down = true;
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: s.admin })).status).toBe(502);
    store.down = false;
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/generate/k', identity: s.admin })).status).toBe(200);
  });
});
