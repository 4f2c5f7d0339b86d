// Fail-over, retries and compatibility: a dead endpoint (closed port), a black hole, servers
// that answer 503 once or 5xx always, the legacy error texts and listings of old servers,
// paged listings, and what exactly goes on the wire. The live endpoint is the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, KesError } from '@kes/core';
import { createKesClient, isKesClientError } from '@kes/client';
import type { KesClient, KesClientOptions } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { createTestPki } from '../../server/test/helpers/tls-client.js';
import { blackHole, closedPort, sendJson, startFake } from './helpers/fake-server.js';
import type { FakeServer } from './helpers/fake-server.js';

const pki = createTestPki();
const ca = pki.ca.certificatePem;
const admin = ApiKey.generate();
const te = new TextEncoder();

async function failure(p: Promise<unknown>): Promise<Error & { code?: string; status?: number; endpoint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const open: { close(): unknown }[] = [];
function client(options: Omit<KesClientOptions, 'ca' | 'apiKey'> & Partial<KesClientOptions>): KesClient {
  const c = createKesClient({ apiKey: admin, ca, ...options });
  open.push(c);
  return c;
}
async function fake(handler: Parameters<typeof startFake>[1]): Promise<FakeServer> {
  const f = await startFake(pki, handler);
  open.push(f);
  return f;
}

let live: KesServer;
beforeAll(async () => {
  live = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    log: { error: 'off', audit: 'off' },
  });
  await live.listen(0, '127.0.0.1');
});
afterAll(async () => {
  for (const o of open) await o.close();
  await live?.close();
});

