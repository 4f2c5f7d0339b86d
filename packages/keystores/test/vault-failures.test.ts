// Failure injection: a small local HTTP server stands in for Vault and answers 500,
// 503, 429, hangs, reports a sealed or uninitialised node, or is not there at all.
// Every failure must surface as ERR_KES_KEYSTORE_UNAVAILABLE (status():
// ERR_KES_KEYSTORE_UNREACHABLE), never as ERR_KES_KEY_NOT_FOUND, and never leak
// the token or a value. Option validation is tested here too (no server needed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createVaultKeyStore } from '@kes/keystores/vault';
import type { VaultKeyStoreOptions } from '@kes/keystores/vault';
import { expectKesError } from './contract.js';
import { expectKesErrorSync, rejection as settle } from '../../../test/support/index.js';

type Mode = 'ok' | '500' | '503' | '429' | 'hang' | 'sealed' | 'uninit' | '403';

const TOKEN = 's.failure-test-token-0123456789';
const SECRET_VALUE = 'SECRET-VALUE-must-not-leak';

let mode: Mode = 'ok';
const seen: { method: string; url: string; token: string | undefined }[] = [];
const hung: ServerResponse[] = [];
let server: Server;
let endpoint = '';
const stores: KeyStore[] = [];

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['x-vault-token'] as string | undefined });
      const health = (req.url ?? '').startsWith('/v1/sys/health');
      switch (mode) {
        case 'hang':
          hung.push(res);
          return;
        case '500':
          return reply(res, 500, { errors: ['internal error'] });
        case '503':
          return reply(res, 503, { errors: ['Vault is sealed'] });
        case '429':
          return reply(res, 429, { errors: ['request path "kv/": rate limit quota exceeded'] });
        case '403':
          return reply(res, 403, { errors: ['permission denied'] });
        case 'sealed':
          return health ? reply(res, 200, { initialized: true, sealed: true }) : reply(res, 503, { errors: ['Vault is sealed'] });
        case 'uninit':
          return health ? reply(res, 200, { initialized: false, sealed: true }) : reply(res, 503, { errors: ['Vault is not initialized'] });
        case 'ok':
          return health ? reply(res, 200, { initialized: true, sealed: false }) : reply(res, 404, { errors: [] });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  endpoint = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterEach(() => {
  mode = 'ok';
  for (const res of hung.splice(0)) res.destroy();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function open(o: Partial<VaultKeyStoreOptions> = {}): KeyStore {
  const s = createVaultKeyStore({ endpoint, token: TOKEN, ...o } as VaultKeyStoreOptions);
  stores.push(s);
  return s;
}

/** Every way the error could leak something: message, cause chain, stack. */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 10; i++) {
    parts.push(String(cur), (cur as Error).stack ?? '');
    cur = (cur as Error).cause;
  }
  return parts.join('\n');
}

const operations = (store: KeyStore): [string, () => Promise<unknown>][] => [
  ['create', () => store.create('my-key', new Uint8Array(Buffer.from(SECRET_VALUE)))],
  ['get', () => store.get('my-key')],
  ['delete', () => store.delete('my-key')],
  ['list', () => store.list('')],
  ...(store.versions === undefined
    ? []
    : ([
        ['versions.create', () => store.versions!.create('my-key', '2', new Uint8Array(Buffer.from(SECRET_VALUE)))],
        ['versions.get', () => store.versions!.get('my-key', '2')],
        ['versions.delete', () => store.versions!.delete('my-key', '2')],
        ['versions.list', () => store.versions!.list('my-key')],
      ] as [string, () => Promise<unknown>][])),
];

describe('vault key store failure mapping (fake Vault)', () => {
  it.each([
    ['500', /HTTP 500: internal error/],
    ['503', /HTTP 503: Vault is sealed/],
    ['429', /HTTP 429: request path "kv\/": rate limit quota exceeded/],
    ['403', /HTTP 403: permission denied/],
  ] as const)('HTTP %s → ERR_KES_KEYSTORE_UNAVAILABLE with the Vault answer as cause', async (m, causeText) => {
    const store = open({ version: 'v2', prefix: 'kes' });
    mode = m;
    expect(operations(store)).toHaveLength(8); // the version records fail the same way
    for (const [op, call] of operations(store)) {
      const e = await settle(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect((e as Error).message).toBe('key store is unavailable');
      expect(String((e as Error).cause)).toMatch(causeText);
      const all = describeError(e);
      expect(all).not.toContain(SECRET_VALUE);
      expect(all).not.toContain(TOKEN);
    }
  });

  it('status(): 5xx and 429 are unreachable', async () => {
    const store = open();
    for (const m of ['500', '503', '429'] as const) {
      mode = m;
      await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    }
  });

  it('status(): sealed and uninitialised nodes are unreachable; a healthy one reports a latency', async () => {
    const store = open();
    mode = 'sealed';
    const sealed = await settle(store.status());
    await expectKesError(Promise.reject(sealed), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    expect(String((sealed as Error).cause)).toBe('Error: vault: sealed');
    mode = 'uninit';
    const uninit = await settle(store.status());
    expect(String((uninit as Error).cause)).toBe('Error: vault: not initialized');
    mode = 'ok';
    expect((await store.status()).latencyMs).toBeGreaterThanOrEqual(0);
    // The health check goes without token and namespace (as upstream).
    const last = seen.at(-1)!;
    expect(last.url).toMatch(/^\/v1\/sys\/health\?/);
    expect(last.token).toBeUndefined();
  });

  it('the background seal probe makes operations fail fast while Vault is sealed', async () => {
    const store = createVaultKeyStore({ endpoint, token: TOKEN, statusPingMs: 50 } as VaultKeyStoreOptions);
    const probes = (): number => seen.filter((s) => s.url.startsWith('/v1/sys/health')).length;
    // Waits until the store has seen two more probe answers in the current mode (no fixed sleep:
    // the probe is sequential, so the second arrival means the first answer was processed).
    const twoProbes = async (): Promise<void> => {
      const from = probes();
      await expect.poll(() => probes() - from, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    };
    try {
      mode = 'ok';
      await expectKesError(store.get('k'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      mode = 'sealed';
      await twoProbes();
      const before = seen.filter((s) => !s.url.startsWith('/v1/sys/health')).length;
      const e = await settle(store.get('k'));
      await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      expect(String((e as Error).cause)).toBe('Error: vault: sealed');
      expect(seen.filter((s) => !s.url.startsWith('/v1/sys/health')).length).toBe(before); // nothing sent
      mode = 'ok';
      await twoProbes();
      await expectKesError(store.get('k'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    } finally {
      // Closed here, not in afterAll: its 50 ms probes must not land in later tests' request log.
      await store.close();
    }
  });

  it('a hanging Vault is cut off after requestTimeoutMs', async () => {
    const store = open({ requestTimeoutMs: 200 });
    mode = 'hang';
    for (const [op, call] of operations(store)) {
      const e = await settle(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect(String((e as Error).cause)).toMatch(/no answer within 200 ms/);
    }
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
  });

  it('a caller abort during a hanging request rejects with the signal reason', async () => {
    const store = open();
    mode = 'hang';
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const p = store.get('k', { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('a server that is not there: operations unavailable, status unreachable', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const addr = dead.address();
    await new Promise<void>((r) => dead.close(() => r()));
    const store = open({ endpoint: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
    for (const [op, call] of operations(store)) {
      const e = await settle(call());
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE'), `${op}: ${String(e)}`).toBe(true);
      expect(String((e as Error).cause)).toMatch(/ECONNREFUSED/);
    }
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
  });

  it('sends the token and namespace headers and upstream paths', async () => {
    const store = open({ engine: '/team//kv/', prefix: 'kes/', version: 'v2', namespace: 'ns1' });
    mode = 'ok';
    seen.length = 0;
    await expectKesError(store.get('my-key'), 'ERR_KES_KEY_NOT_FOUND');
    await expectKesError(store.delete('my-key'), 'ERR_KES_KEY_NOT_FOUND');
    expect(await store.list('')).toEqual({ names: [], continueAt: '' });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /v1/team/kv/data/kes/my-key?version=1',
      'GET /v1/team/kv/metadata/kes/my-key',
      'GET /v1/team/kv/metadata/kes?list=true',
    ]);
    expect(seen.every((s) => s.token === TOKEN)).toBe(true);
  });
});

describe('vault key store TLS (fake Vault over https)', () => {
  it('verifies Vault with tls.ca (file or directory), refuses an unknown CA, and can skip verification', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-vault-tls-'));
    try {
      // Generated at test time: no private key is committed.
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=fake-vault',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const tlsServer = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
        req.resume();
        req.on('end', () => reply(res, 200, { initialized: true, sealed: false }));
      });
      await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
      const addr = tlsServer.address();
      const url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      try {
        const viaFile = open({ endpoint: url, tls: { ca: join(dir, 'cert.pem') } });
        expect((await viaFile.status()).latencyMs).toBeGreaterThanOrEqual(0);
        const viaPem = open({ endpoint: url, tls: { ca: readFileSync(join(dir, 'cert.pem'), 'utf8') } });
        expect((await viaPem.status()).latencyMs).toBeGreaterThanOrEqual(0);
        const viaDir = open({ endpoint: url, tls: { ca: dir } });
        expect((await viaDir.status()).latencyMs).toBeGreaterThanOrEqual(0);
        const untrusted = open({ endpoint: url });
        const e = await settle(untrusted.status());
        await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
        expect(describeError(e)).toMatch(/self[- ]signed certificate/);
        const skip = open({ endpoint: url, tls: { insecureSkipVerify: true } });
        expect((await skip.status()).latencyMs).toBeGreaterThanOrEqual(0);
      } finally {
        tlsServer.closeAllConnections();
        await new Promise<void>((r) => tlsServer.close(() => r()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('vault key store options', () => {
  const base = { endpoint: 'http://127.0.0.1:8200', token: TOKEN } as const;
  const invalid = (o: unknown, message: string): void => {
    const error = expectKesErrorSync(() => createVaultKeyStore(o as VaultKeyStoreOptions), 'ERR_KES_INVALID_ARGUMENT', message);
    expect(describeError(error)).not.toContain(TOKEN);
  };

  it('rejects bad options synchronously, naming the option and never its value', () => {
    invalid({ token: TOKEN }, "vault: option 'endpoint' must be a non-empty string");
    invalid({ ...base, endpoint: 'not a url' }, "vault: option 'endpoint' is not a valid URL");
    invalid({ ...base, endpoint: 'ftp://x' }, "vault: option 'endpoint' must be an http:// or https:// URL");
    invalid({ ...base, endpoint: 'http://u:p@x' }, "vault: option 'endpoint' must not contain credentials, a query or a fragment");
    invalid({ ...base, version: 'v3' }, "vault: option 'version' must be 'v1' or 'v2'");
    invalid({ ...base, engine: '/' }, "vault: option 'engine' must name a mount path");
    invalid({ ...base, prefix: 'a/../b' }, "vault: option 'prefix' must not contain '.' or '..' path segments");
    invalid({ endpoint: base.endpoint }, "vault: exactly one of the options 'token', 'approle' and 'kubernetes' must be set");
    invalid({ ...base, approle: { id: 'a', secret: 'b' } }, "vault: exactly one of the options 'token', 'approle' and 'kubernetes' must be set");
    invalid({ endpoint: base.endpoint, approle: { id: 'a', secret: '' } }, "vault: option 'approle.secret' must be a non-empty string");
    invalid({ endpoint: base.endpoint, kubernetes: { role: 'r' } }, "vault: option 'kubernetes.jwt' must be a non-empty string");
    invalid(
      { endpoint: base.endpoint, kubernetes: { role: 'r', jwt: '/no/such/token/file' } },
      "vault: option 'kubernetes.jwt': cannot read the token file /no/such/token/file",
    );
    invalid({ ...base, transit: {} }, "vault: option 'transit.key' must be a non-empty string");
    invalid({ ...base, transit: { key: 'a/b' } }, "vault: option 'transit.key' must not contain '/'");
    invalid({ ...base, tls: {} }, "vault: option 'tls' needs an https:// endpoint");
    invalid(
      { ...base, endpoint: 'https://x', tls: { certificate: '-----BEGIN CERTIFICATE-----' } },
      "vault: options 'tls.certificate' and 'tls.privateKey' must be set together",
    );
    invalid({ ...base, endpoint: 'https://x', tls: { ca: '/no/such/ca.pem' } }, "vault: option 'tls.ca': cannot read /no/such/ca.pem");
    invalid({ ...base, requestTimeoutMs: 0 }, "vault: option 'requestTimeoutMs' must be a positive number of milliseconds");
    invalid({ ...base, statusPingMs: -1 }, "vault: option 'statusPingMs' must be a positive number of milliseconds");
  });

  it('places version records beside the key folder, never in it, and refuses unsafe places', () => {
    const at = (o: Partial<VaultKeyStoreOptions>): string | undefined => createVaultKeyStore({ ...base, ...o }).versions?.location;
    const where = (w: string, v = 'v1'): string => `vault:${base.endpoint} ${w} (kv ${v})`;
    expect(at({ prefix: 'kes' })).toBe(where('kv/kes.versions'));
    expect(at({ prefix: '/a//b/', version: 'v2' })).toBe(where('kv/a/b.versions', 'v2'));
    expect(at({ prefix: 'kes', versionsPrefix: 'kes-records' })).toBe(where('kv/kes-records'));
    expect(at({ prefix: 'a/b', versionsPrefix: 'a/c' })).toBe(where('kv/a/c'));
    // Empty prefix: upstream lists the engine root, so there is no default place.
    expect(createVaultKeyStore({ ...base }).versions).toBeUndefined();
    expect(createVaultKeyStore({ ...base, prefix: '/' }).versions).toBeUndefined();
    expect(at({ versionsPrefix: 'kes.versions' })).toBe(where('kv/kes.versions'));
    expect(at({ versionsEngine: 'kes-versions' })).toBe(where('kes-versions'));
    expect(at({ prefix: 'kes', versionsEngine: 'other' })).toBe(where('other/kes.versions'));
    expect(at({ prefix: 'kes', versionsEngine: 'other', versionsPrefix: 'kes' })).toBe(where('other/kes')); // another mount: anything goes
    expect(at({ namespace: 'team', prefix: 'kes' })).toBe(`vault:${base.endpoint} ns=team kv/kes.versions (kv v1)`);

    const inside = "vault: option 'versionsPrefix' must not be the key prefix or lie inside it: the records would show up in key listings";
    const around = "vault: option 'versionsPrefix' must not contain the key prefix: a record could take the place of a key";
    invalid({ ...base, prefix: 'kes', versionsPrefix: 'kes' }, inside);
    invalid({ ...base, prefix: 'kes', versionsPrefix: '/kes/' }, inside);
    invalid({ ...base, prefix: 'kes', versionsPrefix: 'kes/v' }, inside);
    invalid({ ...base, versionsPrefix: '' }, inside);
    invalid({ ...base, versionsPrefix: '/' }, inside);
    invalid({ ...base, prefix: 'a/b', versionsPrefix: 'a' }, around);
    invalid({ ...base, prefix: 'kes', versionsPrefix: '' }, around);
    invalid({ ...base, prefix: 'kes', versionsEngine: '/kv/', versionsPrefix: 'kes' }, inside); // '/kv/' is the key engine
    invalid({ ...base, versionsEngine: '/' }, "vault: option 'versionsEngine' must name a mount path");
    invalid(
      { ...base, versionsEngine: 'kv/sub' },
      "vault: option 'versionsEngine' must be the key engine or another mount, not a path inside or around it",
    );
    invalid(
      { ...base, engine: 'team/kv', versionsEngine: 'team' },
      "vault: option 'versionsEngine' must be the key engine or another mount, not a path inside or around it",
    );
    invalid({ ...base, prefix: 'kes', versionsPrefix: 'a/../b' }, "vault: option 'versionsPrefix' must not contain '.' or '..' path segments");
    invalid({ ...base, versionsPrefix: 7 }, "vault: option 'versionsPrefix' must be a string");
  });

  it('does not connect before the first call', () => {
    // Port 1 refuses connections: creating the store must still succeed.
    const store = createVaultKeyStore({ endpoint: 'http://127.0.0.1:1', approle: { id: 'a', secret: 'b' } });
    expect(store.kind).toBe('vault:http://127.0.0.1:1 kv (kv v1)');
    return store.close();
  });
});
