// Config files of every era → LoadedConfig (KesServerOptions fields and a key-store
// config), plus in-process server behaviour for a few (legacy glob policies, disabled admin).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import { createKesHandler } from '@kes/server';

const dir = new URL('./fixtures/configs/', import.meta.url).pathname;
const keysDir = mkdtempSync(join(tmpdir(), 'kes-cli-config-'));
const ADMIN = 'a'.repeat(64);
const APP = 'b'.repeat(64);
const env = {
  KES_TEST_ADMIN: ADMIN,
  KES_TEST_TLS_PASSWORD: 'not-a-real-password',
  KES_TEST_SKIP: 'yes',
  KES_TEST_APP: APP,
  KES_TEST_KEY: 'from-env',
  KES_TEST_KEYS_DIR: keysDir,
  KES_TEST_ROLE_ID: 'role',
  KES_TEST_SECRET_ID: 'secret',
  KES_TEST_AWS_SECRET: 'aws-secret',
};
afterAll(() => rmSync(keysDir, { recursive: true, force: true }));

describe('current format (HEAD)', () => {
  it('reads every field of head-full.yml, with ${VAR} references', async () => {
    const c = await loadConfigFile(`${dir}head-full.yml`, { env });
    expect(c.options.address).toBe('127.0.0.1:7373');
    expect(c.options.admin).toBe(ADMIN);
    expect(c.options.tls).toEqual({
      certFile: './server.cert',
      keyFile: './server.key',
      password: 'not-a-real-password',
      auth: 'off',
      caFile: './ca',
      proxy: { identities: ['1'.repeat(64)], header: 'X-Tls-Client-Cert' },
    });
    expect(c.options.cache).toEqual({ expiryAnyMs: 600_000, expiryUnusedMs: 90_000, expiryOfflineMs: 0 });
    expect(c.options.log).toEqual({ error: 'WARN', audit: 'off' });
    expect(c.options.api).toEqual({ '/v1/status': { timeoutMs: 17_000, skipAuth: true }, '/v1/metrics': { timeoutMs: 22_000, skipAuth: true } });
    expect(c.options.policies['my-app']).toEqual({
      allow: ['/v1/key/create/my-app*', '/v1/key/generate/my-app*', '/v1/key/decrypt/my-app*'],
      deny: ['/v1/key/generate/my-app-internal*'],
      identities: [APP],
    });
    expect(c.options.keys).toEqual([{ name: 'my-app-key' }, { name: 'from-env' }]);
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: keysDir } });
    expect(c.implicitMemoryStore).toBe(false);
    expect(c.options.patternSemantics).toBe('prefix');
    expect(c.legacyMarkers).toEqual([]);
    expect(c.warnings).toEqual([]);
  });

  it('is KesServerOptions once its key store is opened', async () => {
    const c = await loadConfigFile(`${dir}head-full.yml`, { env });
    const o = { ...c.options, keyStore: await openKeyStore(c) };
    try {
      expect(o.admin).toBe(ADMIN);
      expect(o.keyStore.kind).toContain(keysDir);
      expect(o.address).toBe('127.0.0.1:7373');
      expect(o.patternSemantics).toBe('prefix');
      expect(o.cache).toEqual({ expiryAnyMs: 600_000, expiryUnusedMs: 90_000, expiryOfflineMs: 0 });
      expect(o.api).toEqual({ '/v1/status': { timeoutMs: 17_000, skipAuth: true }, '/v1/metrics': { timeoutMs: 22_000, skipAuth: true } });
      expect(o.tls).toEqual({
        certFile: './server.cert',
        keyFile: './server.key',
        password: 'not-a-real-password',
        caFile: './ca',
        auth: 'off',
        proxy: { identities: ['1'.repeat(64)], header: 'X-Tls-Client-Cert' },
      });
      expect(o.log).toEqual({ error: 'WARN', audit: 'off' });
      expect(o.keys).toEqual([{ name: 'my-app-key' }, { name: 'from-env' }]);
      expect(o.policies?.['reader']).toEqual({ allow: ['/v1/key/describe/*'], deny: [], identities: [] });
    } finally {
      await o.keyStore.close();
    }
  });

  it('custom-api.yml: disabled admin, defaults and API overrides', async () => {
    const c = await loadConfigFile(`${dir}custom-api.yml`, { env: {} });
    expect(c.options.admin).toBe('disabled');
    expect(c.options.cache).toEqual({ expiryAnyMs: 300_000, expiryUnusedMs: 20_000, expiryOfflineMs: 0 });
    expect(c.options.log).toEqual({ error: 'INFO', audit: 'INFO' });
    expect(c.options.api['/v1/status']).toEqual({ timeoutMs: 17_000, skipAuth: true });
  });

  it('vault (AppRole and Kubernetes) and AWS sections map to the key-store options', async () => {
    expect((await loadConfigFile(`${dir}vault-approle.yml`, { env })).keyStore).toEqual({
      type: 'vault',
      options: {
        endpoint: 'https://127.0.0.1:8200',
        engine: 'kv',
        version: 'v2',
        namespace: 'ns1',
        prefix: 'tenant-1',
        approle: { engine: 'approle', id: 'role', secret: 'secret' },
        statusPingMs: 10_000,
      },
    });
    expect((await loadConfigFile(`${dir}vault-k8s.yml`, { env })).keyStore).toEqual({
      type: 'vault',
      options: {
        endpoint: 'https://127.0.0.1:8200',
        engine: 'secrets',
        version: 'v1',
        namespace: 'ns2',
        prefix: 'tenant-2',
        kubernetes: { engine: 'kubernetes', role: 'kes', jwt: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
        transit: { key: 'kes-wrap' },
        tls: { ca: '/etc/vault/ca.pem' },
      },
    });
    expect((await loadConfigFile(`${dir}aws.yml`, { env })).keyStore).toEqual({
      type: 'aws',
      options: {
        endpoint: 'secretsmanager.us-east-2.amazonaws.com',
        region: 'us-east-2',
        kmsKeyId: 'alias/kes',
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'aws-secret' },
      },
    });
    expect((await loadConfigFile(`${dir}aws-no-credentials.yml`, { env })).keyStore).toEqual({
      type: 'aws',
      options: { endpoint: 'secretsmanager.us-east-2.amazonaws.com', region: 'us-east-2' },
    });
  });

  it('a gcp section loads into GCP Secret Manager options', async () => {
    const c = await loadConfigFile(`${dir}gcp.yml`, { env: { GCP_PRIVATE_KEY: 'from-the-environment' } });
    expect(c.keyStore).toMatchObject({ type: 'gcp', options: { projectId: 'my-project', credentials: { privateKeyId: 'abcd' } } });
  });

  it('a key store kes-ts cannot run is accepted by the loader and rejected at start', async () => {
    const c = parseConfigText(`admin: {identity: ${ADMIN}}\ntls: {key: k, cert: c}\nkeystore:\n  kes:\n    endpoint: [https://kes:7373]\n`, {
      file: 'kes-as-keystore.yml',
    });
    expect(c.keyStore).toEqual({ type: 'unsupported', name: 'kes' });
    const err = await openKeyStore(c).catch((e: unknown) => e);
    expect(isConfigError(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /^kes-as-keystore\.yml: keystore\.kes: key store 'kes' was removed in upstream KES v0\.23 and is not supported by kes-ts \(supported: fs, vault, aws, gcp, azure, gemalto, fortanix, entrust, memory\)$/,
    );
  });

  it('warns about wildcards that only v0.x globs understood', () => {
    const c = parseConfigText(
      `admin: {identity: ${ADMIN}}\ntls: {key: k, cert: c}\npolicy:\n  p:\n    allow: [/v1/key/*/my-key, /v1/key/list/*]\nkeystore: {memory: {}}\n`,
      { file: 'f.yml' },
    );
    expect(c.options.patternSemantics).toBe('prefix');
    expect(c.warnings).toEqual([
      "policy 'p': pattern '/v1/key/*/my-key' has a wildcard that is not the last character; it matches literally (only a trailing '*' is a wildcard since kes v0.23)",
    ]);
  });

  it('flags override the file and say so', () => {
    const c = parseConfigText(`admin: {identity: ${ADMIN}}\ntls: {key: k, cert: c}\nkeystore: {memory: {}}\n`, {
      file: 'f.yml',
      overrides: { admin: APP, cert: 'c2', key: 'k', auth: 'on' },
    });
    expect(c.options.admin).toBe(APP);
    expect(c.options.tls).toMatchObject({ certFile: 'c2', keyFile: 'k', auth: 'on' });
    expect(c.warnings).toEqual(["--root overrides 'admin.identity' from f.yml", "--cert overrides 'tls.cert' from f.yml"]);
  });
});

