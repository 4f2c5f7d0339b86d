// `keystore.entrust.keycontrol` in a config file: the checks of the section, and a
// server started from a kes.yml whose key store is the FAKE KeyControl
// (packages/keystores/test/fakes/entrust.ts), used over the real HTTPS API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeKeyStore, loadConfigFile, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesServer } from '@kes/server';
import { startFakeEntrust } from '../../keystores/test/fakes/entrust.js';
import type { FakeEntrust } from '../../keystores/test/fakes/entrust.js';
import { call } from './helpers/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-entrust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = ['admin: {identity: disabled}', 'tls: {key: k, cert: c}', 'keystore:', '  entrust:', '    keycontrol:'];

/** A config whose keycontrol section has `lines` (indented below `keycontrol:`). */
function text(lines: string[]): string {
  return [...HEAD, ...lines.map((l) => `      ${l}`), ''].join('\n');
}

function problems(t: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfigText(t, { file: 'e.yml', env });
  } catch (e) {
    return (e as ConfigError).problems;
  }
  throw new Error('the config loaded');
}

const FULL = [
  'endpoint: https://keycontrol.example.net',
  'vault_id: 6a1c5c7e-0000-4000-8000-000000000001',
  'box_id: kes',
  'credentials:',
  '  username: kes-user',
  '  password: s3cret',
  'tls:',
  '  ca: /etc/kes/kc-ca.pem',
];

describe('keystore.entrust.keycontrol config', () => {
  it('a full section → createKeyStore options', () => {
    const c = parseConfigText(text(FULL), { file: 'e.yml' });
    expect(c.keyStore).toEqual({
      type: 'entrust',
      options: {
        endpoint: 'https://keycontrol.example.net',
        vaultId: '6a1c5c7e-0000-4000-8000-000000000001',
        boxId: 'kes',
        credentials: { username: 'kes-user', password: 's3cret' },
        tls: { ca: '/etc/kes/kc-ca.pem' },
      },
    });
    expect(c.warnings).toEqual([]);
    expect(describeKeyStore(c.keyStore)).toBe('Entrust KeyControl: https://keycontrol.example.net');
  });

  it('tls is optional; a relative CA path is resolved against the base directory', () => {
    const noTls = parseConfigText(text(FULL.slice(0, 6)), { file: 'e.yml' });
    expect(noTls.keyStore).toEqual({
      type: 'entrust',
      options: {
        endpoint: 'https://keycontrol.example.net',
        vaultId: '6a1c5c7e-0000-4000-8000-000000000001',
        boxId: 'kes',
        credentials: { username: 'kes-user', password: 's3cret' },
      },
    });
    const rel = parseConfigText(text([...FULL.slice(0, 6), 'tls: {ca: certs/ca.pem}']), { file: 'e.yml', baseDir: '/srv/kes' });
    expect(rel.keyStore).toMatchObject({ options: { tls: { ca: '/srv/kes/certs/ca.pem' } } });
  });

  it('${VAR} references work in every field', () => {
    const c = parseConfigText(
      text([
        'endpoint: ${KC_URL}',
        'vault_id: ${KC_VAULT}',
        'box_id: ${KC_BOX}',
        'credentials: {username: "${KC_USER}", password: "${KC_PASSWORD}"}',
        'tls: {ca: "${KC_CA}"}',
      ]),
      { file: 'e.yml', env: { KC_URL: 'https://kc:8443', KC_VAULT: 'v-1', KC_BOX: 'b-1', KC_USER: 'u', KC_PASSWORD: 'p w', KC_CA: '/ca.pem' } },
    );
    expect(c.keyStore).toEqual({
      type: 'entrust',
      options: { endpoint: 'https://kc:8443', vaultId: 'v-1', boxId: 'b-1', credentials: { username: 'u', password: 'p w' }, tls: { ca: '/ca.pem' } },
    });
  });

  it('each missing required field is its own clear problem', () => {
    expect(problems(text(['box_id: kes']))).toEqual([
      'e.yml:5: keystore.entrust.keycontrol.endpoint: is required',
      'e.yml:5: keystore.entrust.keycontrol.vault_id: is required',
      "e.yml:5: keystore.entrust.keycontrol.credentials: is required (with 'username' and 'password')",
    ]);
    expect(problems(text(['endpoint: https://kc', 'vault_id: v', 'credentials: {username: u}']))).toEqual([
      'e.yml:5: keystore.entrust.keycontrol.box_id: is required',
      'e.yml:8: keystore.entrust.keycontrol.credentials.password: is required',
    ]);
    expect(problems(text(['endpoint: https://kc', 'vault_id: v', 'box_id: b', 'credentials: {password: p}']))).toEqual([
      'e.yml:9: keystore.entrust.keycontrol.credentials.username: is required',
    ]);
  });

  it('a missing credentials block is a config error (upstream crashes on it)', () => {
    expect(problems(text(['endpoint: https://kc', 'vault_id: v', 'box_id: b']))).toEqual([
      "e.yml:5: keystore.entrust.keycontrol.credentials: is required (with 'username' and 'password')",
    ]);
    // An empty `credentials:` (null) is caught by the shape check.
    expect(problems(text(['endpoint: https://kc', 'vault_id: v', 'box_id: b', 'credentials:']))).toEqual([
      'e.yml:9: keystore.entrust.keycontrol.credentials: must be a mapping',
    ]);
  });

  it('empty values and an endpoint without scheme are problems', () => {
    expect(problems(text(['endpoint: keycontrol.example.net', 'vault_id: ""', 'box_id: b', 'credentials: {username: u, password: ""}']))).toEqual([
      "e.yml:6: keystore.entrust.keycontrol.endpoint: must be an http:// or https:// URL, e.g. https://keycontrol.example.net, not 'keycontrol.example.net'",
      'e.yml:7: keystore.entrust.keycontrol.vault_id: must not be empty',
      'e.yml:9: keystore.entrust.keycontrol.credentials.password: must not be empty',
    ]);
  });

  it('an unset ${VAR} and an unknown field are problems', () => {
    const p = problems(text([...FULL, 'vault: x']).replace('s3cret', '${KC_MISSING}'));
    expect(p.some((l) => l.includes('KC_MISSING'))).toBe(true);
    expect(p.some((l) => l.includes('keystore.entrust.keycontrol') && l.includes('vault'))).toBe(true);
  });
});

