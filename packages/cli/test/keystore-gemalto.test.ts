// `keystore.gemalto.keysecure` in the config file: the section's checks and messages,
// `${VAR}` references, and end to end: kes.yml → loadConfigFile → openKeyStore →
// createKesServer against the FAKE CipherTrust Manager (packages/keystores/test/fakes),
// then create key → generate DEK → decrypt over the real HTTPS API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesServer } from '@kes/server';
import { startFakeCipherTrust } from '../../keystores/test/fakes/gemalto.js';
import type { FakeCipherTrust } from '../../keystores/test/fakes/gemalto.js';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { call } from './helpers/spawn.js';

const ADMIN = 'a'.repeat(64);
const HEAD = [`admin: {identity: ${ADMIN}}`, 'tls: {key: k.pem, cert: c.pem}', 'keystore:', '  gemalto:', '    keysecure:'];

function parse(lines: string[], env: Record<string, string> = {}) {
  return parseConfigText([...HEAD, ...lines.map((l) => `      ${l}`), ''].join('\n'), { file: 'kes.yml', env, baseDir: '/etc/kes' });
}

function problems(lines: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    parse(lines, env);
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as ConfigError).problems;
  }
  throw new Error('the config loaded');
}

describe('keystore.gemalto.keysecure: config section', () => {
  it('reads every upstream field into the store options (tls.ca resolved against the config directory)', () => {
    const c = parse([
      'endpoint: https://ciphertrust.example.net',
      'credentials:',
      '  token: refresh-token',
      '  domain: kes',
      'tls:',
      '  ca: certs/ct-ca.pem',
    ]);
    expect(c.keyStore).toEqual({
      type: 'gemalto',
      options: {
        endpoint: 'https://ciphertrust.example.net',
        credentials: { token: 'refresh-token', domain: 'kes' },
        tls: { ca: '/etc/kes/certs/ct-ca.pem' },
      },
    });
    expect(c.warnings).toEqual([]);
  });

  it('domain and tls are optional; an empty domain means the root domain', () => {
    const c = parse(['endpoint: https://ct', 'credentials: {token: t, domain: ""}', 'tls: {ca: ""}']);
    expect(c.keyStore).toEqual({ type: 'gemalto', options: { endpoint: 'https://ct', credentials: { token: 't' } } });
  });

  it('${VAR} references work in every field', () => {
    const c = parse(['endpoint: ${CT_ENDPOINT}', 'credentials: {token: "${CT_TOKEN}", domain: "${CT_DOMAIN}"}', 'tls: {ca: "${CT_CA}"}'], {
      CT_ENDPOINT: 'https://ct:8443',
      CT_TOKEN: 'from-env',
      CT_DOMAIN: 'dom',
      CT_CA: '/abs/ca.pem',
    });
    expect(c.keyStore).toEqual({
      type: 'gemalto',
      options: { endpoint: 'https://ct:8443', credentials: { token: 'from-env', domain: 'dom' }, tls: { ca: '/abs/ca.pem' } },
    });
  });

  it('credentials.retry (upstream sample config) is ignored with a notice', () => {
    const c = parse(['endpoint: https://ct', 'credentials: {token: t, retry: 15s}']);
    expect(c.keyStore).toEqual({ type: 'gemalto', options: { endpoint: 'https://ct', credentials: { token: 't' } } });
    expect(c.warnings).toContain("'keystore.gemalto.keysecure.credentials.retry' is deprecated (kes v0.x) and ignored");
  });

  it.each([
    [['credentials: {token: t}'], ['kes.yml:5: keystore.gemalto.keysecure.endpoint: is required']],
    [['endpoint: " "', 'credentials: {token: t}'], ['kes.yml:6: keystore.gemalto.keysecure.endpoint: must not be empty']],
    [['endpoint: https://ct'], ['kes.yml:5: keystore.gemalto.keysecure.credentials.token: is required']],
    [['endpoint: https://ct', 'credentials: {domain: kes}'], ['kes.yml:7: keystore.gemalto.keysecure.credentials.token: is required']],
    [['endpoint: https://ct', 'credentials: {token: ""}'], ['kes.yml:7: keystore.gemalto.keysecure.credentials.token: must not be empty']],
    [
      ['endpoint: http://ct', 'credentials: {token: t}', 'tls: {ca: ca.pem}'],
      ['kes.yml:8: keystore.gemalto.keysecure.tls.ca: needs an https:// endpoint'],
    ],
  ])('%j → %j', (lines, expected) => {
    expect(problems(lines)).toEqual(expected);
  });

  it('unknown fields are errors with a hint', () => {
    const p = problems(['endpoint: https://ct', 'credentials: {token: t, domian: kes}']);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^kes\.yml:7: keystore\.gemalto\.keysecure\.credentials\.domian: unknown field/);
  });

  it('an unset variable is named', () => {
    expect(problems(['endpoint: https://ct', 'credentials: {token: "${CT_UNSET_TOKEN}"}'])).toEqual([
      "kes.yml:7: keystore.gemalto.keysecure.credentials.token: environment variable 'CT_UNSET_TOKEN' is not set",
    ]);
  });
});