describe('legacy formats', () => {
  it('v0.14 (root, policy paths, keys list, empty vault section): migrated with notices, glob semantics', async () => {
    const c = await loadConfigFile(`${dir}v0.14.yml`, { env });
    expect(c.options.admin).toBe(ADMIN);
    expect(c.options.policies['my-app']?.allow).toEqual(['/v1/key/create/my-app-*', '/v1/key/*/my-app-key']);
    expect(c.options.keys).toEqual([{ name: 'my-app-key' }]);
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: keysDir } });
    expect(c.options.patternSemantics).toBe('glob');
    expect(c.legacyMarkers).not.toEqual([]);
    expect(c.warnings).toEqual([
      "'root' is deprecated (kes v0.x): use 'admin.identity'",
      "'policy.my-app.paths' is deprecated (kes v0.x): use 'policy.my-app.allow'",
      "'keystore.vault.approle.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically",
      "'keystore.vault' has no values and is ignored",
      'this is a kes v0.x config file (root, policy.my-app.paths): policy patterns use the v0.x glob rules (* ? [..] match within one path segment)',
    ]);
    expect(c.legacyMarkers).toEqual(['root', 'policy.my-app.paths']);
  });

  it('v0.10 (`keys:` is the key store section)', async () => {
    const c = await loadConfigFile(`${dir}v0.10.yml`, { env });
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: '/var/kes/keys' } });
    expect(c.options.log).toEqual({ error: 'INFO', audit: 'off' });
    expect(c.warnings).toContain("'keys' is deprecated (kes v0.x): use 'keystore' (the key store section; `keys:` is now a list of keys to create)");
  });

  it('v0.5 (cache.expiry.all, log files, snake_case AWS)', async () => {
    const c = await loadConfigFile(`${dir}v0.5.yml`, { env });
    expect(c.options.cache.expiryAnyMs).toBe(300_000);
    expect(c.options.log).toEqual({ error: 'INFO', audit: 'INFO' });
    expect(c.keyStore).toEqual({
      type: 'aws',
      options: {
        endpoint: 'secretsmanager.us-east-1.amazonaws.com',
        region: 'us-east-1',
        kmsKeyId: 'alias/kes',
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      },
    });
    expect(c.warnings).toContain("'cache.expiry.all' is deprecated (kes v0.x): use 'cache.expiry.any'");
    expect(c.warnings).toContain(
      "'keystore.aws.secrets_manager' is deprecated (kes v0.x): use 'keystore.aws.secretsmanager' (credentials: accesskey, secretkey, token)",
    );
  });

  it('v0.1 (top-level vault with address/name)', async () => {
    const c = await loadConfigFile(`${dir}v0.1.yml`, { env });
    expect(c.keyStore).toEqual({
      type: 'vault',
      options: { endpoint: 'https://vault.example.net:8200', prefix: 'kes-keys', approle: { id: 'role', secret: 'secret' }, statusPingMs: 10_000 },
    });
    expect(c.options.cache.expiryAnyMs).toBe(600_000);
    expect(c.warnings).toContain("'vault' is deprecated (kes v0.x): use 'keystore.vault'");
    expect(c.warnings).toContain("'vault.address' is deprecated (kes v0.x): use 'keystore.vault.endpoint'");
  });

  it('v0.21 with every backend listed empty: the empty ones are ignored', async () => {
    const c = await loadConfigFile(`${dir}v0.21-all-backends.yml`, { env });
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: keysDir } });
    expect(c.warnings).toContain("'keystore.aws' has no values and is ignored");
    // Its `approle.retry` / gemalto `retry` are upstream sample-config fields, no era markers.
    expect(c.options.patternSemantics).toBe('prefix');
  });
});

