// Fault: the key store dies while the server serves traffic (issue 13, "Faults").
// Each suite starts its OWN key-store process (not the shared one of the global setup,
// which other test files use): an OpenBao dev server (stopped with SIGSTOP = a hang,
// resumed; then SIGKILLed and restarted) and, in `pnpm test:faults`, a moto server
// (SIGKILLed and restarted). A real `createKesServer()` over mTLS sits in front.
//
// What is checked, against docs/api.md ("Key cache") and docs/errors.md:
// - cached keys keep working while the store is down, for `cache.expiry.offline` after the
//   outage was detected, and then fail with 502 `failed to read key`;
// - uncached keys fail with 502 `failed to read key` (refused connection at once, a hung
//   store after the store's request timeout) and `/v1/ready` answers 504;
// - no request outlives its route timeout (a route with a 1 s timeout while the store hangs);
// - once the store is back, `/v1/ready` and uncached keys work again within a second.
// OpenBao dev mode and moto keep their data in memory, so a killed one comes back empty.
// The restart check therefore restores the secrets the test backed up through the store's
// own API before the kill (what an operator does after losing a Vault node's storage), and
// the clock for "recovery" starts when the restore is complete. The SIGSTOP case needs no
// restore: the process keeps its memory, and the clock starts at SIGCONT.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createAwsKeyStore } from '@kes/keystores/aws';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { startMoto } from '../../../test/servers/moto.js';
import { startOpenBao } from '../../../test/servers/openbao.js';
import { venvBin } from '../../../test/servers/venv.js';
import { type CallResult, type FaultClient, faultClient, sleep, until } from './helpers/faults.js';

const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });

/** `cache.expiry.offline`: how long cached keys keep working after the outage was detected. */
const OFFLINE_EXPIRY_MS = 4_000;
/** Regular probe interval; while offline the cache probes every 500 ms. */
const PROBE_MS = 250;
/** Timeout of one request to the key store (the store's option). */
const STORE_TIMEOUT_MS = 2_000;
/** Route timeout of `/v1/key/hmac/` in these tests (the others keep their 15 s). */
const HMAC_ROUTE_TIMEOUT_MS = 1_000;
/**
 * Allowance for a loaded machine (2 cores shared by many test processes) on every time
 * bound below: a bound is "X", and the assertion is "X + SLACK_MS".
 */
const SLACK_MS = 1_500;
/** "Recovers within a second of the store's return" (issue 13). */
const RECOVERY_MS = 1_000;

const READ_FAILED = '{"message":"failed to read key"\n}';
const venv = existsSync(`${venvBin}/bao`) && existsSync(`${venvBin}/moto_server`);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Figures for docs/reliability.md, printed at the end. */
const figures: Record<string, unknown> = {};
afterAll(() => console.log(`[faults-keystore-outage] ${JSON.stringify(figures)}`));

async function startKes(keyStore: KeyStore): Promise<KesServer> {
  const server = await createKesServer({
    admin: admin.identity,
    keyStore,
    cache: { expiryOfflineMs: OFFLINE_EXPIRY_MS, probeIntervalMs: PROBE_MS },
    api: { '/v1/key/hmac/': { timeoutMs: HMAC_ROUTE_TIMEOUT_MS } },
    tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
    log: { error: 'off', audit: 'off' },
  });
  await server.listen(0, '127.0.0.1');
  return server;
}

/** Calls against one server, plus a background loop that keeps using the cached keys. */
function harness(client: FaultClient) {
  const encrypt = (key: string): Promise<CallResult> => client.call('PUT', `/v1/key/encrypt/${key}`, JSON.stringify({ plaintext: b64('hello') }));
  const decrypt = (key: string, ciphertext: string): Promise<CallResult> =>
    client.call('PUT', `/v1/key/decrypt/${key}`, JSON.stringify({ ciphertext }));
  const ready = async (): Promise<number> => (await client.call('GET', '/v1/ready')).status;
  /** Encrypts with `keys` round-robin every 50 ms until stopped; returns [time, result] pairs. */
  const loop = (keys: readonly string[]) => {
    const log: { at: number; r: CallResult }[] = [];
    let stop = false;
    const done = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await encrypt(keys[i % keys.length] as string);
        log.push({ at: performance.now(), r });
        await sleep(50);
      }
    })();
    return {
      log,
      stop: async () => {
        stop = true;
        await done;
      },
    };
  };
  return { encrypt, decrypt, ready, loop };
}

/**
 * The part both stores share: kill the store, check cached / uncached / ready / offline
 * expiry. Returns when the cached keys have been dropped by the offline sweep.
 */
