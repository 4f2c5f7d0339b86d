// End-to-end TLS behaviour of createKesServer() on 127.0.0.1: client-certificate modes
// (tls.auth off/on, skip_auth), TLS 1.2 with Ed25519, server key encryption, start-up
// validation, certificate reloads and HTTP/2 over ALPN.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate, isKesError } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { KesServerOptions } from '../src/options.js';
import { connectH2, createAgent, createTestPki, credentials, openStream, request, requestH2, tryRequest } from './helpers/tls-client.js';

const pki = createTestPki();
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const CERT_REQUIRED = '{"message":"tls: client certificate is required"\n}';

const servers: KesServer[] = [];
const tmpDirs: string[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 2_000 })));
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function baseOptions(tls: KesServerOptions['tls'], extra: Partial<KesServerOptions> = {}): KesServerOptions {
  return {
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, ...tls },
    log: { error: 'off', audit: 'off' },
    ...extra,
  };
}

async function start(options: KesServerOptions): Promise<KesServer> {
  const server = await createKesServer(options);
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  return server;
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKesError(err)) throw new Error(`expected a KesError, got ${String(err)}`);
  return { code: err.code, message: err.message };
}

describe('client certificates, tls.auth off (default)', () => {
  it('accepts an Ed25519 API-key certificate over TLS 1.2 and TLS 1.3', async () => {
    const server = await start(baseOptions({}));
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const res = await request(server.url, credentials(pki, adminCert, { maxVersion }), { path: '/v1/key/list/' });
      expect(res.status).toBe(200);
    }
  });

  it('accepts self-signed ECDSA P-384 and RSA-3072 certificates and tells them apart by public key', async () => {
    const p384 = createSelfSignedCertificate({ keyType: 'ecdsa-p384', extKeyUsage: ['clientAuth'] });
    const rsa = createSelfSignedCertificate({ keyType: 'rsa-3072', extKeyUsage: ['clientAuth'] });
    const server = await start(baseOptions({}, { admin: p384.identity, policies: { none: { allow: [], identities: [rsa.identity] } } }));
    expect((await request(server.url, credentials(pki, p384), { path: '/v1/key/list/' })).status).toBe(200);
    const res = await request(server.url, credentials(pki, rsa), { path: '/v1/key/list/' });
    expect(res.status).toBe(403);
  });

  it('with a skip_auth route, a client without certificate completes the handshake and gets 400 elsewhere', async () => {
    const server = await start(baseOptions({}, { api: { '/v1/ready': { skipAuth: true } } }));
    expect(server.handler.allowsAnonymousHandshake).toBe(true);
    const anonymous = credentials(pki);

    expect((await request(server.url, anonymous, { path: '/v1/ready' })).status).toBe(200);
    const res = await request(server.url, anonymous, { path: '/v1/key/list/' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(CERT_REQUIRED);
    // A client with a certificate is still identified normally.
    expect((await request(server.url, credentials(pki, adminCert), { path: '/v1/key/list/' })).status).toBe(200);
  });
});

describe('client certificates, tls.auth on', () => {
  const caSigned = pki.issue({ keyType: 'ed25519', commonName: 'ca-signed', extKeyUsage: ['clientAuth'] });
  const selfSigned = createSelfSignedCertificate({ keyType: 'ed25519', extKeyUsage: ['clientAuth'] });

  it('accepts a CA-signed client and rejects a self-signed one (and none) at the handshake', async () => {
    const server = await start(baseOptions({ auth: 'on', ca: pki.ca.certificatePem }, { admin: caSigned.identity }));
    expect((await request(server.url, credentials(pki, caSigned), { path: '/v1/key/list/' })).status).toBe(200);
    expect((await tryRequest(server.url, credentials(pki, selfSigned), { path: '/v1/key/list/' })).ok).toBe(false);
    expect((await tryRequest(server.url, credentials(pki), { path: '/v1/key/list/' })).ok).toBe(false);
  });

  it('reads the CA from caFile; with skip_auth a client without certificate may connect, a bad one still may not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-e2e-ca-'));
    tmpDirs.push(dir);
    writeFileSync(join(dir, 'ca.pem'), pki.ca.certificatePem);
    const server = await start(
      baseOptions({ auth: 'ON' as 'on', caFile: join(dir, 'ca.pem') }, { admin: caSigned.identity, api: { '/v1/ready': { skipAuth: true } } }),
    );
    expect((await request(server.url, credentials(pki), { path: '/v1/ready' })).status).toBe(200);
    const res = await request(server.url, credentials(pki), { path: '/v1/key/list/' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(CERT_REQUIRED);
    expect((await tryRequest(server.url, credentials(pki, selfSigned), { path: '/v1/ready' })).ok).toBe(false);
    expect((await request(server.url, credentials(pki, caSigned), { path: '/v1/key/list/' })).status).toBe(200);
  });
});

