// `keystore.fortanix.sdkms` in a config file: the options it becomes, the exact
// message of each missing or invalid field, `${VAR}` references, and an end-to-end run
// (kes.yml → loadConfigFile → openKeyStore → createKesServer) against the FAKE
// Fortanix DSM server of the keystores tests (no DSM emulator exists).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';
import { createKesServer } from '@kes/server';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { startFakeFortanix } from '../../keystores/test/fakes/fortanix.js';
import type { FakeFortanix } from '../../keystores/test/fakes/fortanix.js';
import { createTestPki, credentials, request } from '../../server/test/helpers/tls-client.js';

const ADMIN = 'a'.repeat(64);
const GROUP = '2f9c1b7e-6d4a-4e3b-9a8c-1d2e3f4a5b6c';
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-fortanix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config text with `lines` under `keystore: fortanix: sdkms:`. */
function text(lines: string[]): string {
  return [
    `admin: {identity: ${ADMIN}}`,
    'tls: {key: ./k, cert: ./c}',
    'keystore:',
    '  fortanix:',
    '    sdkms:',
    ...lines.map((l) => `      ${l}`),
    '',
  ].join('\n');
}

function problems(t: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfigText(t, { file: 'kes.yml', env, baseDir: '/etc/kes' });
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as ConfigError).problems;
  }
  throw new Error('the config was accepted');
}

describe('keystore.fortanix.sdkms', () => {
  it('every field → options (tls.ca resolved against the config directory)', () => {
    const c = parseConfigText(
      text(['endpoint: https://amer.smartkey.io', `group_id: ${GROUP}`, 'credentials:', '  key: YXBwOnNlY3JldA==', 'tls:', '  ca: dsm-ca.pem']),
      { file: 'kes.yml', env: {}, baseDir: '/etc/kes' },
    );
    expect(c.keyStore).toEqual({
      type: 'fortanix',
      options: { endpoint: 'https://amer.smartkey.io', apiKey: 'YXBwOnNlY3JldA==', groupId: GROUP, tls: { ca: '/etc/kes/dsm-ca.pem' } },
    });
  });

  it('only the required fields; empty optional fields are left out', () => {
    const c = parseConfigText(text(['endpoint: https://eu.smartkey.io', 'group_id: ""', 'credentials: {key: k3y}', 'tls: {ca: ""}']), {
      file: 'kes.yml',
      env: {},
    });
    expect(c.keyStore).toEqual({ type: 'fortanix', options: { endpoint: 'https://eu.smartkey.io', apiKey: 'k3y' } });
  });

  it('${VAR} references work in every field', () => {
    const c = parseConfigText(
      text(['endpoint: ${DSM_ENDPOINT}', 'group_id: ${DSM_GROUP}', 'credentials: {key: "${DSM_API_KEY}"}', 'tls: {ca: "${DSM_CA}"}']),
      { file: 'kes.yml', env: { DSM_ENDPOINT: 'https://dsm.internal', DSM_GROUP: GROUP, DSM_API_KEY: 'ZnJvbS1lbnY=', DSM_CA: '/ca/dsm.pem' } },
    );
    expect(c.keyStore).toEqual({
      type: 'fortanix',
      options: { endpoint: 'https://dsm.internal', apiKey: 'ZnJvbS1lbnY=', groupId: GROUP, tls: { ca: '/ca/dsm.pem' } },
    });
  });

  it('a missing endpoint and API key are named', () => {
    expect(problems(text([`group_id: ${GROUP}`]))).toEqual([
      'kes.yml:5: keystore.fortanix.sdkms.endpoint: is required',
      'kes.yml:5: keystore.fortanix.sdkms.credentials.key: is required',
    ]);
  });

  it('empty values are named; the API key value never appears', () => {
    expect(problems(text(['endpoint: ""', 'credentials: {key: "  "}']))).toEqual([
      'kes.yml:6: keystore.fortanix.sdkms.endpoint: must not be empty',
      'kes.yml:7: keystore.fortanix.sdkms.credentials.key: must not be empty',
    ]);
  });

  it('an endpoint that is not a URL and a group id that is not a UUID are refused', () => {
    expect(problems(text(['endpoint: amer.smartkey.io', 'group_id: "my group"', 'credentials: {key: k}']))).toEqual([
      "kes.yml:6: keystore.fortanix.sdkms.endpoint: must be an https:// URL, not 'amer.smartkey.io'",
      "kes.yml:7: keystore.fortanix.sdkms.group_id: must be a DSM group id (a UUID), not 'my group'",
    ]);
  });

  it('unknown fields and wrong types are schema errors', () => {
    const p = problems(text(['endpoint: https://x', 'credentials: {key: k, secret: s}', 'tls: {ca: [a]}']));
    expect(p.some((l) => l.includes('keystore.fortanix.sdkms.credentials.secret'))).toBe(true);
    expect(p.some((l) => l.includes('keystore.fortanix.sdkms.tls.ca'))).toBe(true);
  });

  it('an unset variable is named', () => {
    expect(problems(text(['endpoint: https://x', 'credentials: {key: "${DSM_UNSET_KEY}"}']))).toEqual([
      "kes.yml:7: keystore.fortanix.sdkms.credentials.key: environment variable 'DSM_UNSET_KEY' is not set",
    ]);
  });
});