async function outage(
  h: ReturnType<typeof harness>,
  kill: () => void,
  cached: readonly string[],
  uncached: string,
): Promise<{ requests: number; offlineDetectedMs: number; cachedServedMs: number; uncached: CallResult }> {
  // Every cached key is in the cache now (a request reads it through).
  for (const k of cached) expect((await h.encrypt(k)).status).toBe(200);
  const killedAt = performance.now();
  kill();
  const bg = h.loop(cached);
  const offlineDetectedMs = await until(async () => (await h.ready()) === 504, 10_000, '/v1/ready → 504');
  const offlineAt = performance.now();
  const unc = await h.encrypt(uncached);
  expect(unc.status).toBe(502);
  expect(unc.body).toBe(READ_FAILED);
  // Wait until the offline sweep dropped the cached keys: a cached-key request fails.
  await until(() => bg.log.some((e) => e.r.status !== 200), OFFLINE_EXPIRY_MS + 10_000, 'offline expiry', 100);
  await bg.stop();
  const firstFailure = bg.log.find((e) => e.r.status !== 200)!;
  // Every cached-key request before the offline expiry succeeded ...
  const beforeExpiry = bg.log.filter((e) => e.at < offlineAt + OFFLINE_EXPIRY_MS - SLACK_MS);
  expect(beforeExpiry.length).toBeGreaterThan(0);
  expect(beforeExpiry.map((e) => e.r.status)).toEqual(beforeExpiry.map(() => 200));
  // ... and the first failure is the documented one, once the expiry has passed.
  expect(firstFailure.r.status).toBe(502);
  expect(firstFailure.r.body).toBe(READ_FAILED);
  // The sweep starts with the outage's detection, which is before the test saw `/v1/ready` flip.
  expect(firstFailure.at - offlineAt).toBeGreaterThan(OFFLINE_EXPIRY_MS - SLACK_MS);
  expect(firstFailure.at - offlineAt).toBeLessThan(OFFLINE_EXPIRY_MS + STORE_TIMEOUT_MS + SLACK_MS);
  return {
    requests: bg.log.length + 2,
    offlineDetectedMs: Math.round(offlineDetectedMs),
    cachedServedMs: Math.round(firstFailure.at - killedAt),
    uncached: unc,
  };
}

describe.skipIf(!venv)('OpenBao stopped and killed while serving', () => {
  let bao: { addr: string; token: string; pid: number; stop: () => Promise<void> };
  let server: KesServer;
  let client: FaultClient;
  let h: ReturnType<typeof harness>;
  const cached = ['c-0', 'c-1', 'c-2', 'c-3'];
  const ciphertexts = new Map<string, string>();

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${bao.addr}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': bao.token, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const mount = async (): Promise<void> => {
    expect((await api('POST', 'sys/mounts/kv', { type: 'kv', options: { version: '2' } })).status).toBe(204);
    await until(async () => [200, 404].includes((await api('GET', 'kv/metadata/?list=true')).status), 10_000, 'kv v2 mount');
  };

  beforeAll(async () => {
    const started = await startOpenBao();
    if ('error' in started) throw new Error(started.error);
    bao = started;
    await mount();
    server = await startKes(
      createVaultKeyStore({ endpoint: bao.addr, engine: 'kv', version: 'v2', token: bao.token, requestTimeoutMs: STORE_TIMEOUT_MS }),
    );
    client = faultClient(server.url, adminCert);
    h = harness(client);
    for (const k of [...cached, 'u-0', 'u-1', 'u-2', 'u-3']) expect((await client.call('PUT', `/v1/key/create/${k}`)).status).toBe(200);
    for (const k of cached) {
      const r = await h.encrypt(k);
      expect(r.status).toBe(200);
      ciphertexts.set(k, (JSON.parse(r.body) as { ciphertext: string }).ciphertext);
    }
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    await bao?.stop();
  });

  it('SIGSTOP (a hang): cached keys work until the offline expiry, uncached fail, no request outlives its route timeout; SIGCONT recovers within a second', async () => {
    const fig = await outage(h, () => process.kill(bao.pid, 'SIGSTOP'), cached, 'u-0');
    // A hung store answers nothing: the store's own timeout turns it into the 502 ...
    expect(fig.uncached.ms).toBeGreaterThanOrEqual(STORE_TIMEOUT_MS - 50);
    // ... and a route whose timeout is shorter than that is torn down on time, without a status.
    const hmac = await client.call('PUT', '/v1/key/hmac/u-1', JSON.stringify({ message: b64('x') }), { fresh: true });
    expect(hmac.status).toBe(0);
    expect(hmac.error).toBeDefined();
    expect(hmac.ms).toBeLessThan(HMAC_ROUTE_TIMEOUT_MS + SLACK_MS);

    process.kill(bao.pid, 'SIGCONT');
    const readyMs = await until(async () => (await h.ready()) === 200, 10_000, '/v1/ready → 200 after SIGCONT', 20);
    const dec = await h.decrypt('c-0', ciphertexts.get('c-0')!);
    expect(dec.status).toBe(200);
    expect(JSON.parse(dec.body)).toEqual({ plaintext: b64('hello') });
    expect((await h.encrypt('u-1')).status).toBe(200);
    expect(readyMs).toBeLessThan(RECOVERY_MS + SLACK_MS);
    figures.openbaoSigstop = {
      ...fig,
      uncached: undefined,
      uncachedMs: Math.round(fig.uncached.ms),
      routeTimeoutTeardownMs: Math.round(hmac.ms),
      recoveryMs: Math.round(readyMs),
    };
  });

  it('SIGKILL and restart (storage restored from a backup): the same, and every key is back intact', async () => {
    // The backup: every secret as OpenBao holds it.
    const names = [...cached, 'u-0', 'u-1', 'u-2', 'u-3'];
    const backup = new Map<string, unknown>();
    for (const n of names) backup.set(n, (await api('GET', `kv/data/${n}`)).body.data.data);

    const fig = await outage(h, () => process.kill(bao.pid, 'SIGKILL'), cached, 'u-2');
    // A dead store refuses connections: the 502 comes at once, not after a timeout.
    expect(fig.uncached.ms).toBeLessThan(STORE_TIMEOUT_MS);

    const again = await startOpenBao({ port: Number(new URL(bao.addr).port), token: bao.token });
    if ('error' in again) throw new Error(again.error);
    bao = again;
    await mount();
    for (const [n, data] of backup) expect((await api('POST', `kv/data/${n}`, { options: { cas: 0 }, data })).status).toBe(200);
    const restoredAt = performance.now();
    const readyMs = await until(async () => (await h.ready()) === 200, 10_000, '/v1/ready → 200 after restart', 20);
    const uncachedMs = await until(async () => (await h.encrypt('u-2')).status === 200, 10_000, 'uncached key after restart', 20);
    expect(readyMs).toBeLessThan(RECOVERY_MS + SLACK_MS);
    expect(performance.now() - restoredAt).toBeLessThan(RECOVERY_MS + 2 * SLACK_MS);
    // The offline sweep dropped the cached keys: these decrypts read them from the restored
    // store, and the ciphertexts made before the outage still open (nothing lost).
    for (const k of cached) {
      const dec = await h.decrypt(k, ciphertexts.get(k)!);
      expect(dec.status).toBe(200);
      expect(JSON.parse(dec.body)).toEqual({ plaintext: b64('hello') });
    }
    figures.openbaoSigkill = {
      ...fig,
      uncached: undefined,
      uncachedMs: Math.round(fig.uncached.ms),
      recoveryMs: Math.round(readyMs),
      uncachedRecoveryMs: Math.round(uncachedMs),
    };
  });
});

