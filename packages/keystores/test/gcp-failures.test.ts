// The GCP key store against the FAKE Secret Manager (test/fakes/gcp.ts) with injected
// failures: 5xx, throttling, hangs, resets, a refused connection, expired and revoked
// tokens, bad credentials, application default credentials (file and metadata
// server), TLS trust, and option validation. Every backend failure must surface as
// ERR_KES_KEYSTORE_UNAVAILABLE (status(): …_UNREACHABLE where nothing answers),
// never as ERR_KES_KEY_NOT_FOUND, and never carry a value, a token or the private key.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createGcpKeyStore } from '@kes/keystores/gcp';
import type { GcpKeyStoreOptions } from '@kes/keystores/gcp';
import { expectKesError } from './contract.js';
import { FakeGcp, googleErrorBody } from './fakes/gcp.js';
import { expectKesErrorSync, rejection } from '../../../test/support/index.js';

const SECRET_VALUE = 'SECRET-VALUE-must-not-leak';
let fake: FakeGcp;
let dir: string;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await FakeGcp.start();
  dir = mkdtempSync(join(tmpdir(), 'kes-gcp-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  fake.reset();
  fake.tokenTtlSeconds = 3600;
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(extra: Partial<GcpKeyStoreOptions> = {}): KeyStore {
  const store = createGcpKeyStore({
    projectId: fake.projectId,
    endpoint: fake.url,
    tokenUrl: fake.tokenUrl,
    credentials: fake.credentials,
    tls: { ca: fake.ca },
    env: {},
    requestTimeoutMs: 2_000,
    ...extra,
  });
  stores.push(store);
  return store;
}

/** Every way an error could leak something: message, cause chain, stack. */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 10; i++) {
    parts.push(String(cur), (cur as Error).stack ?? '', JSON.stringify(cur));
    cur = (cur as Error).cause;
  }
  return parts.join('\n');
}

function expectNoSecrets(e: unknown): void {
  const all = describeError(e);
  expect(all).not.toContain(SECRET_VALUE);
  expect(all).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
  expect(all).not.toContain('PRIVATE KEY');
  expect(all).not.toMatch(/ya29\./);
}

const operations = (store: KeyStore): [string, () => Promise<unknown>][] => [
  ['create', () => store.create('my-key', new Uint8Array(Buffer.from(SECRET_VALUE)))],
  ['get', () => store.get('my-key')],
  ['delete', () => store.delete('my-key')],
  ['list', () => store.list('')],
];

const apiOnly = (fault: { status: number; body: unknown } | 'hang' | 'reset') => (r: { path: string }) =>
  r.path.startsWith('/v1/') ? fault : undefined;

