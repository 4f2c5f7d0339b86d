// `kes key rotate|versions|rewrap|version rm|version config` and `--key-version`, run
// in-process through main(): usage errors (exit 2) before anything is sent, what each
// command sends and prints (text and --json) against a fake server that answers as the
// key-versions wire API defines, how the server's key-version errors are explained, and
// the whole life of a rotated key against the real server with key versions enabled.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@kes/cli';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { sendJson, startFake } from '../../client/test/helpers/fake-server.js';
import type { FakeHandler, FakeServer } from '../../client/test/helpers/fake-server.js';
import { createTestPki } from '../../server/test/helpers/tls-client.js';
import { testContext } from './helpers/context.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-versions-'));
const pki = createTestPki();
const admin = ApiKey.generate();
const ca = join(dir, 'ca.crt');
writeFileSync(ca, pki.ca.certificatePem);
const key32 = Buffer.alloc(32, 7);

/** What the fake server answers per route (the last path segment before the name). */
let answer: FakeHandler = (_req, res) => sendJson(res, 500, { message: 'internal server error' });
let fake: FakeServer;

beforeAll(async () => {
  fake = await startFake(pki, (req, res, n) => answer(req, res, n));
});
afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `kes …` in-process against the fake server. */
async function kes(args: string[], options: { tty?: boolean } = {}) {
  const t = testContext({ tty: options.tty ?? false, env: { KES_SERVER: fake.url, KES_API_KEY: admin.toString() } });
  const code = await main([...args, '--ca', ca], t.ctx);
  return { code, stdout: t.stdout(), stderr: t.stderr() };
}

/** The requests the fake server saw during `fn`. */
async function sent(fn: () => Promise<unknown>): Promise<[string, string, string][]> {
  const before = fake.requests.length;
  await fn();
  return fake.requests.slice(before).map((r) => [r.method, r.path, r.body]);
}

const versions = {
  name: 'k',
  latest: '3',
  encryption_version: '3',
  min_decryption_version: '2',
  min_encryption_version: '0',
  versions: [
    { version: '1', algorithm: 'AES256', created_at: '2026-01-01T00:00:00Z', created_by: 'me', state: 'disabled' },
    { version: '2', algorithm: 'AES256', created_at: '2026-02-01T10:20:30Z', created_by: 'me', state: 'decrypt-only' },
    { version: '3', algorithm: 'AES256', created_at: '2026-03-01T00:00:00.25Z', state: 'active' },
  ],
};

/** Answers like a kes-ts server with key versions enabled. */
const rotatedServer: FakeHandler = (req, res) => {
  const route = req.path.split('/')[3] ?? '';
  if (route === 'rotate') sendJson(res, 200, { name: 'k', version: '3', created_at: '2026-03-01T00:00:00Z', created_by: 'me' });
  else if (route === 'versions') sendJson(res, 200, versions);
  else if (route === 'version' && req.method === 'PUT')
    sendJson(res, 200, { name: 'k', min_decryption_version: '2', min_encryption_version: '0', encryption_version: '0' });
  else if (route === 'rewrap') sendJson(res, 200, { ciphertext: 'AQID', version: '3' });
  else if (route === 'encrypt') sendJson(res, 200, { ciphertext: 'AQID', version: '2' });
  else if (route === 'generate') sendJson(res, 200, { plaintext: 'AAAA', ciphertext: 'AQID', version: '3' });
  else if (route === 'decrypt') sendJson(res, 200, { plaintext: 'aGk=' });
  else {
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  }
};