// moto takes a while to start (Python imports), twice here: `pnpm test:faults` only.
describe.skipIf(!venv || !process.env.KES_FAULTS)('moto killed while serving (pnpm test:faults)', () => {
  let moto: { endpoint: string; pid: number; stop: () => Promise<void> };
  let server: KesServer;
  let client: FaultClient;
  let h: ReturnType<typeof harness>;
  const cached = ['c-0', 'c-1'];
  const names = [...cached, 'u-0', 'u-1'];
  const ciphertexts = new Map<string, string>();
  const aws = (endpoint: string): KeyStore =>
    createAwsKeyStore({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestTimeoutMs: STORE_TIMEOUT_MS,
    });

  beforeAll(async () => {
    const started = await startMoto({ logName: 'moto-faults.log' });
    if ('error' in started) throw new Error(started.error);
    moto = started;
    server = await startKes(aws(moto.endpoint));
    client = faultClient(server.url, adminCert);
    h = harness(client);
    for (const k of names) expect((await client.call('PUT', `/v1/key/create/${k}`)).status).toBe(200);
    for (const k of cached) {
      const r = await h.encrypt(k);
      expect(r.status).toBe(200);
      ciphertexts.set(k, (JSON.parse(r.body) as { ciphertext: string }).ciphertext);
    }
  }, 180_000);
  afterAll(async () => {
    client?.close();
    await server?.close();
    await moto?.stop();
  });

  it('SIGKILL and restart (secrets restored): cached keys until the offline expiry, uncached 502, recovery within a second', async () => {
    // The backup, through a second store on the same endpoint (moto keeps secrets in memory).
    const direct = aws(moto.endpoint);
    const backup = new Map<string, Uint8Array>();
    for (const n of names) backup.set(n, await direct.get(n));
    await direct.close();

    const fig = await outage(h, () => process.kill(moto.pid, 'SIGKILL'), cached, 'u-0');
    const again = await startMoto({ port: Number(new URL(moto.endpoint).port), logName: 'moto-faults.log' });
    if ('error' in again) throw new Error(again.error);
    moto = again;
    const restore = aws(moto.endpoint);
    for (const [n, v] of backup) await restore.create(n, v);
    await restore.close();
    const readyMs = await until(async () => (await h.ready()) === 200, 10_000, '/v1/ready → 200 after restart', 20);
    const uncachedMs = await until(async () => (await h.encrypt('u-0')).status === 200, 10_000, 'uncached key after restart', 20);
    expect(readyMs).toBeLessThan(RECOVERY_MS + SLACK_MS);
    for (const k of cached) {
      const dec = await h.decrypt(k, ciphertexts.get(k)!);
      expect(dec.status).toBe(200);
      expect(JSON.parse(dec.body)).toEqual({ plaintext: b64('hello') });
    }
    figures.motoSigkill = {
      ...fig,
      uncached: undefined,
      uncachedMs: Math.round(fig.uncached.ms),
      recoveryMs: Math.round(readyMs),
      uncachedRecoveryMs: Math.round(uncachedMs),
    };
  }, 180_000);
});