describe('kes.yml with keystore.fortanix.sdkms, end to end (fake DSM)', () => {
  let fake: FakeFortanix;
  const pki = createTestPki();
  const client = pki.issue({ keyType: 'ecdsa-p256', commonName: 'admin', extKeyUsage: ['clientAuth'] });

  beforeAll(async () => {
    fake = await startFakeFortanix({ groups: [GROUP] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('create key → generate DEK → decrypt over HTTPS, the key living in the fake DSM', async () => {
    writeFileSync(join(dir, 'server.cert'), pki.server.certificatePem);
    writeFileSync(join(dir, 'server.key'), pki.server.privateKeyPem);
    writeFileSync(join(dir, 'dsm-ca.pem'), fake.caPem);
    const file = join(dir, 'kes.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${client.identity}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        'keystore:',
        '  fortanix:',
        '    sdkms:',
        '      endpoint: ${KES_TEST_DSM_ENDPOINT}',
        `      group_id: ${GROUP}`,
        '      credentials:',
        '        key: ${KES_TEST_DSM_API_KEY}',
        '      tls:',
        `        ca: ${join(dir, 'dsm-ca.pem')}`,
        '',
      ].join('\n'),
    );
    const config = await loadConfigFile(file, { env: { KES_TEST_DSM_ENDPOINT: fake.endpoint, KES_TEST_DSM_API_KEY: fake.apiKey } });
    const keyStore = await openKeyStore(config);
    const server = await createKesServer({ ...config.options, keyStore, log: { error: 'off', audit: 'off' } });
    await server.listen(0, '127.0.0.1');
    try {
      const creds = credentials(pki, client);
      const created = await request(server.url, creds, { method: 'POST', path: '/v1/key/create/e2e-fortanix' });
      expect(created.status).toBe(200);
      const o = fake.byName('e2e-fortanix');
      expect(o).toMatchObject({ obj_type: 'OPAQUE', group_id: GROUP, key_ops: ['EXPORT', 'APPMANAGEABLE'], enabled: true });

      const gen = await request(server.url, creds, {
        method: 'POST',
        path: '/v1/key/generate/e2e-fortanix',
        body: JSON.stringify({ context: 'ZTJl' }),
      });
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = gen.json<{ plaintext: string; ciphertext: string }>();
      expect(Buffer.from(plaintext, 'base64')).toHaveLength(32);

      const dec = await request(server.url, creds, {
        method: 'POST',
        path: '/v1/key/decrypt/e2e-fortanix',
        body: JSON.stringify({ ciphertext, context: 'ZTJl' }),
      });
      expect(dec.status).toBe(200);
      expect(dec.json<{ plaintext: string }>().plaintext).toBe(plaintext);
      expect(fake.requests.some((r) => r.path === '/crypto/v1/keys/export')).toBe(true);
    } finally {
      await server.close({ timeoutMs: 0 });
      await keyStore.close();
    }
  });

  it('kes server refuses to start when DSM rejects the API key, naming the reason but not the key', async () => {
    const wrong = Buffer.from('00000000-0000-0000-0000-000000000000:nope').toString('base64');
    const file = join(dir, 'kes-bad-key.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${ADMIN}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        'keystore:',
        '  fortanix:',
        '    sdkms:',
        `      endpoint: ${fake.endpoint}`,
        `      credentials: {key: "${wrong}"}`,
        `      tls: {ca: ${join(dir, 'dsm-ca.pem')}}`,
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
    expect(isConfigError(err)).toBe(true);
    expect((err as ConfigError).problems).toEqual([
      `${file}: keystore.fortanix.sdkms: key store check failed: Fortanix SDKMS: ${fake.endpoint}: fortanix: session login with the API key failed: HTTP 401: Invalid username or password (the credentials were rejected or lack permission)`,
    ]);
    expect((err as ConfigError).problems.join('\n')).not.toContain(wrong);
  });
});