describe('kes key version commands: usage errors (exit 2, nothing sent)', () => {
  it.each([
    [['key', 'rotate'], 'Error: Not enough non-option arguments: got 0, need at least 1'],
    [
      ['key', 'rotate', 'k', '--cipher', 'AES256'],
      'Error: --cipher needs --import-key FILE: a rotation without it uses the algorithm of the key’s version 1',
    ],
    [['key', 'rotate', 'k', '--import-key', 'a', '--import-key', 'b'], 'Error: --import-key may be given only once'],
    [['key', 'rotate', 'k', '--cipher', 'DES'], 'Error: Invalid values:'],
    [['key', 'versions'], 'Error: Not enough non-option arguments: got 0, need at least 1'],
    [['key', 'version'], "Error: 'kes key version' needs a subcommand: rm or config"],
    [['key', 'version', 'rm', 'k'], 'Error: Not enough non-option arguments: got 1, need at least 2'],
    [['key', 'version', 'rm', 'k', 'two'], 'Error: the version to delete must be a key version: a whole number from 1 to 4294967295'],
    [['key', 'version', 'rm', 'k', '0'], 'Error: the version to delete must be a key version: a whole number from 1 to 4294967295'],
    [
      ['key', 'version', 'config', 'k'],
      "Error: give --min-decryption N, --min-encryption M or --encryption-version V (the current settings: 'kes key versions k')",
    ],
    [
      ['key', 'version', 'config', 'k', '--min-decryption', '0'],
      'Error: --min-decryption must be a key version: a whole number from 1 to 4294967295',
    ],
    [
      ['key', 'version', 'config', 'k', '--min-encryption', 'latest'],
      "Error: --min-encryption must be a key version: a whole number from 0 to 4294967295, or 'none'",
    ],
    [
      ['key', 'version', 'config', 'k', '--encryption-version', 'none'],
      "Error: --encryption-version must be a key version: a whole number from 0 to 4294967295, or 'latest'",
    ],
    [['key', 'version', 'config', 'k', '--min-decryption', '2', '--min-decryption', '3'], 'Error: --min-decryption may be given only once'],
    [['key', 'encrypt', 'k', 'hi', '--key-version', 'x'], 'Error: --key-version must be a key version: a whole number from 1 to 4294967295'],
    [['key', 'dek', 'k', '--key-version', '4294967296'], 'Error: --key-version must be a key version: a whole number from 1 to 4294967295'],
    [['key', 'rewrap', 'k', 'not base64!'], 'Error: the ciphertext is not valid base64 (standard alphabet, with = padding)'],
    [['key', 'rewrap', 'k', 'AQID', '--bogus'], 'Error: Unknown argument: bogus'],
    [['key', 'rotat', 'k'], "Error: unknown command 'rotat' (did you mean 'rotate'?)"],
    // yargs' own --version would print the CLI's version and exit 0, ignoring the intended key version.
    [['key', 'dek', 'k', '--version', '2'], 'Error: --version is not a key version: pick one with --key-version N'],
    [['key', 'encrypt', 'k', 'hi', '--version', '2'], 'Error: --version is not a key version: pick one with --key-version N'],
    [['key', 'decrypt', 'k', 'AQID', '--version=2'], 'Error: --version is not a key version: pick one with --key-version N'],
    [['key', 'rewrap', 'k', 'AQID', '--version', '2'], 'Error: --version is not a key version: pick one with --key-version N'],
  ])('kes %j', async (args, message) => {
    const seen = await sent(async () => {
      const r = await kes(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toContain(message);
    });
    expect(seen).toEqual([]);
  });

  it('an unreadable or malformed --import-key file is a failure (exit 1) that never shows the content', async () => {
    const r = await kes(['key', 'rotate', 'k', '--import-key', join(dir, 'nope.key')]);
    expect(r).toMatchObject({ code: 1, stderr: `Error: cannot read the key file '${join(dir, 'nope.key')}' (--import-key): no such file\n` });
    const short = join(dir, 'short.key');
    writeFileSync(short, 'c2VjcmV0LXNob3J0LWtleQ==\n');
    const bad = await kes(['key', 'rotate', 'k', '--import-key', short]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`Error: the key file '${short}' (--import-key) must hold a 32-byte key: in base64 (44 characters) or as 32 raw bytes\n`);
  });
});

describe('kes key version commands against a server with key versions', () => {
  beforeAll(() => {
    answer = rotatedServer;
  });

  it('rotate: text, --json, and an imported key from a base64 or raw file', async () => {
    let r: Awaited<ReturnType<typeof kes>> | undefined;
    const seen = await sent(async () => {
      r = await kes(['key', 'rotate', 'k']);
    });
    expect(r).toEqual({ code: 0, stdout: "Rotated key 'k': version 3 encrypts from now on\n", stderr: '' });
    expect(seen).toEqual([['PUT', '/v1/key/rotate/k', '']]);
    expect(JSON.parse((await kes(['key', 'rotate', 'k', '--json'])).stdout)).toEqual({
      name: 'k',
      version: '3',
      created_at: '2026-03-01T00:00:00.000Z',
      created_by: 'me',
    });

    const b64File = join(dir, 'b64.key');
    writeFileSync(b64File, `${key32.toString('base64')}\n`);
    const rawFile = join(dir, 'raw.key');
    writeFileSync(rawFile, key32);
    const imports = await sent(async () => {
      expect((await kes(['key', 'rotate', 'k', '--import-key', b64File, '--cipher', 'ChaCha20'])).code).toBe(0);
      expect((await kes(['key', 'rotate', 'k', '--import-key', rawFile])).code).toBe(0);
    });
    expect(imports).toEqual([
      ['PUT', '/v1/key/rotate/k', `{"key":"${key32.toString('base64')}","cipher":"ChaCha20"}`],
      ['PUT', '/v1/key/rotate/k', `{"key":"${key32.toString('base64')}","cipher":"AES256"}`],
    ]);
  });

  it('versions: a table with the version settings, or the server’s JSON', async () => {
    const r = await kes(['key', 'versions', 'k'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Version  Algorithm  Created              State',
        '1        AES256     2026-01-01 00:00:00  disabled',
        '2        AES256     2026-02-01 10:20:30  decrypt-only',
        '3        AES256     2026-03-01 00:00:00  active',
        '',
        'Latest:         3',
        'Encrypts with:  3',
        'Min decryption: 2',
        'Min encryption: none',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await kes(['key', 'versions', 'k', '--json'])).stdout);
    expect(json).toEqual({
      ...versions,
      versions: versions.versions.map((v) => ({ ...v, created_by: v.created_by ?? '', created_at: new Date(v.created_at).toISOString() })),
    });
  });

  it('rewrap, version rm, version config: what is sent and printed', async () => {
    let out: string[] = [];
    const seen = await sent(async () => {
      out = [
        (await kes(['key', 'rewrap', 'k', 'CQ==', 'Yw=='])).stdout,
        (await kes(['key', 'rewrap', 'k', 'CQ==', '--key-version', 'v2'], { tty: true })).stdout,
        (await kes(['key', 'version', 'rm', 'k', '2'], { tty: true })).stdout,
        (await kes(['key', 'version', 'delete', 'k', 'v3'])).stdout,
        (await kes(['key', 'version', 'config', 'k', '--min-decryption', '2', '--min-encryption', 'none'], { tty: true })).stdout,
        (await kes(['key', 'version', 'config', 'k', '--min-encryption', '3', '--json'])).stdout,
        (await kes(['key', 'version', 'config', 'k', '--encryption-version', 'latest', '--json'])).stdout,
        (await kes(['key', 'version', 'config', 'k', '--encryption-version', '1', '--json'])).stdout,
      ];
    });
    expect(out).toEqual([
      '{"ciphertext":"AQID","version":"3"}\n',
      'ciphertext: AQID\nversion:    3\n',
      "Deleted version 2 of key 'k'\n",
      '',
      'Name:               k\nMin decryption:     2\nMin encryption:     none\nEncryption version: latest\n',
      '{"name":"k","min_decryption_version":"2","min_encryption_version":"0","encryption_version":"0"}\n',
      '{"name":"k","min_decryption_version":"2","min_encryption_version":"0","encryption_version":"0"}\n',
      '{"name":"k","min_decryption_version":"2","min_encryption_version":"0","encryption_version":"0"}\n',
    ]);
    expect(seen).toEqual([
      ['PUT', '/v1/key/rewrap/k', '{"ciphertext":"CQ==","context":"Yw=="}'],
      ['PUT', '/v1/key/rewrap/k', '{"ciphertext":"CQ==","version":"2"}'],
      ['DELETE', '/v1/key/version/delete/k?version=2', ''],
      ['DELETE', '/v1/key/version/delete/k?version=3', ''],
      ['PUT', '/v1/key/version/config/k', '{"min_decryption_version":"2","min_encryption_version":"0"}'],
      ['PUT', '/v1/key/version/config/k', '{"min_encryption_version":"3"}'],
      ['PUT', '/v1/key/version/config/k', '{"encryption_version":"0"}'],
      ['PUT', '/v1/key/version/config/k', '{"encryption_version":"1"}'],
    ]);
  });

  it('encrypt, decrypt and dek take --key-version and print the version used', async () => {
    let out: string[] = [];
    const seen = await sent(async () => {
      out = [
        (await kes(['key', 'encrypt', 'k', 'hi', '--key-version', '2'])).stdout,
        (await kes(['key', 'decrypt', 'k', 'AQID', '--key-version', '2'])).stdout,
        (await kes(['key', 'dek', 'k', '--key-version', '3'], { tty: true })).stdout,
      ];
    });
    expect(out).toEqual(['{"ciphertext":"AQID","version":"2"}\n', '{"plaintext":"aGk="}\n', 'plaintext:  AAAA\nciphertext: AQID\nversion:    3\n']);
    expect(seen).toEqual([
      ['POST', '/v1/key/encrypt/k', '{"plaintext":"aGk=","version":"2"}'],
      ['POST', '/v1/key/decrypt/k', '{"ciphertext":"AQID","version":"2"}'],
      ['POST', '/v1/key/generate/k', '{"version":"3"}'],
    ]);
  });
});

describe('kes key version commands: the server’s key-version errors explained (exit 1)', () => {
  /** The first stderr line of `kes …` when the server answers `status` with `message` (or a plain-text 404). */
  async function explained(args: string[], status: number, message: string | null): Promise<string> {
    answer = (_req, res) => {
      if (message !== null) return sendJson(res, status, { message });
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found');
    };
    const r = await kes(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    return r.stderr.split('\n')[0] ?? '';
  }

  it.each([
    [
      ['key', 'rotate', 'k'],
      404,
      'key versions are not enabled',
      "Error: the server does not have key versions enabled: set 'key_versions: {enabled: true}' in its config file and reload (SIGHUP) or restart it",
    ],
    [
      ['key', 'encrypt', 'k', 'hi', '--key-version', '2'],
      404,
      'key versions are not enabled',
      "Error: the server does not have key versions enabled: set 'key_versions: {enabled: true}' in its config file and reload (SIGHUP) or restart it",
    ],
    [
      ['key', 'versions', 'k'],
      404,
      null,
      'Error: the server does not support key versions (it is upstream KES or an older kes-ts): 404 page not found',
    ],
    [['key', 'versions', 'k'], 404, 'key does not exist', "Error: key 'k' does not exist: list the keys with 'kes key ls'"],
    [
      ['key', 'version', 'rm', 'k', '5'],
      404,
      'key version does not exist',
      "Error: key 'k' has no such version: list its versions with 'kes key versions k'",
    ],
    [
      ['key', 'version', 'rm', 'k', '1'],
      400,
      'key version 1 cannot be deleted',
      "Error: key version 1 cannot be deleted: version 1 is the key itself; delete the whole key with 'kes key rm k'",
    ],
    [
      ['key', 'dek', 'k', '--key-version', '1'],
      400,
      'key version is not allowed for encryption',
      "Error: key version is not allowed for encryption: see the versions of key 'k' with 'kes key versions k', change them with 'kes key version config'",
    ],
    [
      ['key', 'version', 'config', 'k', '--min-decryption', '3', '--min-encryption', '2'],
      400,
      'invalid key version config: min_encryption_version must be 0 or at least min_decryption_version',
      'Error: invalid key version config: min_encryption_version must be 0 or at least min_decryption_version',
    ],
    [['key', 'rotate', 'k'], 409, 'key is being rotated concurrently, try again', 'Error: key is being rotated concurrently, try again'],
    [['key', 'rotate', 'k'], 502, 'failed to rotate key', "Error: failed to rotate key: the key store failed; see the server's error log"],
    [
      ['key', 'rewrap', 'k', 'AQID'],
      400,
      'decryption failed: ciphertext is not authentic',
      'Error: decryption failed: ciphertext is not authentic (wrong key, ciphertext or context)',
    ],
  ])('kes %j, server %i %j', async (args, status, message, line) => {
    expect(await explained(args, status, message)).toBe(line);
  });
});

describe('kes key version commands against the real server (rotate → versions → rewrap → version config → version rm)', () => {
  let server: KesServer;
  let plain: KesServer;
  let serverCa = '';

  beforeAll(async () => {
    const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    serverCa = join(dir, 'server.crt');
    writeFileSync(serverCa, tls.certificatePem);
    const common = {
      admin: admin.identity,
      keyStore: createMemoryKeyStore(),
      tls: { cert: tls.certificatePem, key: tls.privateKeyPem },
      log: { error: 'off', audit: 'off' },
    } as const;
    server = await createKesServer({ ...common, keyVersions: { enabled: true } });
    await server.listen(0, '127.0.0.1');
    plain = await createKesServer({ ...common, keyStore: createMemoryKeyStore() });
    await plain.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close({ timeoutMs: 0 });
    await plain?.close({ timeoutMs: 0 });
  });

  /** `kes …` against the real server; `json` parses stdout when `--json` was given. */
  async function real(args: string[], options: { tty?: boolean; url?: string } = {}) {
    const t = testContext({ tty: options.tty ?? false, env: { KES_SERVER: options.url ?? server.url, KES_API_KEY: admin.toString() } });
    const code = await main([...args, '--ca', serverCa], t.ctx);
    return { code, stdout: t.stdout(), stderr: t.stderr(), json: args.includes('--json') && code === 0 ? JSON.parse(t.stdout()) : undefined };
  }

  it('the whole life of a rotated key', async () => {
    expect((await real(['key', 'create', 'e2e'])).code).toBe(0);
    const before = await real(['key', 'encrypt', 'e2e', 'hello', '--json']);
    // A key never rotated answers as upstream: no version anywhere.
    expect(Object.keys(before.json)).toEqual(['ciphertext']);
    const old = before.json.ciphertext as string;

    const rotated = await real(['key', 'rotate', 'e2e', '--json']);
    expect(rotated).toMatchObject({ code: 0, stderr: '', json: { name: 'e2e', version: '2', created_by: admin.identity } });
    expect((await real(['key', 'rotate', 'e2e'])).stdout).toBe("Rotated key 'e2e': version 3 encrypts from now on\n");

    const listed = await real(['key', 'versions', 'e2e', '--json']);
    expect(listed.json).toMatchObject({ name: 'e2e', latest: '3', min_decryption_version: '1', min_encryption_version: '0' });
    expect(listed.json.versions.map((v: { version: string; state: string }) => [v.version, v.state])).toEqual([
      ['1', 'active'],
      ['2', 'active'],
      ['3', 'active'],
    ]);
    const table = await real(['key', 'versions', 'e2e'], { tty: true });
    expect(table.stdout).toMatch(/^Version {2}Algorithm {2}Created {14}State\n1 {8}\S+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}active\n/);
    expect(table.stdout).toContain('\nLatest:         3\n');

    // New data uses the latest version; the old ciphertext is re-wrapped without its plaintext leaving the server.
    expect((await real(['key', 'encrypt', 'e2e', 'new', '--json'])).json.version).toBe('3');
    const rewrapped = await real(['key', 'rewrap', 'e2e', old, '--json']);
    expect(rewrapped.json).toMatchObject({ version: '3' });
    expect((await real(['key', 'decrypt', 'e2e', rewrapped.json.ciphertext, '--json'])).json).toEqual({
      plaintext: Buffer.from('hello').toString('base64'),
    });
    const pinned = await real(['key', 'rewrap', 'e2e', old, '--key-version', '2', '--json']);
    expect(pinned.json.version).toBe('2');
    expect((await real(['key', 'dek', 'e2e', '--key-version', '1', '--json'])).json.version).toBe('1');

    // Version 1 retired: old ciphertexts fail to decrypt, its state says so.
    const config = await real(['key', 'version', 'config', 'e2e', '--min-decryption', '2', '--json']);
    expect(config.json).toMatchObject({ name: 'e2e', min_decryption_version: '2', min_encryption_version: '0' });
    expect((await real(['key', 'decrypt', 'e2e', old])).stderr).toBe(
      'Error: decryption failed: ciphertext is not authentic (wrong key, ciphertext or context)\n',
    );
    expect((await real(['key', 'versions', 'e2e', '--json'])).json.versions[0]).toMatchObject({ version: '1', state: 'disabled' });
    const invalid = await real(['key', 'version', 'config', 'e2e', '--min-encryption', '1']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toBe('Error: invalid key version config: min_encryption_version must be 0 or at least min_decryption_version\n');

    // Deleting: version 1 is the key itself; a later one goes for good.
    const one = await real(['key', 'version', 'rm', 'e2e', '1']);
    expect(one).toMatchObject({
      code: 1,
      stderr: "Error: key version 1 cannot be deleted: version 1 is the key itself; delete the whole key with 'kes key rm e2e'\n",
    });
    expect(await real(['key', 'version', 'rm', 'e2e', '2'], { tty: true })).toMatchObject({ code: 0, stdout: "Deleted version 2 of key 'e2e'\n" });
    expect((await real(['key', 'versions', 'e2e', '--json'])).json.versions.map((v: { version: string }) => v.version)).toEqual(['1', '3']);
    expect((await real(['key', 'decrypt', 'e2e', pinned.json.ciphertext])).code).toBe(1);
    expect((await real(['key', 'version', 'rm', 'e2e', '2'])).stderr).toBe(
      "Error: key 'e2e' has no such version: list its versions with 'kes key versions e2e'\n",
    );
    expect((await real(['key', 'encrypt', 'e2e', 'x', '--key-version', '1'])).stderr).toBe(
      "Error: key version is not allowed for encryption: see the versions of key 'e2e' with 'kes key versions e2e', change them with 'kes key version config'\n",
    );
    expect((await real(['key', 'versions', 'missing'])).stderr).toBe("Error: key 'missing' does not exist: list the keys with 'kes key ls'\n");
  });

  it('an imported key becomes the new version', async () => {
    expect((await real(['key', 'create', 'e2e-import'])).code).toBe(0);
    const file = join(dir, 'import.key');
    writeFileSync(file, randomBytes(32).toString('base64'));
    const r = await real(['key', 'rotate', 'e2e-import', '--import-key', file, '--cipher', 'ChaCha20', '--json']);
    expect(r.json).toMatchObject({ version: '2' });
    expect((await real(['key', 'versions', 'e2e-import', '--json'])).json.versions[1]).toMatchObject({ version: '2', algorithm: 'ChaCha20' });
  });

  it('a server without key versions: the commands say how to turn them on', async () => {
    expect((await real(['key', 'create', 'off'], { url: plain.url })).code).toBe(0);
    const r = await real(['key', 'rotate', 'off'], { url: plain.url });
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr:
        "Error: the server does not have key versions enabled: set 'key_versions: {enabled: true}' in its config file and reload (SIGHUP) or restart it\n",
    });
    expect((await real(['key', 'versions', 'off'], { url: plain.url })).code).toBe(1);
  });
});
