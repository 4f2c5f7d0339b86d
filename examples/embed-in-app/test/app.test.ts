// The embedding app, started for real: KES clients reach the embedded server over mTLS,
// and the app's own endpoint reports on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesClient } from '@kes/client';
import type { KesClient } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { startApp } from '../src/app.js';
import type { App } from '../src/app.js';

describe('an app that embeds a KES server', () => {
  // Generated at test time: no private key lives in the repository.
  const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const admin = ApiKey.generate();
  let app: App;
  let client: KesClient;

  beforeAll(async () => {
    app = await startApp({
      admin: admin.identity,
      keyStore: createMemoryKeyStore(),
      tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
      keys: ['my-app-key'],
      kesPort: 0,
      appPort: 0,
    });
    client = createKesClient({ endpoints: app.kesUrl, apiKey: admin, ca: serverCert.certificatePem });
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  it('serves KES clients over mTLS: the declared key exists and makes data keys', async () => {
    expect((await client.describeKey('my-app-key')).name).toBe('my-app-key');
    const context = new TextEncoder().encode('invoice-17');
    const dek = await client.generateKey('my-app-key', context);
    expect(dek.plaintext).toHaveLength(32);
    expect(await client.decrypt('my-app-key', dek.ciphertext, context)).toEqual(dek.plaintext);
  });

  it('its health endpoint asks the embedded KES in process', async () => {
    const res = await fetch(`${app.appUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ kes: 'ok' });
    expect((await fetch(`${app.appUrl}/other`)).status).toBe(404);
  });

  it('a client without a certificate of a known identity gets nothing', async () => {
    const stranger = createKesClient({ endpoints: app.kesUrl, apiKey: ApiKey.generate(), ca: serverCert.certificatePem });
    try {
      await expect(stranger.createKey('x')).rejects.toMatchObject({
        code: 'ERR_KES_NOT_ALLOWED',
        message: 'not authorized: insufficient permissions',
      });
    } finally {
      stranger.close();
    }
  });

  it('close() stops both servers', async () => {
    const other = await startApp({
      admin: admin.identity,
      keyStore: createMemoryKeyStore(),
      tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
      kesPort: 0,
      appPort: 0,
    });
    await other.close();
    await expect(fetch(`${other.appUrl}/healthz`)).rejects.toThrow();
    const late = createKesClient({ endpoints: other.kesUrl, apiKey: admin, ca: serverCert.certificatePem, retries: 0 });
    try {
      await expect(late.version()).rejects.toMatchObject({ code: 'ERR_KES_CLIENT_UNREACHABLE' });
    } finally {
      late.close();
    }
  });
});
