// The AWS key store against a small local HTTP server that stands in for Secrets
// Manager, only to inject failures (5xx, throttling, hangs, refused connections)
// and to check requests byte by byte. Normal behaviour is tested against moto
// in aws.test.ts.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKesError, listAll } from '@kes/core';
import type { KesErrorCode, KeyStore } from '@kes/core';
import { createAwsKeyStore } from '@kes/keystores/aws';
import type { AwsKeyStoreOptions } from '@kes/keystores/aws';
import { expectKesError } from './contract.js';
import { expectKesError as expectKesErrorOf, loadVectors } from '../../../test/support/index.js';

interface SeenRequest {
  /** `X-Amz-Target` without the `secretsmanager.` prefix, e.g. `GetSecretValue`. */
  readonly op: string;
  readonly body: Record<string, unknown>;
}
type Handler = (req: SeenRequest, res: ServerResponse) => void;

let server: Server;
let endpoint: string;
let handler: Handler;
let seen: SeenRequest[] = [];
const stores: KeyStore[] = [];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  json(res, status, { __type: type, message });
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const text = Buffer.concat(chunks).toString('utf8');
      const request = { op: target.replace(/^secretsmanager\./, ''), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      seen.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  // Drop hanging requests of the test that just ended.
  server.closeAllConnections();
  seen = [];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function open(extra: Partial<AwsKeyStoreOptions> = {}): KeyStore {
  const store = createAwsKeyStore({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 2,
    requestTimeoutMs: 2_000,
    ...extra,
  });
  stores.push(store);
  return store;
}

/** Rejection of `p`, which must be a KesError of `code`; returns it for further checks. */
async function rejection(p: Promise<unknown>, code: KesErrorCode): Promise<Error & { cause?: unknown }> {
  return expectKesErrorOf(p, code);
}

/** The four data calls of a store, for "every call fails the same way" tests. */
function dataCalls(store: KeyStore): [string, () => Promise<unknown>][] {
  return [
    ['create', () => store.create('k1', new TextEncoder().encode('value'))],
    ['get', () => store.get('k1')],
    ['delete', () => store.delete('k1')],
    ['list', () => store.list('k')],
  ];
}

describe('AWS key store: failure injection', () => {
  it('5xx answers surface as ERR_KES_KEYSTORE_UNAVAILABLE, after the configured retries', async () => {
    handler = (_req, res) => awsError(res, 500, 'InternalServiceError', 'boom');
    const store = open({ maxAttempts: 2 });
    for (const [name, call] of dataCalls(store)) {
      seen = [];
      const err = await rejection(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
      expect(err.message, name).toBe('key store is unavailable');
      expect(err.cause).toMatchObject({ code: 'InternalServiceError', status: 500 });
      expect(seen.length, name).toBe(2);
    }
    // status() got an HTTP answer, so the store is reachable but not usable.
    const err = await rejection(store.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(err.message).toBe('key store is unavailable');
  });

  it('a 503 with a non-JSON body is ERR_KES_KEYSTORE_UNAVAILABLE', async () => {
    handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>Service Unavailable</html>');
    };
    const store = open({ maxAttempts: 1 });
    for (const [name, call] of dataCalls(store)) {
      const err = await rejection(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
      expect(err.message, name).toBe('key store is unavailable');
      expect(err.cause).toMatchObject({ status: 503 });
    }
  });

  it('throttling (ThrottlingException, TooManyRequestsException) is retried, then ERR_KES_KEYSTORE_UNAVAILABLE', async () => {
    for (const [status, type] of [
      [400, 'ThrottlingException'],
      [429, 'TooManyRequestsException'],
    ] as const) {
      handler = (_req, res) => awsError(res, status, type, 'Rate exceeded');
      const store = open({ maxAttempts: 2 });
      for (const [name, call] of dataCalls(store)) {
        seen = [];
        const err = await rejection(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
        expect(err.message, `${type} ${name}`).toBe('key store is unavailable');
        expect(err.cause).toMatchObject({ code: type, status });
        expect(seen.length, `${type} ${name}: retried`).toBe(2);
      }
    }
  });

  it('a hanging endpoint times out after requestTimeoutMs: unavailable for calls, unreachable for status()', async () => {
    handler = () => {
      // never answer
    };
    const store = open({ requestTimeoutMs: 300, maxAttempts: 1 });
    const started = performance.now();
    const err = await rejection(store.get('k1'), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(err.message).toBe('key store is unavailable');
    expect(String((err.cause as { code?: string }).code)).toMatch(/Timeout|ETIMEDOUT|ECONNRESET/);
    const st = await rejection(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE');
    expect(st.message).toBe('key store is not reachable');
  }, 10_000);

  it('a refused connection: unavailable for calls, unreachable for status()', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const store = open({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    for (const [name, call] of dataCalls(store)) {
      const err = await rejection(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
      expect(err.message, name).toBe('key store is unavailable');
      expect(err.cause).toMatchObject({ code: 'ECONNREFUSED' });
    }
    const st = await rejection(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE');
    expect(st.message).toBe('key store is not reachable');
  });

  it('aborting a call in flight rejects with the signal reason', async () => {
    handler = () => {
      // never answer
    };
    const store = open({ requestTimeoutMs: 5_000, maxAttempts: 1 });
    const ctrl = new AbortController();
    const reason = new Error('stop');
    const p = store.get('k1', { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('error causes never carry the key value or the raw SDK response', async () => {
    // A misbehaving endpoint that echoes the request into its error message.
    handler = (req, res) => awsError(res, 500, 'InternalServiceError', `bad request ${JSON.stringify(req.body)}`);
    const secret = 'S3CRET-value-0123456789abcdef';
    const store = open({ maxAttempts: 1 });
    const err = await rejection(store.create('k1', new TextEncoder().encode(secret)), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]);
    const err2 = await rejection(store.create('k1', binary), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(seen.map((r) => r.op)).toEqual(['CreateSecret', 'CreateSecret']);
    expect(seen[0]!.body.SecretString).toBe(secret); // the echo really contained it
    for (const [e, needle] of [
      [err, secret],
      [err2, Buffer.from(binary).toString('base64')],
    ] as const) {
      const dump = inspect(e, { depth: 10, showHidden: true });
      expect(dump).not.toContain(needle);
      expect(dump).toContain('[REDACTED]');
      expect(e.cause).not.toHaveProperty('$response');
      expect(e.cause).not.toHaveProperty('$metadata');
      expect(JSON.stringify(e.cause)).not.toContain(needle);
    }
  });

  it('maps only the expected AWS answers to not-found / exists; DecryptionFailure and AccessDenied are unavailable', async () => {
    const store = open({ maxAttempts: 1 });
    handler = (_req, res) => awsError(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    await expectKesError(store.get('k1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(store.delete('k1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    handler = (_req, res) => awsError(res, 400, 'ResourceExistsException', 'exists');
    await expectKesError(store.create('k1', new Uint8Array([0x61])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    for (const type of ['DecryptionFailure', 'AccessDeniedException', 'InternalServiceError', 'InvalidParameterException']) {
      handler = (_req, res) => awsError(res, 400, type, 'nope');
      for (const [name, call] of dataCalls(store)) {
        const err = await rejection(call(), 'ERR_KES_KEYSTORE_UNAVAILABLE');
        expect(err.cause, `${type} ${name}`).toMatchObject({ code: type });
      }
    }
  });

  it('delete looks the secret up first, then force-deletes it', async () => {
    handler = (req, res) => {
      if (req.op === 'DescribeSecret') json(res, 200, { Name: req.body.SecretId, ARN: 'arn:x' });
      else json(res, 200, { Name: req.body.SecretId, ARN: 'arn:x', DeletionDate: 0 });
    };
    const store = open();
    await store.delete('k1');
    expect(seen).toEqual([
      { op: 'DescribeSecret', body: { SecretId: 'k1' } },
      { op: 'DeleteSecret', body: { SecretId: 'k1', ForceDeleteWithoutRecovery: true } },
    ]);
    // A secret already scheduled for deletion is gone for KES; it is not touched.
    seen = [];
    handler = (req, res) => json(res, 200, { Name: req.body.SecretId, ARN: 'arn:x', DeletedDate: 1_700_000_000 });
    await expectKesError(store.delete('k1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(seen.map((r) => r.op)).toEqual(['DescribeSecret']);
  });

  it('create sends Name, SecretString and KmsKeyId (when set) only', async () => {
    handler = (req, res) => json(res, 200, { Name: req.body.Name, ARN: 'arn:x' });
    await open().create('k1', new TextEncoder().encode('{"bytes":"AA=="}'));
    await open({ kmsKeyId: 'alias/kes' }).create('k2', new TextEncoder().encode('text'));
    expect(seen).toHaveLength(2);
    expect(seen[0]!.op).toBe('CreateSecret');
    expect(seen[0]!.body).toEqual({ Name: 'k1', SecretString: '{"bytes":"AA=="}', ClientRequestToken: expect.any(String) });
    expect(seen[1]!.body).toEqual({ Name: 'k2', SecretString: 'text', KmsKeyId: 'alias/kes', ClientRequestToken: expect.any(String) });
  });

  it('a secret with neither SecretString nor SecretBinary is unavailable, not an empty key', async () => {
    handler = (_req, res) => json(res, 200, { Name: 'k1', ARN: 'arn:x' });
    const err = await rejection(open().get('k1'), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(err.message).toBe('key store is unavailable');
  });

  it('rejects invalid names before any request', async () => {
    handler = (_req, res) => json(res, 200, {});
    const store = open();
    for (const name of ['', 'a/b', 'arn:aws:secretsmanager:us-east-1:1:secret:x', '-a', 'a'.repeat(81)]) {
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
      await expectKesError(
        store.create(name, new Uint8Array([1])),
        'ERR_KES_INVALID_KEY_NAME',
        `key name '${name}' is empty, too long or contains invalid characters`,
      );
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
    }
    expect(seen).toEqual([]);
  });
});

describe('AWS key store: listing requests', () => {
  /** Serves `names` as ListSecrets pages of `pageSize`, ignoring any filter (a worst-case server). */
  function serveNames(names: readonly string[], pageSize: number): void {
    handler = (req, res) => {
      if (req.op !== 'ListSecrets') return awsError(res, 400, 'InvalidRequestException', 'unexpected');
      const start = Number(req.body.NextToken ?? 0);
      const slice = names.slice(start, start + pageSize);
      const next = start + pageSize < names.length ? { NextToken: String(start + pageSize) } : {};
      json(res, 200, { SecretList: slice.map((Name) => ({ Name, ARN: `arn:${Name}` })), ...next });
    };
  }

  it('asks for 100 per page with a name filter, follows NextToken, and filters exactly itself', async () => {
    const names = ['pre-b', 'pre-a', 'PRE-c', 'xpre-d', 'pre', 'pre-a', 'prefix', 'other'];
    serveNames(names, 3);
    const page = await open().list('pre-');
    expect(page).toEqual({ names: ['pre-a', 'pre-b'], continueAt: '' });
    expect(seen.map((r) => r.body)).toEqual([
      { MaxResults: 100, Filters: [{ Key: 'name', Values: ['pre-'] }] },
      { MaxResults: 100, Filters: [{ Key: 'name', Values: ['pre-'] }], NextToken: '3' },
      { MaxResults: 100, Filters: [{ Key: 'name', Values: ['pre-'] }], NextToken: '6' },
    ]);
    seen = [];
    expect(await listAll(open(), '')).toEqual([...new Set(names)].sort());
    expect(seen[0]!.body).toEqual({ MaxResults: 100 });
  });

  it('pages like upstream (vectors keystore_list_pagination)', async () => {
    interface Case {
      names: string[];
      prefix: string;
      n: number;
      list: string[];
      continue_at: string;
    }
    const vectors = loadVectors<{ keystore_list_pagination: { cases: Case[] } }>();
    const cases = vectors.keystore_list_pagination.cases;
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      serveNames(c.names, 100);
      const page = await open().list(c.prefix, { limit: c.n });
      expect(page, JSON.stringify(c)).toEqual({ names: c.list, continueAt: c.continue_at });
    }
  });

  it('continuation pages are served from the first page snapshot (one listing, not one per page)', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `k-${String(i).padStart(3, '0')}`);
    serveNames(names, 100);
    const store = open();
    const first = await store.list('k-', { limit: 100 });
    expect(seen).toHaveLength(3);
    const second = await store.list('k-', { limit: 100, continueAt: first.continueAt });
    const third = await store.list('k-', { limit: 100, continueAt: second.continueAt });
    expect([...first.names, ...second.names, ...third.names]).toEqual(names);
    expect(third.continueAt).toBe('');
    expect(seen).toHaveLength(3);
    // A fresh listing (no continueAt) fetches again.
    await store.list('k-', { limit: 100 });
    expect(seen).toHaveLength(6);
  });
});

describe('AWS key store: options', () => {
  const base = { region: 'us-east-1' } as const;
  const cases: [string, unknown][] = [
    ['aws secretsmanager: region must be a non-empty string', {}],
    ['aws secretsmanager: region must be a non-empty string', { region: '' }],
    ['aws secretsmanager: endpoint must be a non-empty string', { ...base, endpoint: '' }],
    ['aws secretsmanager: endpoint is not a valid URL', { ...base, endpoint: 'http://[::1' }],
    ['aws secretsmanager: endpoint must be an http or https URL', { ...base, endpoint: 'ftp://example.com' }],
    ['aws secretsmanager: kmsKeyId must be a non-empty string', { ...base, kmsKeyId: '' }],
    ['aws secretsmanager: credentials.accessKeyId must be a non-empty string', { ...base, credentials: { secretAccessKey: 'TOPSECRETKEY' } }],
    [
      'aws secretsmanager: credentials.secretAccessKey must be a non-empty string',
      { ...base, credentials: { accessKeyId: 'AKIA', secretAccessKey: '' } },
    ],
    ['aws secretsmanager: requestTimeoutMs must be a positive integer', { ...base, requestTimeoutMs: 0 }],
    ['aws secretsmanager: maxAttempts must be an integer from 1 to 20', { ...base, maxAttempts: 0 }],
  ];

  it.each(cases)('rejects synchronously: %s', (message, options) => {
    let err: unknown;
    try {
      createAwsKeyStore(options as AwsKeyStoreOptions);
    } catch (e) {
      err = e;
    }
    expect(isKesError(err, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('TOPSECRETKEY');
  });

  it('accepts an endpoint without scheme (https is assumed) and names it in kind', () => {
    const store = createAwsKeyStore({ ...base, endpoint: 'secretsmanager.us-east-2.amazonaws.com' });
    expect(store.kind).toBe('aws-secretsmanager:https://secretsmanager.us-east-2.amazonaws.com');
    expect(createAwsKeyStore(base).kind).toBe('aws-secretsmanager:us-east-1');
  });
});