describe('server certificate and key', () => {
  it('starts with an encrypted PKCS#8 key and with a legacy-encrypted (Proc-Type) RSA key', async () => {
    const password = 'correct horse battery staple';
    const ec = pki.newServerCertificate();
    const pkcs8 = createPrivateKey(ec.privateKeyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password });
    expect(pkcs8).toContain('ENCRYPTED PRIVATE KEY');
    const s1 = await start(baseOptions({ cert: ec.certificatePem, key: pkcs8, password }));
    expect((await request(s1.url, credentials(pki, adminCert), { path: '/v1/key/list/' })).status).toBe(200);

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaCert = pki.issue({ privateKey, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], extKeyUsage: ['serverAuth'] });
    const legacy = privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: password });
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED');
    const s2 = await start(baseOptions({ cert: rsaCert.certificatePem, key: legacy, password }));
    expect((await request(s2.url, credentials(pki, adminCert), { path: '/v1/key/list/' })).status).toBe(200);

    expect(await rejection(createKesServer(baseOptions({ cert: ec.certificatePem, key: pkcs8, password: 'wrong' })))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: failed to decrypt private key (wrong password?)',
    });
    expect(await rejection(createKesServer(baseOptions({ cert: ec.certificatePem, key: pkcs8 })))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: private key is encrypted but no password is configured',
    });
  });

  it('refuses to start without a DNS or IP SAN, with a mismatched key, or with a bad auth mode', async () => {
    const noSan = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'localhost' });
    expect(await rejection(createKesServer(baseOptions({ cert: noSan.certificatePem, key: noSan.privateKeyPem })))).toEqual({
      code: 'ERR_KES_INVALID_CERTIFICATE',
      message: 'invalid certificate: the server certificate must contain at least one DNS or IP subject alternative name',
    });
    const other = pki.newServerCertificate();
    expect(await rejection(createKesServer(baseOptions({ key: other.privateKeyPem })))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: private key does not match the server certificate',
    });
    expect(await rejection(createKesServer(baseOptions({ auth: 'maybe' as 'on' })))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: "tls: invalid auth mode 'maybe': must be 'on' or 'off'",
    });
    expect(await rejection(createKesServer(baseOptions({ cert: undefined, certFile: '/nonexistent/kes.crt' })))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: "tls: failed to read certificate file '/nonexistent/kes.crt'",
    });
  });
});

