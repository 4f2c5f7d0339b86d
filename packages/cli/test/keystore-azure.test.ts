// keystore.azure.keyvault: the config section (as upstream spells it, plus kes-ts's
// tls.ca) and a kes.yml pointing at the FAKE Key Vault (packages/keystores/test/fakes/azure.ts),
// used over the real HTTPS API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeKeyStore, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesServer } from '@kes/server';
import { FakeAzureKeyVault } from '../../keystores/test/fakes/azure.js';
import { call } from './helpers/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-azure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = ['admin: {identity: disabled}', 'tls: {key: k, cert: c}', 'keystore:', '  azure:', '    keyvault:'];

/** A config whose keyvault section has `lines` (indented below `keyvault:`). */
function text(lines: string[]): string {
  return [...HEAD, ...lines.map((l) => `      ${l}`), ''].join('\n');
}

function problems(t: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfigText(t, { file: 'a.yml', env });
  } catch (e) {
    return (e as ConfigError).problems;
  }
  throw new Error('the config loaded');
}

describe('keystore.azure.keyvault config', () => {
  it('client credentials → createKeyStore options', () => {
    const c = parseConfigText(
      text(['endpoint: https://kes.vault.azure.net', 'credentials:', '  tenant_id: t-1', '  client_id: c-1', '  client_secret: s-1']),
      { file: 'a.yml' },
    );
    expect(c.keyStore).toEqual({
      type: 'azure',
      options: { endpoint: 'https://kes.vault.azure.net', credentials: { tenantId: 't-1', clientId: 'c-1', clientSecret: 's-1' } },
    });
    expect(c.warnings).toEqual([]);
    expect(describeKeyStore(c.keyStore)).toBe('Azure KeyVault: https://kes.vault.azure.net');
  });

  it('managed identity, the default chain (neither block), and tls.ca resolved against the base directory', () => {
    const mi = parseConfigText(text(['endpoint: https://kes.vault.azure.net', 'managed_identity: {client_id: mi-1}']), { file: 'a.yml' });
    expect(mi.keyStore).toEqual({ type: 'azure', options: { endpoint: 'https://kes.vault.azure.net', managedIdentity: { clientId: 'mi-1' } } });
    const chain = parseConfigText(text(['endpoint: https://kes.vault.azure.net', 'tls: {ca: certs/ca.pem}']), { file: 'a.yml', baseDir: '/srv/kes' });
    expect(chain.keyStore).toEqual({ type: 'azure', options: { endpoint: 'https://kes.vault.azure.net', tls: { ca: '/srv/kes/certs/ca.pem' } } });
  });

  it('${VAR} references work in every field', () => {
    const c = parseConfigText(text(['endpoint: ${AZ_URL}', 'credentials: {tenant_id: "${AZ_T}", client_id: "${AZ_C}", client_secret: "${AZ_S}"}']), {
      file: 'a.yml',
      env: { AZ_URL: 'https://x.vault.azure.net', AZ_T: 't', AZ_C: 'c', AZ_S: 's s' },
    });
    expect(c.keyStore).toEqual({
      type: 'azure',
      options: { endpoint: 'https://x.vault.azure.net', credentials: { tenantId: 't', clientId: 'c', clientSecret: 's s' } },
    });
  });

  it('each missing field and the invalid combination is its own clear problem', () => {
    expect(problems(text(['credentials: {tenant_id: t}']))).toEqual([
      'a.yml:5: keystore.azure.keyvault.endpoint: is required',
      'a.yml:6: keystore.azure.keyvault.credentials.client_id: is required',
      'a.yml:6: keystore.azure.keyvault.credentials.client_secret: is required',
    ]);
    expect(problems(text(['endpoint: https://v', 'managed_identity: {client_id: ""}']))).toEqual([
      'a.yml:7: keystore.azure.keyvault.managed_identity.client_id: must not be empty',
    ]);
    expect(
      problems(text(['endpoint: https://v', 'credentials: {tenant_id: t, client_id: c, client_secret: s}', 'managed_identity: {client_id: m}'])),
    ).toEqual(["a.yml:5: keystore.azure.keyvault: 'credentials' and 'managed_identity' are mutually exclusive: configure one of them"]);
    expect(problems(text(['endpoint: ${AZ_MISSING}'])).some((l) => l.includes("environment variable 'AZ_MISSING' is not set"))).toBe(true);
  });
});

describe('kes.yml with keystore.azure.keyvault → a running server (fake Key Vault)', () => {
  let fake: FakeAzureKeyVault;
  beforeAll(async () => {
    fake = await FakeAzureKeyVault.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('create key → generate a data key → decrypt over HTTPS; the key lands in the vault as upstream stores it', async () => {
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), tls.certificatePem);
    writeFileSync(join(dir, 'server.key'), tls.privateKeyPem);
    writeFileSync(join(dir, 'kv-ca.pem'), fake.caPem);
    const admin = ApiKey.generate();
    const file = join(dir, 'kes.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${admin.identity}}`,
        'tls: {key: server.key, cert: server.cert}',
        'keystore:',
        '  azure:',
        '    keyvault:',
        `      endpoint: ${fake.url}`,
        '      credentials:',
        '        tenant_id: ${AZ_TENANT}',
        '        client_id: ${AZ_CLIENT}',
        '        client_secret: ${AZ_SECRET}',
        '      tls: {ca: kv-ca.pem}',
        '',
      ].join('\n'),
    );
    const { tenantId, clientId, clientSecret } = fake.credentials;
    const config = await loadConfigFile(file, { env: { AZ_TENANT: tenantId, AZ_CLIENT: clientId, AZ_SECRET: clientSecret }, baseDir: dir });
    // The login host is the fake too: AZURE_AUTHORITY_HOST, as for upstream's Azure SDK.
    const saved = process.env.AZURE_AUTHORITY_HOST;
    process.env.AZURE_AUTHORITY_HOST = fake.url;
    let keyStore: Awaited<ReturnType<typeof openKeyStore>>;
    try {
      keyStore = await openKeyStore(config);
    } finally {
      if (saved === undefined) delete process.env.AZURE_AUTHORITY_HOST;
      else process.env.AZURE_AUTHORITY_HOST = saved;
    }
    const server = await createKesServer({ ...config.options, keyStore });
    try {
      const { port } = await server.listen();
      const url = `https://127.0.0.1:${port}`;
      const cert = admin.createCertificate();
      expect((await call(url, 'POST', '/v1/key/create/app-key', cert)).status).toBe(200);
      const stored = fake.secrets.get('app-key');
      expect(stored).toHaveLength(1);
      // The secret value is the stored value as text: base64 protobuf (upstream ≥ 2024-02).
      expect(stored![0]!.value).toMatch(/^[A-Za-z0-9+/]+=*$/);

      const gen = await call(url, 'POST', '/v1/key/generate/app-key', cert, '{}');
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = JSON.parse(gen.body) as { plaintext: string; ciphertext: string };
      const dec = await call(url, 'POST', '/v1/key/decrypt/app-key', cert, JSON.stringify({ ciphertext }));
      expect(dec.status).toBe(200);
      expect((JSON.parse(dec.body) as { plaintext: string }).plaintext).toBe(plaintext);

      expect((await call(url, 'POST', '/v1/key/create/app-key', cert)).status).toBe(400); // key already exists
      expect((await call(url, 'DELETE', '/v1/key/delete/app-key', cert)).status).toBe(200);
      expect(fake.secrets.has('app-key')).toBe(false);
      expect(fake.deleted.has('app-key')).toBe(false); // purged
    } finally {
      await server.close();
    }
  });
});