describe('kes.yml with keystore.entrust.keycontrol → a running server (fake KeyControl)', () => {
  let fake: FakeEntrust;
  beforeAll(async () => {
    fake = await startFakeEntrust();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('create key → generate a data key → decrypt, over HTTPS, the key stored in the fake as upstream stores it', async () => {
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.cert'), tls.certificatePem);
    writeFileSync(join(dir, 'server.key'), tls.privateKeyPem);
    writeFileSync(join(dir, 'kc-ca.pem'), fake.caPem);
    const admin = ApiKey.generate();
    const file = join(dir, 'kes.yml');
    writeFileSync(
      file,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${admin.identity}}`,
        'tls: {key: server.key, cert: server.cert}',
        'keystore:',
        '  entrust:',
        '    keycontrol:',
        `      endpoint: ${fake.endpoint}`,
        `      vault_id: ${fake.vaultId}`,
        '      box_id: kes-box',
        '      credentials:',
        '        username: ${KC_USER}',
        '        password: ${KC_PASSWORD}',
        '      tls: {ca: kc-ca.pem}',
        '',
      ].join('\n'),
    );
    const config = await loadConfigFile(file, { env: { KC_USER: fake.username, KC_PASSWORD: fake.password }, baseDir: dir });
    const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
    try {
      const { port } = await server.listen();
      const url = `https://127.0.0.1:${port}`;
      const cert = admin.createCertificate();
      expect((await call(url, 'POST', '/v1/key/create/app-key', cert)).status).toBe(200);
      const stored = fake.secrets.get('app-key');
      expect(stored).toBeDefined();
      // secret_data is the base64 of the stored value, itself base64 protobuf text (upstream ≥ 2024-02).
      expect(Buffer.from(stored!.secretData, 'base64').toString('utf8')).toMatch(/^[A-Za-z0-9+/]+=*$/);

      const gen = await call(url, 'POST', '/v1/key/generate/app-key', cert, '{}');
      expect(gen.status).toBe(200);
      const { plaintext, ciphertext } = JSON.parse(gen.body) as { plaintext: string; ciphertext: string };
      const dec = await call(url, 'POST', '/v1/key/decrypt/app-key', cert, JSON.stringify({ ciphertext }));
      expect(dec.status).toBe(200);
      expect((JSON.parse(dec.body) as { plaintext: string }).plaintext).toBe(plaintext);

      expect((await call(url, 'POST', '/v1/key/create/app-key', cert)).status).toBe(400); // key already exists
      expect((await call(url, 'DELETE', '/v1/key/delete/app-key', cert)).status).toBe(200);
      expect(fake.secrets.has('app-key')).toBe(false);
    } finally {
      await server.close();
    }
  });
});
