// End-to-end: `tls.http2` in the config file (the BUILT CLI, needs `pnpm build`). On, the
// server offers h2 and HTTP/1.1 by ALPN on one port; off (the default), HTTP/1.1 only. A
// reload cannot switch it and says so; a value that is not a boolean is refused.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { call, killAll, runKes, runKesOnce } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-http2-'));
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(file: string, http2: string | undefined): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    [
      'address: 127.0.0.1:0',
      `admin: {identity: ${admin.identity}}`,
      'tls:',
      `  key: ${join(dir, 'server.key')}`,
      `  cert: ${join(dir, 'server.cert')}`,
      ...(http2 === undefined ? [] : [`  http2: ${http2}`]),
      `keystore: {fs: {path: ${join(dir, 'keys')}}}`,
      '',
    ].join('\n'),
  );
  return path;
}

/** The protocol the server picks when the client offers h2 and http/1.1. */
function negotiated(port: number): Promise<string | false | null> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port,
      ALPNProtocols: ['h2', 'http/1.1'],
      rejectUnauthorized: false,
      cert: adminCert.certificatePem,
      key: adminCert.privateKeyPem,
    });
    s.once('secureConnect', () => {
      resolve(s.alpnProtocol);
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** One HTTP/2 request; resolves with the status and body. */
function h2Request(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, {
      rejectUnauthorized: false,
      cert: adminCert.certificatePem,
      key: adminCert.privateKeyPem,
    });
    session.once('error', reject);
    const req = session.request({ ':method': method, ':path': path });
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      session.close();
      resolve({ status, body: text });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(!built)('tls.http2 (built CLI)', () => {
  beforeAll(() => {
    const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.key'), cert.privateKeyPem);
    writeFileSync(join(dir, 'server.cert'), cert.certificatePem);
  });

  it('on: h2 and HTTP/1.1 on one port, the same API on both; a reload cannot switch it', async () => {
    const config = writeConfig('on.yml', 'true');
    const kes = runKes(['server', '--config', config, '--workers', '1', '--json']);
    const port = Number((await kes.waitFor((r) => r.msg === 'server started')).port);
    expect(await negotiated(port)).toBe('h2');

    const created = await h2Request(port, 'POST', '/v1/key/create/k');
    expect(created.status).toBe(200);
    const dk = await h2Request(port, 'PUT', '/v1/key/generate/k', '{}');
    expect(dk.status).toBe(200);
    const { ciphertext } = JSON.parse(dk.body) as { ciphertext: string };
    // The same key over HTTP/1.1 on the same port.
    const opened = await call(`https://127.0.0.1:${port}`, 'PUT', '/v1/key/decrypt/k', adminCert, JSON.stringify({ ciphertext }));
    expect(opened.status).toBe(200);
    expect(JSON.parse(opened.body)).toEqual({ plaintext: (JSON.parse(dk.body) as { plaintext: string }).plaintext });

    writeConfig('on.yml', 'false');
    kes.child.kill('SIGHUP');
    await kes.waitFor((r) => r.msg === 'tls.http2 changed to false; restart the server to apply it');
    await kes.waitFor((r) => r.msg === 'configuration reloaded');
    expect(await negotiated(port)).toBe('h2');
    kes.child.kill('SIGTERM');
    await kes.exited();
  });

  it('off by default and with a ${VAR} that says no: HTTP/1.1 only', async () => {
    for (const [file, value, env] of [
      ['default.yml', undefined, {}],
      ['env.yml', '${KES_HTTP2}', { KES_HTTP2: 'no' }],
    ] as const) {
      const kes = runKes(['server', '--config', writeConfig(file, value), '--workers', '1', '--json'], env);
      const port = Number((await kes.waitFor((r) => r.msg === 'server started')).port);
      expect(await negotiated(port)).toBe('http/1.1');
      kes.child.kill('SIGTERM');
      await kes.exited();
    }
  });

  it('refuses a value that is not a boolean, naming the field', async () => {
    const r = await runKesOnce(['server', '--config', writeConfig('typo.yml', 'maybe')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tls\.http2/);
  });
});