describe('fail-over', () => {
  it('a dead endpoint (closed port) is skipped for the live one', async () => {
    const dead = `https://127.0.0.1:${await closedPort()}`;
    const c = client({ endpoints: [dead, live.url] });
    await c.createKey('failover');
    for (let i = 0; i < 20; i++) expect((await c.describeKey('failover')).name).toBe('failover');
  });

  it('only dead endpoints → ERR_KES_CLIENT_UNREACHABLE that says what to check', async () => {
    const port = await closedPort();
    const one = await failure(client({ endpoints: `127.0.0.1:${port}` }).status());
    expect(isKesClientError(one, 'ERR_KES_CLIENT_UNREACHABLE')).toBe(true);
    expect(one.message).toBe(`cannot reach https://127.0.0.1:${port}: connection refused — is the server running? check KES_SERVER`);
    expect(one.endpoint).toBe(`https://127.0.0.1:${port}`);

    const other = await closedPort();
    const both = await failure(client({ endpoints: [`127.0.0.1:${port}`, `127.0.0.1:${other}`] }).status());
    expect(both.code).toBe('ERR_KES_CLIENT_UNREACHABLE');
    expect(both.message).toMatch(
      /^cannot reach any of https:\/\/127\.0\.0\.1:\d+, https:\/\/127\.0\.0\.1:\d+: connection refused — are the servers running\? check KES_SERVER$/,
    );
  });

  it('a server that never finishes the TLS handshake is given up after connectTimeoutMs', async () => {
    const hole = await blackHole();
    open.push(hole);
    const c = client({ endpoints: [hole.url, live.url], connectTimeoutMs: 200 });
    for (let i = 0; i < 5; i++) expect((await c.version()).version).toBeTypeOf('string');
    const alone = await failure(client({ endpoints: hole.url, connectTimeoutMs: 200, retries: 0 }).version());
    expect(alone.code).toBe('ERR_KES_CLIENT_UNREACHABLE');
    expect(alone.message).toBe(`cannot reach ${hole.url}: no TLS connection within 200 ms — is the server running? check KES_SERVER`);
  });

  it('a TLS failure on one endpoint moves on to another, but is reported when it is the last one', async () => {
    // A server whose certificate comes from a CA this client does not trust.
    const stranger = await startFake(createTestPki(), (_req, res) => sendJson(res, 200, { version: 'x', commit: 'x' }));
    open.push(stranger);
    const c = client({ endpoints: [stranger.url, live.url] });
    for (let i = 0; i < 5; i++) expect((await c.version()).version).not.toBe('x');
    expect(stranger.requests).toHaveLength(0);
    const alone = await failure(client({ endpoints: stranger.url }).version());
    expect(alone.code).toBe('ERR_KES_CLIENT_TLS');
  });

  it('a 503 is retried (on the next endpoint, or the same one again)', async () => {
    const f = await fake((_req, res, n) => {
      if (n === 0) sendJson(res, 503, { message: 'change committed but not replicated' });
      else sendJson(res, 200, { version: 'v', commit: 'c' });
    });
    expect(await client({ endpoints: f.url }).version()).toEqual({ version: 'v', commit: 'c' });
    expect(f.requests).toHaveLength(2);
  });

  it('retries are bounded; the last 503 is thrown as the error it is', async () => {
    const known = await fake((_req, res) => sendJson(res, 503, { message: 'change committed but not replicated' }));
    const e = await failure(client({ endpoints: known.url, retries: 0 }).createKey('k'));
    expect(e).toBeInstanceOf(KesError);
    expect(e).toMatchObject({ code: 'ERR_KES_NOT_REPLICATED', status: 503 });
    expect(known.requests).toHaveLength(1);

    const unknown = await fake((_req, res) => sendJson(res, 503, { message: 'overloaded' }));
    const u = await failure(client({ endpoints: unknown.url }).createKey('k'));
    expect(u).toMatchObject({ code: 'ERR_KES_CLIENT_HTTP', status: 503, message: 'overloaded' });
    expect(unknown.requests).toHaveLength(3); // default retries: 2
  });

  it('an endpoint that answered a 5xx (not 501) is avoided for 30 s', async () => {
    const bad = await fake((_req, res) => sendJson(res, 502, { message: 'key store is unavailable' }));
    const good = await fake((_req, res) => sendJson(res, 200, { version: 'v', commit: 'c' }));
    const c = client({ endpoints: [bad.url, good.url] });
    const errors: unknown[] = [];
    for (let i = 0; i < 20; i++) await c.version().catch((e: unknown) => errors.push(e));
    expect(bad.requests.length).toBeLessThanOrEqual(1);
    expect(errors).toHaveLength(bad.requests.length);
    for (const e of errors) expect(e).toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE', status: 502 });
  });

  it('a 501 does not take an endpoint out of rotation', async () => {
    const notImpl = await fake((_req, res) => sendJson(res, 501, { message: 'not implemented' }));
    const good = await fake((_req, res) => sendJson(res, 200, { version: 'v', commit: 'c' }));
    const c = client({ endpoints: [notImpl.url, good.url] });
    for (let i = 0; i < 30; i++) await c.version().catch(() => {});
    expect(notImpl.requests.length).toBeGreaterThan(1);
  });

  it('a server that does not answer in time → ERR_KES_CLIENT_TIMEOUT, not retried', async () => {
    const silent = await fake(() => {});
    const e = await failure(client({ endpoints: silent.url, timeoutMs: 200 }).status());
    expect(e.code).toBe('ERR_KES_CLIENT_TIMEOUT');
    expect(e.message).toBe(
      `GET /v1/status on ${silent.url} timed out after 200 ms — the server or its key store is slow or not answering; try again, or raise the timeout`,
    );
    expect(silent.requests).toHaveLength(1);
  });
});

