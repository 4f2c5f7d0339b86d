// `keystore.gcp.secretmanager` in the config file: the section's checks and messages,
// `${VAR}` references, and end to end: kes.yml → loadConfigFile → openKeyStore →
// createKesServer against the FAKE Secret Manager (packages/keystores/test/fakes/gcp.ts),
// then create key → generate DEK → decrypt over the real HTTPS API.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';
import { ApiKey, MasterKey, createSelfSignedCertificate } from '@kes/core';
import { createKesServer } from '@kes/server';
import { FakeGcp } from '../../keystores/test/fakes/gcp.js';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { call } from './helpers/spawn.js';
import { expectKesError } from '../../../test/support/index.js';

const ADMIN = 'a'.repeat(64);
const HEAD = [`admin: {identity: ${ADMIN}}`, 'tls: {key: k.pem, cert: c.pem}', 'keystore:', '  gcp:', '    secretmanager:'];
const fixtures = new URL('./fixtures/configs/', import.meta.url).pathname;
/** A PEM private key made per run (no key is committed); an EC key, which the store refuses (it needs RSA). */
const EC_KEY_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
/** The same key as a YAML double-quoted value with literal `\n`, as service-account JSON writes it. */
const EC_KEY_ESCAPED = EC_KEY_PEM.trim().replaceAll('\n', '\\n');

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

describe('keystore.gcp.secretmanager: config section', () => {
  it('reads every upstream field into the store options (and tls.ca, resolved against the config directory)', () => {
    const c = parse([
      'project_id: my-project',
      'endpoint: secretmanager.googleapis.com:443',
      'scopes:',
      '  - https://www.googleapis.com/auth/cloud-platform',
      'credentials:',
      '  client_email: kes@my-project.iam.gserviceaccount.com',
      '  client_id: "1234"',
      '  private_key_id: abcd',
      `  private_key: "${EC_KEY_ESCAPED.replaceAll('\\', '\\\\')}"`,
      'tls:',
      '  ca: certs/proxy-ca.pem',
    ]);
    expect(c.keyStore).toEqual({
      type: 'gcp',
      options: {
        projectId: 'my-project',
        endpoint: 'secretmanager.googleapis.com:443',
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
        credentials: {
          clientEmail: 'kes@my-project.iam.gserviceaccount.com',
          clientId: '1234',
          privateKeyId: 'abcd',
          // Literal \n stays as written here; the store turns it into newlines, as upstream.
          privateKey: EC_KEY_ESCAPED,
        },
        tls: { ca: '/etc/kes/certs/proxy-ca.pem' },
      },
    });
    expect(c.warnings).toEqual([]);
  });

  it('only project_id: application default credentials, default endpoint and scopes', () => {
    expect(parse(['project_id: p']).keyStore).toEqual({ type: 'gcp', options: { projectId: 'p' } });
  });

  it('all credentials empty (as in upstream’s sample file) means application default credentials', () => {
    const c = parse([
      'project_id: p',
      'endpoint: ""',
      'scopes: [""]',
      'credentials: {client_email: "", client_id: "", private_key_id: "", private_key: ""}',
    ]);
    expect(c.keyStore).toEqual({ type: 'gcp', options: { projectId: 'p' } });
  });

  it('${VAR} references work in every field, list entries included', () => {
    const c = parse(
      [
        'project_id: ${GCP_PROJECT}',
        'endpoint: ${GCP_ENDPOINT}',
        'scopes: ["${GCP_SCOPE}"]',
        'credentials:',
        '  client_email: ${GCP_EMAIL}',
        '  client_id: ${GCP_ID}',
        '  private_key_id: ${GCP_KEY_ID}',
        '  private_key: ${GCP_KEY}',
      ],
      {
        GCP_PROJECT: 'env-project',
        GCP_ENDPOINT: 'https://sm.example.net',
        GCP_SCOPE: 'https://www.googleapis.com/auth/a',
        GCP_EMAIL: 'e@x',
        GCP_ID: '1',
        GCP_KEY_ID: 'k',
        GCP_KEY: 'pem',
      },
    );
    expect(c.keyStore).toEqual({
      type: 'gcp',
      options: {
        projectId: 'env-project',
        endpoint: 'https://sm.example.net',
        scopes: ['https://www.googleapis.com/auth/a'],
        credentials: { clientEmail: 'e@x', clientId: '1', privateKeyId: 'k', privateKey: 'pem' },
      },
    });
  });

  it.each([
    [['endpoint: https://sm'], ['kes.yml:5: keystore.gcp.secretmanager.project_id: is required']],
    [['project_id: " "'], ['kes.yml:6: keystore.gcp.secretmanager.project_id: must not be empty']],
    [
      ['project_id: p', 'credentials: {client_email: e@x, private_key: pem}'],
      [
        'kes.yml:7: keystore.gcp.secretmanager.credentials.client_id: is required when other credentials are set (give all four, or none for application default credentials)',
        'kes.yml:7: keystore.gcp.secretmanager.credentials.private_key_id: is required when other credentials are set (give all four, or none for application default credentials)',
      ],
    ],
    [['project_id: p', 'scopes: [a, "b c"]'], ['kes.yml:7: keystore.gcp.secretmanager.scopes[1]: must not contain spaces']],
  ])('%j → %j', (lines, expected) => {
    expect(problems(lines)).toEqual(expected);
  });

  it('unknown fields are errors with a hint', () => {
    const p = problems(['project_id: p', 'credentials: {client_mail: e@x}']);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^kes\.yml:7: keystore\.gcp\.secretmanager\.credentials\.client_mail: unknown field/);
  });

  it('an unset variable is named', () => {
    expect(problems(['project_id: ${GCP_UNSET_PROJECT}'])).toEqual([
      "kes.yml:6: keystore.gcp.secretmanager.project_id: environment variable 'GCP_UNSET_PROJECT' is not set",
    ]);
  });

  it('upstream’s example file loads; a private key that is not RSA is refused when the store opens, without echoing it', async () => {
    const c = await loadConfigFile(`${fixtures}gcp.yml`, { env: { GCP_PRIVATE_KEY: EC_KEY_PEM } });
    expect(c.keyStore).toMatchObject({
      type: 'gcp',
      options: { projectId: 'my-project', credentials: { clientEmail: 'kes@my-project.iam.gserviceaccount.com' } },
    });
    const e = await expectKesError(
      openKeyStore(c),
      'ERR_KES_INVALID_ARGUMENT',
      'gcp secretmanager: credentials.privateKey is not a PEM-encoded RSA private key',
    );
    expect(String(e)).not.toContain('BEGIN');
  });
});