describe('certificate reload', () => {
  function writeCert(dir: string, cert: { certificatePem: string; privateKeyPem: string }): void {
    writeFileSync(join(dir, 'server.crt'), cert.certificatePem);
    writeFileSync(join(dir, 'server.key'), cert.privateKeyPem);
  }

  it('reload() serves the new certificate on new connections; an open keep-alive connection keeps working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-e2e-reload-'));
    tmpDirs.push(dir);
    const first = pki.newServerCertificate();
    writeCert(dir, first);
    const server = await start(baseOptions({ cert: undefined, key: undefined, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') }));
    const creds = credentials(pki, adminCert);
    const agent = createAgent(creds);
    try {
      const before = await request(server.url, creds, { path: '/v1/key/list/', agent });
      expect(before.serverCertificate?.fingerprint256).toBe(first.certificate.fingerprint256);

      const second = pki.newServerCertificate();
      writeCert(dir, second);
      await server.reload();

      const fresh = await request(server.url, creds, { path: '/v1/key/list/' });
      expect(fresh.serverCertificate?.fingerprint256).toBe(second.certificate.fingerprint256);
      const old = await request(server.url, creds, { path: '/v1/key/list/', agent });
      expect(old.status).toBe(200);
      expect(old.localPort).toBe(before.localPort); // same connection
      expect(old.serverCertificate?.fingerprint256).toBe(first.certificate.fingerprint256);

      // A broken certificate is refused and the current one stays.
      writeFileSync(join(dir, 'server.crt'), 'not a certificate');
      expect((await rejection(server.reload())).code).toBe('ERR_KES_INVALID_CERTIFICATE');
      const still = await request(server.url, creds, { path: '/v1/key/list/' });
      expect(still.serverCertificate?.fingerprint256).toBe(second.certificate.fingerprint256);
    } finally {
      agent.destroy();
    }
  });

  it('re-reads the files periodically and logs (and survives) a broken certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-e2e-reload-'));
    tmpDirs.push(dir);
    const first = pki.newServerCertificate();
    writeCert(dir, first);
    const errors = new PassThrough();
    let logged = '';
    errors.on('data', (c: Buffer) => (logged += c.toString()));
    const server = await start({
      ...baseOptions({
        cert: undefined,
        key: undefined,
        certFile: join(dir, 'server.crt'),
        keyFile: join(dir, 'server.key'),
        reloadIntervalMs: 50,
      }),
      log: { error: 'ERROR', audit: 'off', errorStream: errors },
    });
    const creds = credentials(pki, adminCert);
    const second = pki.newServerCertificate();
    writeCert(dir, second);
    await expect
      .poll(async () => (await request(server.url, creds, { path: '/v1/key/list/' })).serverCertificate?.fingerprint256, { timeout: 5_000 })
      .toBe(second.certificate.fingerprint256);

    // Write the key of another certificate: the pair no longer matches.
    writeFileSync(join(dir, 'server.key'), first.privateKeyPem);
    await expect.poll(() => logged, { timeout: 5_000 }).toContain('failed to reload TLS certificate');
    expect(logged).toContain('private key does not match the server certificate');
    expect(logged).not.toContain('PRIVATE KEY');
    const res = await request(server.url, creds, { path: '/v1/key/list/' });
    expect(res.serverCertificate?.fingerprint256).toBe(second.certificate.fingerprint256);
  });
  it("reports a failed periodic reload to on('error') listeners and /v1/log/error subscribers", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-e2e-reload-log-'));
    tmpDirs.push(dir);
    const first = pki.newServerCertificate();
    writeCert(dir, first);
    // Console logging off: the events must still reach in-process listeners and stream subscribers.
    const server = await start(
      baseOptions({ cert: undefined, key: undefined, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), reloadIntervalMs: 50 }),
    );
    const events: string[] = [];
    const off = server.handler.on('error', (e) => events.push((e as { message: string }).message));
    const stream = await openStream(server.url, credentials(pki, adminCert), '/v1/log/error');
    try {
      expect(stream.status).toBe(200);
      writeFileSync(join(dir, 'server.crt'), 'not a certificate');
      await expect.poll(() => events.join('\n'), { timeout: 5_000 }).toContain('failed to reload TLS certificate');
      expect(events.join('\n')).not.toContain('PRIVATE KEY');
      await expect.poll(() => stream.lines.find((l) => l.includes('failed to reload TLS certificate')), { timeout: 5_000 }).toBeDefined();
      const line = stream.lines.find((l) => l.includes('failed to reload TLS certificate')) as string;
      expect(JSON.parse(line)).toEqual({
        message: expect.stringContaining('level=ERROR msg="failed to reload TLS certificate; keeping the current one"'),
      });
    } finally {
      off();
      stream.close();
    }
  });
});

describe('HTTP/2', () => {
  it('negotiates h2 by ALPN, serves the API over it, and still serves HTTP/1.1 clients', async () => {
    const server = await start(baseOptions({ http2: true }));
    const creds = credentials(pki, adminCert);
    const session = await connectH2(server.url, creds);
    try {
      const created = await requestH2(session, { method: 'PUT', path: '/v1/key/create/h2-key' });
      expect(created.alpnProtocol).toBe('h2');
      expect(created.status).toBe(200);
      const gen = await requestH2(session, { method: 'POST', path: '/v1/key/generate/h2-key', body: '{}' });
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = gen.json<{ plaintext: string; ciphertext: string }>();
      const dec = await requestH2(session, { method: 'POST', path: '/v1/key/decrypt/h2-key', body: JSON.stringify({ ciphertext }) });
      expect(dec.json<{ plaintext: string }>().plaintext).toBe(plaintext);
      const moved = await requestH2(session, { path: '/v1/key/list' });
      expect(moved.status).toBe(301);
      expect(moved.headers.location).toBe('/v1/key/list/');
    } finally {
      session.close();
    }
    const h1 = await request(server.url, creds, { path: '/v1/key/list/' });
    expect(h1.status).toBe(200);
    expect(h1.json<{ names: string[] }>().names).toContain('h2-key');
    // Without a client certificate the handshake is refused over h2 too.
    await expect(connectH2(server.url, credentials(pki)).then((s) => requestH2(s, { path: '/v1/key/list/' }))).rejects.toThrow();
  });

  it('closes gracefully with an open h2 session', async () => {
    const server = await createKesServer(baseOptions({ http2: true }));
    await server.listen(0, '127.0.0.1');
    const session = await connectH2(server.url, credentials(pki, adminCert));
    expect((await requestH2(session, { path: '/v1/key/list/' })).status).toBe(200);
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    await server.close({ timeoutMs: 5_000 });
    await closed;
  });
});