describe('error replies of older and other servers', () => {
  it('maps the legacy texts (400 key does already exist, 403 prohibited by policy)', async () => {
    const old = await fake((req, res) => {
      if (req.path.startsWith('/v1/key/create/')) sendJson(res, 400, { message: 'key does already exist' }, 'application/json; charset=utf-8');
      else sendJson(res, 403, { message: 'prohibited by policy' }, 'application/json; charset=utf-8');
    });
    const c = client({ endpoints: old.url });
    expect(await failure(c.createKey('k'))).toMatchObject({ code: 'ERR_KES_KEY_EXISTS', status: 400, message: 'key already exists' });
    expect(await failure(c.describeKey('k'))).toMatchObject({ code: 'ERR_KES_NOT_ALLOWED', status: 403 });
  });

  it('unknown replies become ERR_KES_CLIENT_HTTP with the server’s message', async () => {
    const other = await fake((req, res) => {
      if (req.path === '/version') sendJson(res, 400, { error: 'bad thing' });
      else {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('404 page not found\n');
      }
    });
    const c = client({ endpoints: other.url });
    expect(await failure(c.version())).toMatchObject({ code: 'ERR_KES_CLIENT_HTTP', status: 400, message: 'bad thing' });
    expect(await failure(c.status())).toMatchObject({ code: 'ERR_KES_CLIENT_HTTP', status: 404, message: '404 page not found', endpoint: other.url });
  });

  it('a 2xx reply that is not the API → ERR_KES_CLIENT_PROTOCOL', async () => {
    const junk = await fake((req, res) => {
      if (req.path === '/v1/status') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>');
      } else sendJson(res, 200, { plaintext: 'not base64!' });
    });
    const c = client({ endpoints: junk.url });
    const e = await failure(c.status());
    expect(e.code).toBe('ERR_KES_CLIENT_PROTOCOL');
    expect(e.message).toBe(`${junk.url} sent an invalid reply to GET /v1/status: the body is not JSON — is this a KES server?`);
    expect(await failure(c.decrypt('k', new Uint8Array(1)))).toMatchObject({
      code: 'ERR_KES_CLIENT_PROTOCOL',
      message: `${junk.url} sent an invalid reply to POST /v1/key/decrypt/k: field 'plaintext' is not valid base64 — is this a KES server?`,
    });
  });

  it('reads v0.22 replies: ND-JSON listings, old algorithm names, array policies, policy_name', async () => {
    const old = await fake((req, res) => {
      if (req.path.startsWith('/v1/key/list/')) {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.end('{"name":"k1"}\n{"name":"k2"}\n');
      } else if (req.path.startsWith('/v1/identity/list/')) {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.end('{"identity":"aa","admin":true}\n{"error":"listing failed"}\n');
      } else if (req.path.startsWith('/v1/key/describe/')) {
        sendJson(res, 200, { name: 'k1', id: 'x', algorithm: 'XCHACHA20-POLY1305', created_at: '2023-01-02T03:04:05.123456789Z' });
      } else if (req.path.startsWith('/v1/policy/read/')) {
        sendJson(res, 200, { allow: ['/v1/key/*'], deny: null });
      } else {
        sendJson(res, 200, { identity: 'bb', policy_name: 'p', policy: { allow: ['/v1/status'] } });
      }
    });
    const c = client({ endpoints: old.url });
    expect(await collect(c.listKeys())).toEqual(['k1', 'k2']);
    expect(await failure(collect(c.listIdentities()))).toMatchObject({ code: 'ERR_KES_CLIENT_HTTP', message: 'listing failed' });
    const info = await c.describeKey('k1');
    expect(info).toMatchObject({ name: 'k1', algorithm: 'ChaCha20', createdBy: '' });
    expect((info.createdAt as Date).toISOString()).toBe('2023-01-02T03:04:05.123Z');
    expect(await c.readPolicy('p')).toMatchObject({ name: 'p', allow: ['/v1/key/*'], deny: [] });
    expect(await c.describeSelf()).toMatchObject({ identity: 'bb', admin: false, policy: { name: 'p', allow: ['/v1/status'], deny: [] } });
  });

  it('status of a server whose key store is down', async () => {
    const down = await fake((_req, res) =>
      sendJson(res, 200, {
        version: 'v',
        os: 'linux',
        arch: 'amd64',
        uptime: 5,
        num_cpu: 2,
        num_cpu_used: 2,
        mem_heap_used: 1,
        mem_stack_used: 2,
        keystore_unreachable: true,
      }),
    );
    const s = await client({ endpoints: down.url }).status();
    expect(s).toEqual({
      version: 'v',
      os: 'linux',
      arch: 'amd64',
      uptime: 5,
      numCpu: 2,
      numCpuUsed: 2,
      memHeapUsed: 1,
      memStackUsed: 2,
      keystoreUnreachable: true,
    });
  });
});