describe('resulting server behaviour (in-process)', () => {
  it('legacy glob policy: `/v1/key/*/my-app-key` allows one key on every key API, `*` stays in its segment', async () => {
    const c = await loadConfigFile(`${dir}v0.14.yml`, { env });
    const handler = await createKesHandler({ ...c.options, keyStore: await openKeyStore(c) });
    try {
      const app = '2'.repeat(64);
      // The declarative key exists (created at start).
      expect((await handler.inject({ method: 'GET', path: '/v1/key/describe/my-app-key', identity: ADMIN })).status).toBe(200);
      expect((await handler.inject({ method: 'GET', path: '/v1/key/describe/my-app-key', identity: app })).status).toBe(200);
      expect((await handler.inject({ method: 'POST', path: '/v1/key/create/my-app-1', identity: app })).status).toBe(200);
      const denied = await handler.inject({ method: 'POST', path: '/v1/key/create/other', identity: app });
      expect(denied.status).toBe(403);
      expect(denied.json()).toEqual({ message: 'not authorized: insufficient permissions' });
    } finally {
      await handler.close();
    }
  });

  it('current prefix policy and deny-beats-allow from head-full.yml', async () => {
    const c = await loadConfigFile(`${dir}head-full.yml`, { env });
    const handler = await createKesHandler({ ...c.options, keyStore: await openKeyStore(c) });
    try {
      expect((await handler.inject({ method: 'POST', path: '/v1/key/create/my-app-x', identity: APP })).status).toBe(200);
      expect((await handler.inject({ method: 'POST', path: '/v1/key/create/my-app-internal', identity: APP })).status).toBe(200);
      const gen = await handler.inject({ method: 'POST', path: '/v1/key/generate/my-app-internal', identity: APP, body: '{}' });
      expect(gen.status).toBe(403);
      // skip_auth from ${KES_TEST_SKIP}=yes: /v1/status answers anyone.
      expect((await handler.inject({ method: 'GET', path: '/v1/status', identity: 'c'.repeat(64) })).status).toBe(200);
    } finally {
      await handler.close();
    }
  });

  it('disabled admin: nobody is admin', async () => {
    const c = parseConfigText('admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore: {memory: {}}\n', { file: 'f.yml' });
    const handler = await createKesHandler({ ...c.options, keyStore: await openKeyStore(c) });
    try {
      const r = await handler.inject({ method: 'POST', path: '/v1/key/create/k', identity: ADMIN });
      expect(r.status).toBe(403);
    } finally {
      await handler.close();
    }
  });
});