describe('keystore.gcp.secretmanager: end to end against the fake Secret Manager', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kes-cli-gcp-'));
  let fake: FakeGcp;
  const savedAdc = process.env.GOOGLE_APPLICATION_CREDENTIALS;

  beforeAll(async () => {
    fake = await FakeGcp.start();
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), tls.certificatePem);
    writeFileSync(join(dir, 'server.key'), tls.privateKeyPem);
    writeFileSync(join(dir, 'gcp-ca.pem'), fake.ca);
  });
  afterEach(() => {
    if (savedAdc === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    else process.env.GOOGLE_APPLICATION_CREDENTIALS = savedAdc;
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A kes.yml (absolute paths) whose gcp section points at the fake; credentials come from GOOGLE_APPLICATION_CREDENTIALS. */
  function writeConfig(name: string, adminIdentity: string): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${adminIdentity}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        'keystore:',
        '  gcp:',
        '    secretmanager:',
        '      project_id: ${GCP_PROJECT}',
        '      endpoint: ${GCP_ENDPOINT}',
        `      tls: {ca: ${join(dir, 'gcp-ca.pem')}}`,
        '',
      ].join('\n'),
    );
    return file;
  }

  it('kes.yml → loadConfigFile → openKeyStore → createKesServer: create key, generate DEK, decrypt', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = fake.writeServiceAccountFile(dir);
    const admin = ApiKey.generate();
    const file = writeConfig('kes.yml', admin.identity);
    const config = await loadConfigFile(file, { env: { GCP_PROJECT: fake.projectId, GCP_ENDPOINT: fake.url }, baseDir: dir });
    expect(config.keyStore).toEqual({
      type: 'gcp',
      options: { projectId: fake.projectId, endpoint: fake.url, tls: { ca: join(dir, 'gcp-ca.pem') } },
    });
    const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
    try {
      const { port } = await server.listen();
      const url = `https://127.0.0.1:${port}`;
      const cert = admin.createCertificate();
      expect((await call(url, 'POST', '/v1/key/create/e2e-key', cert)).status).toBe(200);
      // Upstream layout: secret id = key name, version 1 = the encoded key version.
      const stored = fake.secrets.get('e2e-key')?.versions.get(1)?.data;
      expect(stored).toBeDefined();
      expect(() => MasterKey.parse(stored!).destroy()).not.toThrow();
      const context = Buffer.from('ctx').toString('base64');
      const gen = await call(url, 'POST', '/v1/key/generate/e2e-key', cert, JSON.stringify({ context }));
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = JSON.parse(gen.body) as { plaintext: string; ciphertext: string };
      const dec = await call(url, 'POST', '/v1/key/decrypt/e2e-key', cert, JSON.stringify({ ciphertext, context }));
      expect(dec.status).toBe(200);
      expect((JSON.parse(dec.body) as { plaintext: string }).plaintext).toBe(plaintext);
      expect((await call(url, 'POST', '/v1/key/create/e2e-key', cert)).status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('kes server refuses to start when the token endpoint rejects the service account, naming the cause', async () => {
    const sa = JSON.parse(readFileSync(fake.writeServiceAccountFile(dir), 'utf8')) as Record<string, string>;
    sa.private_key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const wrong = join(dir, 'wrong-key.json');
    writeFileSync(wrong, JSON.stringify(sa));
    process.env.GOOGLE_APPLICATION_CREDENTIALS = wrong;
    const file = writeConfig('bad-key.yml', ADMIN);
    const t = testContext({ tty: false, env: { GCP_PROJECT: fake.projectId, GCP_ENDPOINT: fake.url } });
    const err = await runServer({ config: file }, t.ctx).then(
      async (running) => {
        await running.stop();
        throw new Error('the server started');
      },
      (e: unknown) => e,
    );
    expect(isConfigError(err), String(err)).toBe(true);
    expect((err as ConfigError).problems).toEqual([
      `${file}: keystore.gcp.secretmanager: key store check failed: GCP SecretManager: Project=${fake.projectId}: gcp: token request for ${fake.account.clientEmail} to ${new URL(fake.url).host} failed: HTTP 400: invalid_grant: Invalid JWT Signature.`,
    ]);
    expect(String((err as ConfigError).problems)).not.toContain('PRIVATE KEY');
  });
});