describe('listings that page with continue_at', () => {
  const names = ['aaa', ...Array.from({ length: 2500 }, (_, i) => `key-${String(i).padStart(4, '0')}`), 'zeta-1'];

  it('follows continue_at page by page (1024 names a page) and stops past the prefix', async () => {
    // A server that starts each page at the pattern and pages through everything after it.
    const paged = await fake((req, res) => {
      const start = decodeURIComponent(req.path.slice('/v1/key/list/'.length)).replace(/\*$/, '');
      const rest = names.filter((n) => n >= start);
      sendJson(res, 200, rest.length > 1024 ? { names: rest.slice(0, 1024), continue_at: rest[1024] } : { names: rest });
    });
    const got = await collect(client({ endpoints: paged.url }).listKeys('key-*'));
    expect(got).toHaveLength(2500);
    expect(got).toEqual(names.slice(1, 2501));
    expect(paged.requests.map((r) => r.path)).toEqual(['/v1/key/list/key-*', '/v1/key/list/key-1024', '/v1/key/list/key-2048']);
  });

  it('also works when the server returns everything at once, and never loops on a stuck continue_at', async () => {
    const stuck = await fake((_req, res) => sendJson(res, 200, { names: ['a', 'b'], continue_at: 'a' }));
    expect(await collect(client({ endpoints: stuck.url }).listKeys())).toEqual(['a', 'b']);
    expect(stuck.requests.map((r) => r.path)).toEqual(['/v1/key/list/', '/v1/key/list/a']);
  });

  it('stops early when the caller breaks out of the loop', async () => {
    const paged = await fake((_req, res) => sendJson(res, 200, { names: ['x-1', 'x-2'], continue_at: 'x-3' }));
    for await (const name of client({ endpoints: paged.url }).listKeys('x-*')) {
      expect(name).toBe('x-1');
      break;
    }
    expect(paged.requests).toHaveLength(1);
  });
});

describe('the wire', () => {
  it('sends the methods, paths and JSON bodies KES expects', async () => {
    const seen = await fake((req, res) => {
      const path = req.path.replace(/^\/base/, '');
      if (path.startsWith('/v1/key/generate/')) sendJson(res, 200, { plaintext: 'AAAA', ciphertext: 'AQID' });
      else if (path.startsWith('/v1/key/encrypt/')) sendJson(res, 200, { ciphertext: 'AQID' });
      else if (path.startsWith('/v1/key/decrypt/')) sendJson(res, 200, { plaintext: 'aGk=' });
      else if (path.startsWith('/v1/key/hmac/')) sendJson(res, 200, { hmac: 'AA==' });
      else if (path.startsWith('/v1/key/list/')) sendJson(res, 200, { names: [] });
      else {
        res.writeHead(200, { 'Content-Length': 0 });
        res.end();
      }
    });
    const c = client({ endpoints: `${seen.url}/base/` });
    await c.createKey('k');
    await c.importKey('k', { bytes: new Uint8Array([1, 2, 3]), cipher: 'ChaCha20' });
    expect(await c.generateKey('k', te.encode('ctx'))).toEqual({ plaintext: new Uint8Array([0, 0, 0]), ciphertext: new Uint8Array([1, 2, 3]) });
    await c.generateKey('k');
    expect(await c.encrypt('k', te.encode('hi'), te.encode('c'))).toEqual(new Uint8Array([1, 2, 3]));
    expect(Buffer.from(await c.decrypt('k', new Uint8Array([9]))).toString()).toBe('hi');
    expect(await c.hmac('k', te.encode('m'))).toEqual(new Uint8Array([0]));
    await c.deleteKey('k');
    await collect(c.listKeys());
    expect(seen.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/base/v1/key/create/k', ''],
      ['POST', '/base/v1/key/import/k', '{"key":"AQID","cipher":"ChaCha20"}'],
      ['POST', '/base/v1/key/generate/k', '{"context":"Y3R4"}'],
      ['POST', '/base/v1/key/generate/k', '{}'],
      ['POST', '/base/v1/key/encrypt/k', '{"plaintext":"aGk=","context":"Yw=="}'],
      ['POST', '/base/v1/key/decrypt/k', '{"ciphertext":"CQ=="}'],
      ['PUT', '/base/v1/key/hmac/k', '{"message":"bQ=="}'],
      ['DELETE', '/base/v1/key/delete/k', ''],
      ['GET', '/base/v1/key/list/', ''],
    ]);
    expect(seen.requests[0]?.headers['content-length']).toBe('0');
    expect(seen.requests[1]?.headers['content-type']).toBe('application/json');
    expect(seen.requests[0]?.headers['user-agent']).toMatch(/^kes-ts-client\/\d+\.\d+\.\d+/);
  });

  it('reuses one keep-alive connection for consecutive calls', async () => {
    const f = await fake((_req, res) => sendJson(res, 200, { version: 'v', commit: 'c' }));
    const c = client({ endpoints: f.url });
    for (let i = 0; i < 5; i++) await c.version();
    expect(f.requests).toHaveLength(5);
    expect(new Set(f.requests.map((r) => r.remotePort)).size).toBe(1);
  });
});
