// SIGHUP reload beyond policies (issue 5): admin, API overrides and the key store are
// swapped, and a kept-alive client connection survives the reload.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Reply {
  status: number;
  body: string;
  reused: boolean;
}

function call(agent: Agent, port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('reload (SIGHUP) in-process', () => {
  it('swaps admin, api overrides and the fs key store path without dropping a kept-alive connection', async () => {
    const server = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), server.certificatePem);
    writeFileSync(join(dir, 'server.key'), server.privateKeyPem);
    const first = ApiKey.generate();
    const second = ApiKey.generate();
    const config = join(dir, 'kes.yml');
    const write = (admin: string, keys: string, timeout: string) =>
      writeFileSync(
        config,
        [
          'address: 127.0.0.1:0',
          `admin: {identity: ${admin}}`,
          `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
          'api:',
          `  /v1/status: {timeout: ${timeout}}`,
          `keystore: {fs: {path: ${join(dir, keys)}}}`,
          '',
        ].join('\n'),
      );
    write(first.identity, 'keys-a', '15s');
    const t = testContext({ tty: false });
    const running = await runServer({ config }, t.ctx);
    const c1 = first.createCertificate();
    const c2 = second.createCertificate();
    const a1 = new Agent({ keepAlive: true, maxSockets: 1, cert: c1.certificatePem, key: c1.privateKeyPem });
    const a2 = new Agent({ keepAlive: true, maxSockets: 1, cert: c2.certificatePem, key: c2.privateKeyPem });
    try {
      expect((await call(a1, running.port, 'POST', '/v1/key/create/in-a')).status).toBe(200);
      expect((await call(a2, running.port, 'GET', '/v1/key/list/')).status).toBe(403);
      const before = await call(a1, running.port, 'GET', '/v1/api');
      expect(JSON.parse(before.body)).toContainEqual({ method: 'GET', path: '/v1/status', max_body: 0, timeout: 15 });

      write(second.identity, 'keys-b', '42s');
      await running.reload();
      expect(t.stderr()).toContain('"msg":"configuration reloaded"');

      // The first admin's kept-alive connection is still open; it is now an ordinary (policy-less) caller.
      const old = await call(a1, running.port, 'GET', '/v1/key/list/');
      expect(old).toEqual({ status: 403, body: '{"message":"not authorized: insufficient permissions"\n}', reused: true });
      const api = await call(a2, running.port, 'GET', '/v1/api');
      expect(JSON.parse(api.body)).toContainEqual({ method: 'GET', path: '/v1/status', max_body: 0, timeout: 42 });
      // The new key store (another directory) does not hold the key created before the reload.
      const list = await call(a2, running.port, 'GET', '/v1/key/list/');
      expect({ status: list.status, body: list.body }).toEqual({ status: 200, body: '{"names":[]}\n' });
    } finally {
      a1.destroy();
      a2.destroy();
      await running.stop();
    }
  });
});
