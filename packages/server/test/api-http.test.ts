// handle() over a real node:http socket (the TLS layer is simulated through PeerInfo).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';
import type { KesHandler } from '@kes/server';

const client = createSelfSignedCertificate({ commonName: 'admin' });
let handler: KesHandler;
let server: Server;
let port = 0;

function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  handler = await createKesHandler({ admin: client.identity, keyStore: createMemoryKeyStore(), log: { error: 'off' } });
  const certificates = [client.certificate];
  server = createServer((req, res) => handler.handle(req, res, { tls: true, certificates, remoteAddress: req.socket.remoteAddress ?? '' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await handler.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('handle() over HTTP/1.1', () => {
  it('serves a create → generate → decrypt round trip', async () => {
    expect((await call('POST', '/v1/key/create/k')).status).toBe(200);
    const gen = await call('POST', '/v1/key/generate/k', '{}');
    expect(gen.status).toBe(200);
    expect(gen.headers['content-type']).toBe('application/json');
    const { plaintext, ciphertext } = JSON.parse(gen.text) as { plaintext: string; ciphertext: string };
    const dec = await call('POST', '/v1/key/decrypt/k', JSON.stringify({ ciphertext }));
    expect(JSON.parse(dec.text)).toEqual({ plaintext });
  });

  it('reads at most the first 1,000,000 bytes of a body (declared and chunked), as upstream', async () => {
    const head = '{"plaintext":""}';
    const ok = head + ' '.repeat(1_000_000 - head.length);
    expect((await call('PUT', '/v1/key/encrypt/k', ok)).status).toBe(200);
    // Longer: the decoder sees the first 1,000,000 bytes, where the value is complete.
    const longer = `${ok} `;
    expect((await call('PUT', '/v1/key/encrypt/k', longer)).status).toBe(200);
    expect((await call('PUT', '/v1/key/encrypt/k', longer, { 'Transfer-Encoding': 'chunked' })).status).toBe(200);
    // A value that does not end within them is a 400.
    const unfinished = `{"plaintext":"${'A'.repeat(1_000_000)}"}`;
    const declared = await call('PUT', '/v1/key/encrypt/k', unfinished);
    expect(declared.status).toBe(400);
    expect(declared.text).toBe('{"message":"invalid request body"\n}');
    const chunked = await call('PUT', '/v1/key/encrypt/k', unfinished, { 'Transfer-Encoding': 'chunked' });
    expect(chunked.status).toBe(400);
  });

  it('redirects and 404s like Go', async () => {
    const r = await call('GET', '/v1/key/list');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/v1/key/list/');
    const n = await call('GET', '/nope');
    expect(n.status).toBe(404);
    expect(n.text).toBe('404 page not found\n');
  });

  it('streams audit events to a connected /v1/log/audit client', async () => {
    const lines: string[] = [];
    const got = new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'GET', path: '/v1/log/audit' }, (res) => {
        expect(res.headers['content-type']).toBe('application/x-ndjson');
        res.on('data', (c: Buffer) => {
          lines.push(...String(c).split('\n').filter(Boolean));
          if (lines.length >= 1) {
            req.destroy();
            resolve();
          }
        });
        void call('GET', '/v1/ready');
      });
      req.end();
    });
    await got;
    expect(JSON.parse(lines[0]!)).toMatchObject({ request: { path: '/v1/ready', identity: client.identity }, response: { code: 200 } });
  });
});