describe('gcp key store failure mapping (fake Secret Manager)', () => {
  it.each([
    [500, 'INTERNAL', 'Internal error encountered.'],
    [503, 'UNAVAILABLE', 'The service is currently unavailable.'],
    [429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Access requests'."],
    [403, 'PERMISSION_DENIED', "Permission 'secretmanager.versions.access' denied."],
  ] as const)('HTTP %s %s → ERR_KES_KEYSTORE_UNAVAILABLE with Google’s answer as cause', async (status, code, message) => {
    const store = open();
    fake.fault = apiOnly({ status, body: googleErrorBody(status, code, message) });
    for (const [op, call] of operations(store)) {
      const e = await rejection(call());
      await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
      expect(String((e as Error).cause), op).toMatch(new RegExp(`HTTP ${status}: ${code}: `));
      expectNoSecrets(e);
    }
  });

  it('status(): 5xx and 429 are unreachable, 403 is unavailable', async () => {
    const store = open();
    for (const [status, code] of [
      [500, 'ERR_KES_KEYSTORE_UNREACHABLE'],
      [503, 'ERR_KES_KEYSTORE_UNREACHABLE'],
      [429, 'ERR_KES_KEYSTORE_UNREACHABLE'],
      [403, 'ERR_KES_KEYSTORE_UNAVAILABLE'],
    ] as const) {
      fake.fault = apiOnly({ status, body: googleErrorBody(status, 'X', 'injected') });
      await expectKesError(store.status(), code);
    }
  });

  it('a hung request times out: ERR_KES_KEYSTORE_UNAVAILABLE (status(): unreachable)', async () => {
    const store = open({ requestTimeoutMs: 300 });
    await store.status(); // token fetched
    fake.fault = apiOnly('hang');
    const e = await rejection(store.get('my-key'));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toMatch(
      /GcpTransportError: GET 127\.0\.0\.1:\d+\/v1\/projects\/kes-fake-project\/secrets\/my-key\/versions\/1:access: no answer within 300 ms/,
    );
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE');
  });

  it('an aborted signal ends a hung request with its reason', async () => {
    const store = open();
    await store.status();
    fake.fault = apiOnly('hang');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('stop waiting')), 50);
    await expect(store.get('my-key', { signal: ctl.signal })).rejects.toThrow('stop waiting');
  });

  it('a reset connection is unavailable (status(): unreachable)', async () => {
    const store = open();
    await store.status();
    fake.fault = apiOnly('reset');
    const e = await rejection(store.list(''));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE');
  });

  it('a refused connection: operations unavailable, status() unreachable', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const store = open({ endpoint: `https://127.0.0.1:${port}` });
    for (const [, call] of operations(store)) await expectKesError(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    const e = await rejection(store.status());
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNREACHABLE');
    expect(String((e as Error).cause)).toMatch(/ECONNREFUSED/);
  });

  it('without the test CA the fake’s certificate is refused', async () => {
    const store = open({ tls: {} });
    const e = await rejection(store.get('my-key'));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(describeError(e)).toMatch(/self-signed|unable to (get|verify)/i);
  });

  it('tls.ca may name a PEM file', async () => {
    const file = join(dir, 'ca.pem');
    writeFileSync(file, fake.ca);
    await open({ tls: { ca: file } }).status();
  });
});

describe('gcp key store authentication (fake OAuth2 token endpoint)', () => {
  it('signs an RS256 JWT for the token endpoint with the default cloud-platform scope, and shares one fetch', async () => {
    const store = open();
    const before = fake.tokensIssued;
    await Promise.all(Array.from({ length: 20 }, () => store.list('')));
    expect(fake.tokensIssued - before).toBe(1);
    const grant = fake.requests.find((r) => r.path === '/token')!;
    const form = grant.body as Record<string, string>;
    expect(form.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [h, c] = form.assertion!.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: fake.account.privateKeyId });
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: fake.account.clientEmail, aud: fake.tokenUrl, scope: 'https://www.googleapis.com/auth/cloud-platform' });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
  });

  it('asks for the configured scopes', async () => {
    await open({ scopes: ['https://www.googleapis.com/auth/a', 'https://www.googleapis.com/auth/b'] }).status();
    expect(fake.lastScopes).toBe('https://www.googleapis.com/auth/a https://www.googleapis.com/auth/b');
  });

  it('fetches a new token shortly before the old one expires', async () => {
    fake.tokenTtlSeconds = 2; // refreshed at 2 s - 0.5 s
    const store = open();
    await store.status();
    const issued = fake.tokensIssued;
    await store.status();
    expect(fake.tokensIssued).toBe(issued);
    await new Promise((r) => setTimeout(r, 1_600));
    await store.status();
    expect(fake.tokensIssued).toBe(issued + 1);
    // No request went out with a token the fake had already let expire.
    expect(fake.requests.filter((r) => r.path.startsWith('/v1/')).length).toBe(3);
  });

  it('a revoked token (401) is replaced once and the call retried', async () => {
    const store = open();
    await store.create('rotated', new Uint8Array([1]));
    fake.revokeTokens();
    fake.requests.length = 0;
    expect(await store.get('rotated')).toEqual(new Uint8Array([1]));
    expect(fake.requests.map((r) => `${r.method} ${r.path.replace(/^\/v1\/projects\/[^/]+/, '')}`)).toEqual([
      'GET /secrets/rotated/versions/1:access',
      'POST /token',
      'GET /secrets/rotated/versions/1:access',
    ]);
  });

  it('a 401 that persists after the new token is unavailable (one retry, no loop)', async () => {
    const store = open();
    fake.fault = apiOnly({ status: 401, body: googleErrorBody(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.') });
    const e = await rejection(store.get('x'));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toBe('Error: gcp: get x: HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials.');
    expect(fake.requests.filter((r) => r.path.startsWith('/v1/'))).toHaveLength(2);
  });

  it('a private key the service account does not have: a clear error, no key material', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const store = open({ credentials: { ...fake.credentials, privateKey: other } });
    const e = await rejection(store.create('k', new Uint8Array(Buffer.from(SECRET_VALUE))));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toBe(
      `Error: gcp: token request for ${fake.account.clientEmail} to ${new URL(fake.url).host} failed: HTTP 400: invalid_grant: Invalid JWT Signature.`,
    );
    expectNoSecrets(e);
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
  });

  it('a hung token endpoint times out', async () => {
    const store = open({ requestTimeoutMs: 300 });
    fake.fault = (r) => (r.path === '/token' ? 'hang' : undefined);
    const e = await rejection(store.get('k'));
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toMatch(/token request for .* failed: POST 127\.0\.0\.1:\d+\/token: no answer within 300 ms/);
  });

  it('a private key with literal \\n sequences (as pasted into YAML) works, as upstream', async () => {
    const flat = fake.account.privateKey.trimEnd().replaceAll('\n', '\\n');
    expect(flat).not.toContain('\n');
    await open({ credentials: { ...fake.credentials, privateKey: flat } }).status();
  });
});