describe('keystore.gemalto.keysecure: end to end against the fake CipherTrust Manager', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kes-cli-gemalto-'));
  let fake: FakeCipherTrust;

  beforeAll(async () => {
    fake = await startFakeCipherTrust({ refreshTokens: { 'e2e-refresh-token': 'kes' } });
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kes.yml → loadConfigFile → openKeyStore → createKesServer: create key, generate DEK, decrypt', async () => {
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), tls.certificatePem);
    writeFileSync(join(dir, 'server.key'), tls.privateKeyPem);
    writeFileSync(join(dir, 'ct-ca.pem'), fake.caPem);
    const admin = ApiKey.generate();
    const file = join(dir, 'kes.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        'admin:',
        '  identity: ${KES_ADMIN}',
        'tls: {key: server.key, cert: server.cert}',
        'keystore:',
        '  gemalto:',
        '    keysecure:',
        '      endpoint: ${CT_ENDPOINT}',
        '      credentials:',
        '        token: ${CT_TOKEN}',
        '        domain: kes',
        '      tls:',
        '        ca: ct-ca.pem',
        '',
      ].join('\n'),
    );
    const config = await loadConfigFile(file, {
      env: { KES_ADMIN: admin.identity, CT_ENDPOINT: fake.url, CT_TOKEN: 'e2e-refresh-token' },
      baseDir: dir,
    });
    expect(config.keyStore).toEqual({
      type: 'gemalto',
      options: { endpoint: fake.url, credentials: { token: 'e2e-refresh-token', domain: 'kes' }, tls: { ca: join(dir, 'ct-ca.pem') } },
    });
    const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
    try {
      const { port } = await server.listen();
      const url = `https://127.0.0.1:${port}`;
      const cert = admin.createCertificate();
      expect((await call(url, 'POST', '/v1/key/create/e2e-key', cert)).status).toBe(200);
      // The key landed in the configured domain, in upstream's layout.
      const stored = fake.secrets('kes').get('e2e-key');
      expect(stored?.dataType).toBe('seed');
      expect(stored?.material).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const gen = await call(url, 'POST', '/v1/key/generate/e2e-key', cert, JSON.stringify({ context: Buffer.from('ctx').toString('base64') }));
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = JSON.parse(gen.body) as { plaintext: string; ciphertext: string };
      const dec = await call(
        url,
        'POST',
        '/v1/key/decrypt/e2e-key',
        cert,
        JSON.stringify({ ciphertext, context: Buffer.from('ctx').toString('base64') }),
      );
      expect(dec.status).toBe(200);
      expect((JSON.parse(dec.body) as { plaintext: string }).plaintext).toBe(plaintext);
      expect((await call(url, 'POST', '/v1/key/create/e2e-key', cert)).status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('kes server refuses to start with a refresh token the CipherTrust Manager rejects, naming the cause', async () => {
    const file = join(dir, 'bad-token.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${ADMIN}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        'keystore:',
        '  gemalto:',
        '    keysecure:',
        `      endpoint: ${fake.url}`,
        '      credentials: {token: not-the-token, domain: kes}',
        `      tls: {ca: ${join(dir, 'ct-ca.pem')}}`,
        '',
      ].join('\n'),
    );
    const t = testContext({ tty: false });
    const err = await runServer({ config: file }, t.ctx).then(
      async (running) => {
        await running.stop();
        throw new Error('the server started');
      },
      (e: unknown) => e,
    );
    expect(isConfigError(err), String(err)).toBe(true);
    expect((err as ConfigError).problems).toEqual([
      `${file}: keystore.gemalto.keysecure: key store check failed: Gemalto KeySecure: ${fake.url}: gemalto: login to domain 'kes' failed: HTTP 401: NCERRAuthFailed: invalid refresh token or domain (code 10) (the credentials were rejected or lack permission)`,
    ]);
    expect(String((err as ConfigError).problems)).not.toContain('not-the-token');
  });
});
