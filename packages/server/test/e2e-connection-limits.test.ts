// Regression tests for findings 2 and 3 of the first security review (docs/security.md): slow
// and endless bodies, slow headers, connection floods, huge JSON bodies, weak TLS 1.2 suites
// and renegotiation, each against a real listener on 127.0.0.1.
import { connect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { KesServerOptions } from '../src/options.js';
import { createTestPki, credentials, request } from './helpers/tls-client.js';

const pki = createTestPki();
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();

const servers: KesServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 2_000 })));
});

async function start(extra: Partial<KesServerOptions> = {}, server = pki.server): Promise<KesServer> {
  const s = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    log: { error: 'off', audit: 'off' },
    ...extra,
    tls: { cert: server.certificatePem, key: server.privateKeyPem, ...extra.tls },
  });
  servers.push(s);
  await s.listen(0, '127.0.0.1');
  return s;
}

function portOf(server: KesServer): number {
  return Number(new URL(server.url).port);
}

/** A raw TLS connection with the admin certificate (or `options` instead). */
function open(server: KesServer, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: portOf(server),
      ca: pki.ca.certificatePem,
      cert: adminCert.certificatePem,
      key: adminCert.privateKeyPem,
      servername: 'localhost',
      ...options,
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** What a raw connection received, and when (ms after `since`) the server closed it. */
interface Outcome {
  readonly text: string;
  readonly closedAfterMs: number;
}

/**
 * Sends `head`, then one body byte every `everyMs` until the server closes the connection
 * (or `giveUpMs` passes: then `closedAfterMs` is Infinity).
 */
function trickle(socket: TLSSocket, head: string, everyMs: number, giveUpMs: number): Promise<Outcome> {
  const since = Date.now();
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined); // a reset after the reply is fine
  socket.write(head);
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write('A');
  }, everyMs);
  return new Promise((resolve) => {
    const done = (closedAfterMs: number): void => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text, closedAfterMs });
    };
    const giveUp = setTimeout(() => done(Infinity), giveUpMs);
    socket.once('close', () => done(Date.now() - since));
    socket.once('end', () => done(Date.now() - since));
  });
}

const BIG = 'Content-Length: 999999999\r\n';