describe('gcp key store application default credentials (fake)', () => {
  it('GOOGLE_APPLICATION_CREDENTIALS names a service-account file; its token_uri is used', async () => {
    const file = fake.writeServiceAccountFile(dir);
    const store = createGcpKeyStore({
      projectId: fake.projectId,
      endpoint: fake.url,
      tls: { ca: fake.ca },
      env: { GOOGLE_APPLICATION_CREDENTIALS: file },
    });
    stores.push(store);
    await store.create('adc-file', new Uint8Array([5]));
    expect(await store.get('adc-file')).toEqual(new Uint8Array([5]));
    expect(fake.requests.some((r) => r.path === '/token')).toBe(true);
  });

  it('a missing or unsupported credentials file is a clear error', async () => {
    const missing = createGcpKeyStore({
      projectId: fake.projectId,
      endpoint: fake.url,
      tls: { ca: fake.ca },
      credentialsFile: join(dir, 'nope.json'),
    });
    stores.push(missing);
    const e1 = await rejection(missing.get('k'));
    await expectKesError(Promise.reject(e1), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e1 as Error).cause)).toBe(`Error: gcp: cannot read the credentials file ${join(dir, 'nope.json')}: ENOENT`);

    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ type: 'authorized_user', client_id: 'x', client_secret: 'y', refresh_token: 'z' }));
    const store = createGcpKeyStore({ projectId: fake.projectId, endpoint: fake.url, tls: { ca: fake.ca }, credentialsFile: user });
    stores.push(store);
    const e2 = await rejection(store.get('k'));
    expect(String((e2 as Error).cause)).toBe(
      `Error: gcp: credentials file ${user}: type 'authorized_user' is not supported (only 'service_account')`,
    );
    expect(describeError(e2)).not.toContain('refresh_token');
  });

  it('without credentials or a file: the metadata server, with the Metadata-Flavor header', async () => {
    const store = createGcpKeyStore({ projectId: fake.projectId, endpoint: fake.url, metadataUrl: fake.metadataUrl, tls: { ca: fake.ca }, env: {} });
    stores.push(store);
    await store.status();
    const m = fake.requests.find((r) => r.path.startsWith('/computeMetadata/'))!;
    expect(m.path).toBe('/computeMetadata/v1/instance/service-accounts/default/token');
    expect(m.headers['metadata-flavor']).toBe('Google');
    expect(m.query.get('scopes')).toBeNull();
  });

  it('no metadata server (outside Google Cloud, nothing configured): status() is unreachable and says why', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const store = createGcpKeyStore({ projectId: fake.projectId, endpoint: fake.url, metadataUrl: `http://127.0.0.1:${port}`, env: {} });
    stores.push(store);
    const e = await rejection(store.status());
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNREACHABLE');
    expect(String((e as Error).cause)).toMatch(
      new RegExp(
        `^Error: gcp: token request to the metadata server 127\\.0\\.0\\.1:${port} \\(no credentials configured, GOOGLE_APPLICATION_CREDENTIALS not set\\) failed: GET .*ECONNREFUSED`,
      ),
    );
  });

  it('the metadata server is asked for configured scopes', async () => {
    const store = createGcpKeyStore({
      projectId: fake.projectId,
      endpoint: fake.url,
      metadataUrl: fake.metadataUrl,
      tls: { ca: fake.ca },
      env: {},
      scopes: ['https://www.googleapis.com/auth/a', 'https://www.googleapis.com/auth/b'],
    });
    stores.push(store);
    await store.status();
    expect(fake.lastScopes).toBe('https://www.googleapis.com/auth/a,https://www.googleapis.com/auth/b');
  });
});

