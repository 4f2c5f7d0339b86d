// `@kes/cli/config` as a library: an app that embeds the server loads a config file
// without yargs and hands the result, the server's own option types, to createKesServer.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { LoadedConfig } from '@kes/cli/config';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { API_ROUTE_KEYS, createKesServer } from '@kes/server';
import { call } from './helpers/spawn.js';

const fixtures = new URL('./fixtures/configs/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-library-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedding: loadConfigFile → createKesServer', () => {
  it('starts a server from a config file, with ${VAR} references from an env the app passes', async () => {
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), tls.certificatePem);
    writeFileSync(join(dir, 'server.key'), tls.privateKeyPem);
    const admin = ApiKey.generate();
    const app = ApiKey.generate();
    const file = join(dir, 'kes.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        'admin:',
        '  identity: ${APP_KES_ADMIN}',
        'tls: {key: server.key, cert: server.cert}',
        'policy:',
        '  app:',
        '    allow: [/v1/key/generate/app-*]',
        `    identities: [${app.identity}]`,
        'keys: [{name: app-key}]',
        'keystore: {fs: {path: keys}}',
        '',
      ].join('\n'),
    );

    const config = await loadConfigFile(file, { env: { APP_KES_ADMIN: admin.identity }, baseDir: dir });
    expect(config.warnings).toEqual([]);
    expect(config.keyStore).toEqual({ type: 'fs', options: { path: join(dir, 'keys') } });
    const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
    try {
      const { port } = await server.listen();
      const url = `https://127.0.0.1:${port}`;
      expect((await call(url, 'GET', '/v1/key/describe/app-key', admin.createCertificate())).status).toBe(200);
      expect((await call(url, 'POST', '/v1/key/generate/app-key', app.createCertificate(), '{}')).status).toBe(200);
      expect((await call(url, 'POST', '/v1/key/create/other', app.createCertificate())).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('the loaded config is the server options', () => {
  const env = {
    KES_TEST_ADMIN: 'a'.repeat(64),
    KES_TEST_TLS_PASSWORD: 'pw',
    KES_TEST_SKIP: 'yes',
    KES_TEST_APP: 'b'.repeat(64),
    KES_TEST_KEY: 'k2',
    KES_TEST_KEYS_DIR: '/tmp/k',
  };

  it('head-full.yml: every section in KesServerOptions terms, the key store as createKeyStore takes it', async () => {
    const c: LoadedConfig = await loadConfigFile(`${fixtures}head-full.yml`, { env });
    expect(c.options).toEqual({
      address: '127.0.0.1:7373',
      admin: 'a'.repeat(64),
      tls: {
        certFile: './server.cert',
        keyFile: './server.key',
        password: 'pw',
        caFile: './ca',
        auth: 'off',
        proxy: { identities: ['1'.repeat(64)], header: 'X-Tls-Client-Cert' },
      },
      cache: { expiryAnyMs: 600_000, expiryUnusedMs: 90_000, expiryOfflineMs: 0 },
      log: { error: 'WARN', audit: 'off' },
      api: { '/v1/status': { timeoutMs: 17_000, skipAuth: true }, '/v1/metrics': { timeoutMs: 22_000, skipAuth: true } },
      policies: {
        'my-app': {
          allow: ['/v1/key/create/my-app*', '/v1/key/generate/my-app*', '/v1/key/decrypt/my-app*'],
          deny: ['/v1/key/generate/my-app-internal*'],
          identities: ['b'.repeat(64)],
        },
        reader: { allow: ['/v1/key/describe/*'], deny: [], identities: [] },
      },
      keys: [{ name: 'my-app-key' }, { name: 'k2' }],
      patternSemantics: 'prefix',
    });
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: '/tmp/k' } });
    expect(c.implicitMemoryStore).toBe(false);
    expect(c.legacyMarkers).toEqual([]);
  });

  it('no address in the file: none in the options (the server default applies)', () => {
    const c = parseConfigText('admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore: {memory: {}}\n');
    expect(c.options.address).toBeUndefined();
    expect(c.keyStore).toEqual({ type: 'memory' });
  });

  it('accepts every route key of the server route table under api:', () => {
    const api = API_ROUTE_KEYS.map((k) => `  "${k}": {timeout: 1s}`);
    const c = parseConfigText(['admin: {identity: disabled}', 'tls: {key: k, cert: c}', 'api:', ...api, 'keystore: {memory: {}}', ''].join('\n'));
    expect(Object.keys(c.options.api)).toEqual([...API_ROUTE_KEYS]);
  });

  it('the gcp section (upstream example file) loads into GCP Secret Manager options', async () => {
    const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const c = await loadConfigFile(`${fixtures}gcp.yml`, { env: { GCP_PRIVATE_KEY: privateKey } });
    expect(c.keyStore).toEqual({
      type: 'gcp',
      options: {
        projectId: 'my-project',
        credentials: {
          clientEmail: 'kes@my-project.iam.gserviceaccount.com',
          clientId: '1234',
          privateKeyId: 'abcd',
          privateKey,
        },
      },
    });
  });

  it('a backend kes-ts cannot run loads, and openKeyStore refuses it naming what is supported', async () => {
    const c = parseConfigText('admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore:\n  generic:\n    endpoint: https://plugin:7001\n', {
      file: 'generic.yml',
    });
    expect(c.keyStore).toEqual({ type: 'unsupported', name: 'generic' });
    const err = await openKeyStore(c).catch((e: unknown) => e);
    expect(isConfigError(err)).toBe(true);
    // The supported list grows as backends land; gcp is among them.
    expect((err as Error).message).toMatch(
      /^generic\.yml: keystore\.generic: key store 'generic' was removed in upstream KES v0\.23 and is not supported by kes-ts \(supported: fs, vault, aws, gcp, azure, gemalto, fortanix, entrust, memory\)$/,
    );
  });
});

describe('version', () => {
  it('VERSION is the version in package.json', async () => {
    const { VERSION } = await import('@kes/cli');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