describe('bodies the server does not read (finding 2)', () => {
  it('a trickled body after a 403 does not hold the connection', async () => {
    const server = await start();
    const stranger = createSelfSignedCertificate({ keyType: 'ed25519' });
    const socket = await open(server, { cert: stranger.certificatePem, key: stranger.privateKeyPem });
    const out = await trickle(socket, `POST /v1/key/create/k HTTP/1.1\r\nHost: kes\r\n${BIG}\r\n`, 100, 5_000);
    expect(out.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(out.closedAfterMs).toBeLessThan(5_000);
  });

  it('a trickled body on a route without a body (create) is not drained after the 200', async () => {
    const server = await start();
    const socket = await open(server);
    const out = await trickle(socket, `POST /v1/key/create/k HTTP/1.1\r\nHost: kes\r\n${BIG}\r\n`, 100, 5_000);
    expect(out.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(out.closedAfterMs).toBeLessThan(5_000);
    // The key was created all the same.
    expect((await request(server.url, credentials(pki, adminCert), { path: '/v1/key/describe/k' })).status).toBe(200);
  });

  it('a trickled body on an unknown path (404) is not drained', async () => {
    const server = await start();
    const socket = await open(server);
    const out = await trickle(socket, `POST /no/such/path HTTP/1.1\r\nHost: kes\r\n${BIG}\r\n`, 100, 5_000);
    expect(out.text).toMatch(/^HTTP\/1\.1 404 /);
    expect(out.closedAfterMs).toBeLessThan(5_000);
  });

  it('a declared length over the route limit gets 400 at once and the connection closes', async () => {
    const server = await start({ keys: [{ name: 'k' }] });
    const socket = await open(server);
    const out = await trickle(socket, `POST /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\n${BIG}\r\n`, 100, 5_000);
    expect(out.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(out.text).toContain('{"message":"invalid request body"\n}');
    expect(out.closedAfterMs).toBeLessThan(5_000);
  });

  it('a well-behaved keep-alive client keeps its connection after a body the route ignored', async () => {
    const server = await start();
    const socket = await open(server);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const body = '{"ignored":true}';
    socket.write(`POST /v1/key/create/k1 HTTP/1.1\r\nHost: kes\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    socket.write('POST /v1/key/create/k2 HTTP/1.1\r\nHost: kes\r\nContent-Length: 0\r\n\r\n');
    await expect.poll(() => text.match(/HTTP\/1\.1 200 /g)?.length ?? 0, { timeout: 5_000 }).toBe(2);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});

describe('slow requests (finding 2)', () => {
  it('headers trickled past headersTimeoutMs: the connection is closed', async () => {
    const server = await start({ limits: { headersTimeoutMs: 500 } });
    const socket = await open(server);
    const out = await trickle(socket, 'GET /v1/status HTTP/1.1\r\nX-Slow: ', 100, 8_000);
    expect(out.closedAfterMs).toBeLessThan(8_000);
    expect(out.text).not.toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a body trickled past requestTimeoutMs on a body-reading route gets 408 and is closed', async () => {
    // The route's own timeout is set far away, so only the whole-request limit can end this.
    const server = await start({ keys: [{ name: 'k' }], limits: { requestTimeoutMs: 1_000 }, api: { '/v1/key/encrypt/': { timeoutMs: 60_000 } } });
    const socket = await open(server);
    const out = await trickle(socket, 'POST /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nContent-Length: 500\r\n\r\n{"plaintext":"', 100, 8_000);
    expect(out.closedAfterMs).toBeLessThan(8_000);
    expect(out.text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('the route timeout tears down a handler still waiting for its body', async () => {
    const server = await start({ keys: [{ name: 'k' }], api: { '/v1/key/encrypt/': { timeoutMs: 1_000 } } });
    const socket = await open(server);
    const out = await trickle(socket, 'POST /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nContent-Length: 500\r\n\r\n{"plaintext":"', 100, 8_000);
    expect(out.closedAfterMs).toBeLessThan(8_000);
  });

  it('many trickling clients are each closed after their reply (figures printed)', async () => {
    const server = await start();
    const stranger = createSelfSignedCertificate({ keyType: 'ed25519' });
    const n = 200;
    const rssBefore = process.memoryUsage().rss;
    // Each client sends its head as soon as its own handshake is done: waiting for all 200
    // handshakes first let early connections run into the 5 s header timeout on a loaded
    // machine (they were then closed without the 403 this test expects).
    const outcomes = await Promise.all(
      Array.from({ length: n }, async () =>
        trickle(
          await open(server, { cert: stranger.certificatePem, key: stranger.privateKeyPem }),
          `POST /v1/key/create/k HTTP/1.1\r\nHost: kes\r\n${BIG}\r\n`,
          200,
          15_000,
        ),
      ),
    );
    const worst = Math.max(...outcomes.map((o) => o.closedAfterMs));
    console.log(
      `${n} trickling connections: all closed, the last after ${worst} ms; RSS +${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(1)} MiB (client and server in one process)`,
    );
    expect(outcomes.every((o) => o.text.startsWith('HTTP/1.1 403 '))).toBe(true);
    expect(worst).toBeLessThan(15_000);
  });
});

describe('connection cap (finding 2)', () => {
  it('refuses connections beyond limits.maxConnections and accepts again when one closes', async () => {
    const server = await start({ limits: { maxConnections: 3 } });
    const held = await Promise.all([open(server), open(server), open(server)]);
    await expect(open(server)).rejects.toThrow();
    held[0]!.destroy();
    await expect
      .poll(
        async () =>
          open(server).then(
            (s) => (s.destroy(), true),
            () => false,
          ),
        { timeout: 5_000 },
      )
      .toBe(true);
    for (const s of held) s.destroy();
  });

  it('rejects a limit that is not a positive integer', async () => {
    await expect(start({ limits: { maxConnections: 0 } })).rejects.toThrow('limits.maxConnections must be a positive integer');
    await expect(start({ limits: { requestTimeoutMs: 1.5 } })).rejects.toThrow('limits.requestTimeoutMs must be a positive integer');
    await expect(start({ limits: { headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 } })).rejects.toThrow(
      'limits.headersTimeoutMs must not exceed limits.requestTimeoutMs',
    );
  });
});

describe('JSON bodies that would stall the event loop (finding 5)', () => {
  it('refuses a 1 MB body of 90,000 members and one of 450,000 array elements with 400', async () => {
    const server = await start({ keys: [{ name: 'k' }] });
    const members = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":1`).join(',')}}`;
    const elements = `{"plaintext":[${Array(450_000).fill('1').join(',')}]}`;
    for (const body of [members, elements]) {
      expect(body.length).toBeLessThan(1_000_000);
      const res = await request(server.url, credentials(pki, adminCert), { method: 'POST', path: '/v1/key/encrypt/k', body });
      expect(res.status).toBe(400);
      expect(res.text()).toBe('{"message":"invalid request body"\n}');
    }
    // A normal body still works.
    const ok = await request(server.url, credentials(pki, adminCert), {
      method: 'POST',
      path: '/v1/key/encrypt/k',
      body: '{"plaintext":"aGVsbG8="}',
    });
    expect(ok.status).toBe(200);
  });
});

describe('TLS hardening (finding 3)', () => {
  async function handshake(server: KesServer, options: ConnectionOptions): Promise<string> {
    const socket = await open(server, options);
    const name = socket.getCipher().name;
    socket.destroy();
    return name;
  }

  it('TLS 1.2 refuses CBC/SHA-1 suites and accepts ECDHE with AES-GCM or ChaCha20-Poly1305', async () => {
    const server = await start();
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-SHA256']) {
      await expect(handshake(server, { maxVersion: 'TLSv1.2', ciphers: cipher })).rejects.toThrow();
    }
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      expect(await handshake(server, { maxVersion: 'TLSv1.2', ciphers: cipher })).toBe(cipher);
    }
    expect(await handshake(server, {})).toMatch(/^TLS_/); // TLS 1.3
  });

  it('with an RSA certificate, TLS 1.2 refuses key exchange without forward secrecy', async () => {
    const rsa = pki.issue({
      keyType: 'rsa-2048',
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extKeyUsage: ['serverAuth'],
    });
    const server = await start({}, rsa);
    for (const cipher of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA']) {
      await expect(handshake(server, { maxVersion: 'TLSv1.2', ciphers: cipher })).rejects.toThrow();
    }
    expect(await handshake(server, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).toBe('ECDHE-RSA-AES128-GCM-SHA256');
  });

  it('refuses TLS 1.0 and 1.1', async () => {
    const server = await start();
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      await expect(handshake(server, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow();
    }
  });

  it('refuses client-initiated renegotiation', async () => {
    const server = await start();
    const socket = await open(server, { maxVersion: 'TLSv1.2' });
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      socket.once('error', resolve);
      socket.renegotiate({ rejectUnauthorized: false }, (e) => resolve(e ?? undefined));
    });
    socket.destroy();
    expect(err?.code).toBe('ERR_SSL_NO_RENEGOTIATION');
  });
});