describe('gcp key store options', () => {
  const base: GcpKeyStoreOptions = { projectId: 'p-1', env: {} };
  it.each([
    [{ ...base, projectId: '' }, 'projectId must be a non-empty string'],
    [{ ...base, projectId: 'a/b' }, 'projectId must be a GCP project id or number'],
    [{ ...base, projectId: '../x' }, 'projectId must be a GCP project id or number'],
    [{ ...base, endpoint: '' }, 'endpoint must be a non-empty string'],
    [{ ...base, endpoint: 'ftp://x' }, 'endpoint must be an http or https URL'],
    [{ ...base, endpoint: 'https://u:p@x' }, 'endpoint must not contain user information'],
    [{ ...base, endpoint: 'https://x/?a=b' }, 'endpoint must not contain a query or fragment'],
    [{ ...base, tokenUrl: 'http://x/token' }, 'tokenUrl must be an https URL'],
    [{ ...base, scopes: ['a b'] }, 'scopes must be a list of scope URLs without spaces'],
    [
      { ...base, credentials: { clientEmail: 'e', clientId: '', privateKeyId: 'k', privateKey: 'x' } },
      'credentials.clientId must be a non-empty string',
    ],
    [
      { ...base, credentials: { clientEmail: 'e', clientId: 'i', privateKeyId: 'k', privateKey: 'not a key' } },
      'credentials.privateKey is not a PEM-encoded RSA private key',
    ],
    [{ ...base, tls: { ca: '/nonexistent/ca.pem' } }, 'cannot read tls.ca file /nonexistent/ca.pem: ENOENT'],
    [{ ...base, requestTimeoutMs: 0 }, 'requestTimeoutMs must be a positive integer'],
    [{ ...base, listPageSize: 25_001 }, 'listPageSize must be an integer from 1 to 25000'],
  ] as [GcpKeyStoreOptions, string][])('%o → %s', (o, message) => {
    expectKesErrorSync(() => createGcpKeyStore(o), 'ERR_KES_INVALID_ARGUMENT', `gcp secretmanager: ${message}`);
  });

  it('an endpoint without scheme (upstream’s gRPC host:port) means https://host:port', () => {
    const store = createGcpKeyStore({ ...base, endpoint: 'secretmanager.googleapis.com:443' });
    expect(store.kind).toBe('gcp-secretmanager:secretmanager.googleapis.com project=p-1');
    const other = createGcpKeyStore({ ...base, endpoint: 'private.example.net:8443' });
    expect(other.kind).toBe('gcp-secretmanager:private.example.net:8443 project=p-1');
  });
});
