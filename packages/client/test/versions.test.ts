// Key versions in @kes/client, against fake servers that answer as the key-versions wire
// API defines (key-versions design §4.3): what each call sends, how replies are read,
// arguments checked before anything is sent, and error replies; then against the real
// server, with key versions on and off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';
import { createKesClient } from '@kes/client';
import type { KesClient } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { createTestPki } from '../../server/test/helpers/tls-client.js';
import { sendJson, startFake } from './helpers/fake-server.js';
import type { FakeHandler, FakeServer } from './helpers/fake-server.js';

const pki = createTestPki();
const admin = ApiKey.generate();
const te = new TextEncoder();
const b64 = (s: string) => Buffer.from(s).toString('base64');

const open: { close(): unknown }[] = [];
afterAll(async () => {
  for (const o of open) await o.close();
});

async function fakeClient(handler: FakeHandler): Promise<{ c: KesClient; seen: FakeServer }> {
  const seen = await startFake(pki, handler);
  open.push(seen);
  const c = createKesClient({ endpoints: seen.url, apiKey: admin, ca: pki.ca.certificatePem });
  open.push(c);
  return { c, seen };
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

const empty: FakeHandler = (_req, res) => {
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
};

/** The replies of a kes-ts server for a key rotated twice. */
const rotated: FakeHandler = (req, res) => {
  const path = req.path.split('?')[0] ?? '';
  if (path.startsWith('/v1/key/rotate/')) sendJson(res, 200, { name: 'k', version: '3', created_at: '2026-01-02T03:04:05Z', created_by: 'me' });
  else if (path.startsWith('/v1/key/versions/')) {
    sendJson(res, 200, {
      name: 'k',
      latest: '3',
      encryption_version: '3',
      min_decryption_version: '2',
      min_encryption_version: '0',
      versions: [
        { version: '2', algorithm: 'AES256', created_at: '2026-01-01T00:00:00Z', created_by: 'me', state: 'decrypt-only' },
        { version: '3', algorithm: 'XCHACHA20-POLY1305', created_at: '2026-01-02T03:04:05.5Z', state: 'active' },
      ],
    });
  } else if (path.startsWith('/v1/key/version/config/'))
    sendJson(res, 200, { name: 'k', min_decryption_version: '2', min_encryption_version: '3', encryption_version: '0' });
  else if (path.startsWith('/v1/key/rewrap/')) sendJson(res, 200, { ciphertext: 'AQID', version: '3' });
  else if (path.startsWith('/v1/key/generate/')) sendJson(res, 200, { plaintext: 'AAAA', ciphertext: 'AQID', version: '3' });
  else if (path.startsWith('/v1/key/encrypt/')) sendJson(res, 200, { ciphertext: 'AQID', version: '3' });
  else if (path.startsWith('/v1/key/decrypt/')) sendJson(res, 200, { plaintext: b64('hi') });
  else if (path.startsWith('/v1/key/hmac/')) sendJson(res, 200, { hmac: 'AA==', version: '2' });
  else if (path.startsWith('/v1/key/describe/')) {
    sendJson(res, 200, { name: 'k', algorithm: 'AES256', created_at: '2026-01-01T00:00:00Z', created_by: 'me', version: '3' });
  } else empty(req, res, 0);
};

describe('key versions on the wire', () => {
  it('rotate, versions, version delete and config, rewrap: methods, paths, bodies and results', async () => {
    const { c, seen } = await fakeClient(rotated);
    expect(await c.rotateKey('k')).toEqual({ name: 'k', version: '3', createdAt: new Date('2026-01-02T03:04:05Z'), createdBy: 'me' });
    const imported = new Uint8Array(32).fill(1);
    await c.rotateKey('k', { bytes: imported, cipher: 'ChaCha20' });
    await c.rotateKey('k', { bytes: imported });
    expect(await c.listKeyVersions('k')).toEqual({
      name: 'k',
      latest: '3',
      minDecryptionVersion: '2',
      minEncryptionVersion: '0',
      encryptionVersion: '3',
      versions: [
        { version: '2', algorithm: 'AES256', createdAt: new Date('2026-01-01T00:00:00Z'), createdBy: 'me', state: 'decrypt-only' },
        { version: '3', algorithm: 'ChaCha20', createdAt: new Date('2026-01-02T03:04:05.5Z'), createdBy: '', state: 'active' },
      ],
    });
    await c.deleteKeyVersion('k', '2');
    await c.deleteKeyVersion('k', 7);
    await c.deleteKeyVersion('k', 'v4');
    expect(await c.configureKeyVersions('k', { minDecryptionVersion: 2, minEncryptionVersion: '3' })).toEqual({
      name: 'k',
      minDecryptionVersion: '2',
      minEncryptionVersion: '3',
      encryptionVersion: '0',
    });
    await c.configureKeyVersions('k', { minEncryptionVersion: 0, encryptionVersion: 'v1' });
    await c.configureKeyVersions('k', {});
    expect(await c.rewrap('k', new Uint8Array([9]), te.encode('c'))).toEqual({ ciphertext: new Uint8Array([1, 2, 3]), version: '3' });
    await c.rewrap('k', new Uint8Array([9]), undefined, { version: '2' });

    const key = Buffer.from(imported).toString('base64');
    expect(seen.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['PUT', '/v1/key/rotate/k', ''],
      ['PUT', '/v1/key/rotate/k', `{"key":"${key}","cipher":"ChaCha20"}`],
      ['PUT', '/v1/key/rotate/k', `{"key":"${key}","cipher":"AES256"}`],
      ['GET', '/v1/key/versions/k', ''],
      ['DELETE', '/v1/key/version/delete/k?version=2', ''],
      ['DELETE', '/v1/key/version/delete/k?version=7', ''],
      ['DELETE', '/v1/key/version/delete/k?version=4', ''],
      ['PUT', '/v1/key/version/config/k', '{"min_decryption_version":"2","min_encryption_version":"3"}'],
      ['PUT', '/v1/key/version/config/k', '{"min_encryption_version":"0","encryption_version":"1"}'],
      ['PUT', '/v1/key/version/config/k', '{}'],
      ['PUT', '/v1/key/rewrap/k', '{"ciphertext":"CQ==","context":"Yw=="}'],
      ['PUT', '/v1/key/rewrap/k', '{"ciphertext":"CQ==","version":"2"}'],
    ]);
    expect(seen.requests[1]?.headers['content-type']).toBe('application/json');
    // The imported key material is wiped from the request body, never from the caller's bytes.
    expect(imported.every((b) => b === 1)).toBe(true);
  });

  it('generate, encrypt, decrypt and hmac send a version when given one, and report the version used', async () => {
    const { c, seen } = await fakeClient(rotated);
    expect(await c.generateKey('k', undefined, { version: 2 })).toEqual({
      plaintext: new Uint8Array([0, 0, 0]),
      ciphertext: new Uint8Array([1, 2, 3]),
      version: '3',
    });
    const ct = await c.encrypt('k', te.encode('hi'), undefined, { version: 'v2' });
    expect(ct).toEqual(new Uint8Array([1, 2, 3]));
    expect(ct).toBeInstanceOf(Uint8Array);
    expect(ct.version).toBe('3');
    expect(Object.keys(ct)).toEqual(['0', '1', '2']);
    expect(Buffer.from(await c.decrypt('k', new Uint8Array([9]), te.encode('c'), { version: '2' })).toString()).toBe('hi');
    const mac = await c.hmac('k', te.encode('m'), { version: '2', timeoutMs: 5000 });
    expect(mac.version).toBe('2');
    expect((await c.describeKey('k')).version).toBe('3');
    expect(seen.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/v1/key/generate/k', '{"version":"2"}'],
      ['POST', '/v1/key/encrypt/k', '{"plaintext":"aGk=","version":"2"}'],
      ['POST', '/v1/key/decrypt/k', '{"ciphertext":"CQ==","context":"Yw==","version":"2"}'],
      ['PUT', '/v1/key/hmac/k', '{"message":"bQ==","version":"2"}'],
      ['GET', '/v1/key/describe/k', ''],
    ]);
  });

  it('a key never rotated: no version in requests or results (as with upstream KES)', async () => {
    const { c, seen } = await fakeClient((req, res) => {
      if (req.path.startsWith('/v1/key/generate/')) sendJson(res, 200, { plaintext: 'AAAA', ciphertext: 'AQID' });
      else if (req.path.startsWith('/v1/key/encrypt/')) sendJson(res, 200, { ciphertext: 'AQID' });
      else if (req.path.startsWith('/v1/key/hmac/')) sendJson(res, 200, { hmac: 'AA==' });
      else sendJson(res, 200, { name: 'k', algorithm: 'AES256', created_at: '2026-01-01T00:00:00Z' });
    });
    const dek = await c.generateKey('k');
    expect(dek).toEqual({ plaintext: new Uint8Array([0, 0, 0]), ciphertext: new Uint8Array([1, 2, 3]) });
    expect('version' in dek).toBe(false);
    const ct = await c.encrypt('k', te.encode('hi'));
    expect(ct.version).toBeUndefined();
    expect('version' in ct).toBe(false);
    expect((await c.hmac('k', te.encode('m'))).version).toBeUndefined();
    expect('version' in (await c.describeKey('k'))).toBe(false);
    expect(seen.requests.map((r) => r.body)).toEqual(['{}', '{"plaintext":"aGk="}', '{"message":"bQ=="}', '']);
  });

  it('refuses invalid versions and arguments before sending anything', async () => {
    const { c, seen } = await fakeClient(rotated);
    const versionError = (name: string, min = 1) => ({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: `${name} must be a key version: a whole number from ${min} to 4294967295, e.g. "2"`,
    });
    for (const bad of ['0', 0, '', 'two', '-1', '1.5', 1.5, '4294967296', 4294967296, ' 2', 'V2', '0x10', null]) {
      expect(await failure(c.deleteKeyVersion('k', bad as string))).toMatchObject(versionError('version'));
    }
    expect(await failure(c.encrypt('k', new Uint8Array(1), undefined, { version: 0 }))).toMatchObject(versionError('version'));
    expect(await failure(c.generateKey('k', undefined, { version: 'latest' }))).toMatchObject(versionError('version'));
    expect(await failure(c.decrypt('k', new Uint8Array(1), undefined, { version: -2 }))).toMatchObject(versionError('version'));
    expect(await failure(c.hmac('k', new Uint8Array(1), { version: '' }))).toMatchObject(versionError('version'));
    expect(await failure(c.rewrap('k', new Uint8Array(1), undefined, { version: '0' }))).toMatchObject(versionError('version'));
    expect(await failure(c.configureKeyVersions('k', { minDecryptionVersion: 0 }))).toMatchObject(versionError('minDecryptionVersion'));
    expect(await failure(c.configureKeyVersions('k', { minEncryptionVersion: -1 }))).toMatchObject(versionError('minEncryptionVersion', 0));
    expect(await failure(c.configureKeyVersions('k', null as never))).toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'config must be an object { minDecryptionVersion?, minEncryptionVersion?, encryptionVersion? }',
    });
    expect(await failure(c.rotateKey('k', { bytes: 'AAAA' as never }))).toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'input.bytes must be a Uint8Array',
    });
    expect(await failure(c.rewrap('k', 'AAAA' as never))).toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'ciphertext must be a Uint8Array',
    });
    for (const call of [
      c.rotateKey('a/b'),
      c.listKeyVersions(''),
      c.deleteKeyVersion('a b', 2),
      c.configureKeyVersions('-a', {}),
      c.rewrap('a.b', new Uint8Array(1)),
    ]) {
      expect(await failure(call)).toMatchObject({ code: 'ERR_KES_INVALID_KEY_NAME' });
    }
    expect(seen.requests).toEqual([]);
  });

  it('a reply without the fields the API defines → ERR_KES_CLIENT_PROTOCOL naming the field', async () => {
    const replies: Record<string, unknown> = {
      '/v1/key/rotate/k': { name: 'k', version: 3 },
      '/v1/key/versions/k': { name: 'k', latest: '3', min_decryption_version: '1', min_encryption_version: '0', versions: [{ version: 'v3' }] },
      '/v1/key/version/config/k': { name: 'k', min_decryption_version: '1' },
      '/v1/key/rewrap/k': { ciphertext: 'AQID' },
      '/v1/key/encrypt/k': { ciphertext: 'AQID', version: '' },
    };
    const { c } = await fakeClient((req, res) => sendJson(res, 200, replies[req.path] ?? {}));
    const protocol = (field: string, what = 'is not a key version') => ({
      code: 'ERR_KES_CLIENT_PROTOCOL',
      message: expect.stringContaining(`: field '${field}' ${what} — is this a KES server?`),
    });
    expect(await failure(c.rotateKey('k'))).toMatchObject(protocol('version', 'is not a string'));
    expect(await failure(c.listKeyVersions('k'))).toMatchObject(protocol('version'));
    expect(await failure(c.configureKeyVersions('k', {}))).toMatchObject(protocol('min_encryption_version', 'is missing'));
    expect(await failure(c.rewrap('k', new Uint8Array(1)))).toMatchObject(protocol('version', 'is missing'));
    // An empty version is read as none (upstream's omitempty), not as an error.
    expect((await c.encrypt('k', new Uint8Array(1))).version).toBeUndefined();
  });

  it('error replies become the catalogued KesErrors (code, status, message)', async () => {
    const errors: Record<string, [number, string]> = {
      rotate: [404, 'key versions are not enabled'],
      versions: [404, 'key does not exist'],
      version: [400, 'key version 1 cannot be deleted'],
      rewrap: [400, 'decryption failed: ciphertext is not authentic'],
    };
    const { c } = await fakeClient((req, res) => {
      const [status, message] = errors[req.path.split('/')[3] ?? ''] ?? [500, 'internal server error'];
      sendJson(res, status, { message });
    });
    expect(await failure(c.rotateKey('k'))).toMatchObject({
      code: 'ERR_KES_VERSIONS_DISABLED',
      status: 404,
      message: 'key versions are not enabled',
    });
    expect(await failure(c.listKeyVersions('k'))).toMatchObject({ code: 'ERR_KES_KEY_NOT_FOUND', status: 404 });
    expect(await failure(c.deleteKeyVersion('k', 1))).toMatchObject({
      code: 'ERR_KES_VERSION_PROTECTED',
      status: 400,
      message: 'key version 1 cannot be deleted',
    });
    expect(await failure(c.rewrap('k', new Uint8Array(1)))).toMatchObject({ code: 'ERR_KES_DECRYPT', status: 400 });
  });
});

describe('key versions against the real server', () => {
  let server: KesServer;
  let plain: KesServer;
  let c: KesClient;
  let off: KesClient;

  beforeAll(async () => {
    const common = {
      admin: admin.identity,
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
      log: { error: 'off', audit: 'off' },
    } as const;
    server = await createKesServer({ ...common, keyStore: createMemoryKeyStore(), keyVersions: { enabled: true } });
    await server.listen(0, '127.0.0.1');
    plain = await createKesServer({ ...common, keyStore: createMemoryKeyStore() });
    await plain.listen(0, '127.0.0.1');
    c = createKesClient({ endpoints: server.url, apiKey: admin, ca: pki.ca.certificatePem });
    off = createKesClient({ endpoints: plain.url, apiKey: admin, ca: pki.ca.certificatePem });
  });
  afterAll(async () => {
    c?.close();
    off?.close();
    await server?.close();
    await plain?.close();
  });

  it('rotate, then every call names the version it used; hmac stays on version 1 unless asked', async () => {
    await c.createKey('ring');
    const mac1 = await c.hmac('ring', te.encode('m'));
    const v1 = await c.encrypt('ring', te.encode('one'));
    expect(v1.version).toBeUndefined();
    expect('version' in (await c.describeKey('ring'))).toBe(false);

    const rotated = await c.rotateKey('ring');
    expect(rotated).toMatchObject({ name: 'ring', version: '2', createdBy: admin.identity });
    expect(rotated.createdAt).toBeInstanceOf(Date);
    expect((await c.describeKey('ring')).version).toBe('2');

    const v2 = await c.encrypt('ring', te.encode('two'));
    expect(v2.version).toBe('2');
    expect(v2.length).toBe(v1.length + 8); // the version frame
    expect(Buffer.from(await c.decrypt('ring', v1)).toString()).toBe('one');
    expect(Buffer.from(await c.decrypt('ring', v2, undefined, { version: '1' })).toString()).toBe('two'); // only a hint
    const dek = await c.generateKey('ring', te.encode('ctx'), { version: 1 });
    expect(dek.version).toBe('1');
    expect(await c.decrypt('ring', dek.ciphertext, te.encode('ctx'))).toEqual(dek.plaintext);

    const mac = await c.hmac('ring', te.encode('m'));
    expect(mac).toEqual(mac1);
    expect(mac.version).toBeUndefined();
    const mac2 = await c.hmac('ring', te.encode('m'), { version: 2 });
    expect(mac2.version).toBe('2');
    expect(mac2).not.toEqual(mac1);

    const rewrapped = await c.rewrap('ring', v1);
    expect(rewrapped.version).toBe('2');
    expect(Buffer.from(await c.decrypt('ring', rewrapped.ciphertext)).toString()).toBe('one');
  });

  it('versions, config, delete, and the catalogued errors', async () => {
    await c.createKey('cfg');
    await c.rotateKey('cfg', { bytes: new Uint8Array(32).fill(3), cipher: 'ChaCha20' });
    await c.rotateKey('cfg');
    const list = await c.listKeyVersions('cfg');
    expect(list).toMatchObject({ name: 'cfg', latest: '3', minDecryptionVersion: '1', minEncryptionVersion: '0' });
    expect(list.versions.map((v) => [v.version, v.state])).toEqual([
      ['1', 'active'],
      ['2', 'active'],
      ['3', 'active'],
    ]);
    expect(list.versions[1]?.algorithm).toBe('ChaCha20');

    expect(await c.configureKeyVersions('cfg', { minDecryptionVersion: 2, minEncryptionVersion: 3 })).toMatchObject({
      name: 'cfg',
      minDecryptionVersion: '2',
      minEncryptionVersion: '3',
    });
    expect((await c.listKeyVersions('cfg')).versions.map((v) => v.state)).toEqual(['disabled', 'decrypt-only', 'active']);
    expect(await failure(c.encrypt('cfg', te.encode('x'), undefined, { version: 2 }))).toMatchObject({
      code: 'ERR_KES_VERSION_NOT_ALLOWED',
      status: 400,
      message: 'key version is not allowed for encryption',
    });
    expect(await failure(c.configureKeyVersions('cfg', { minEncryptionVersion: 1 }))).toMatchObject({
      code: 'ERR_KES_INVALID_VERSION_CONFIG',
      status: 400,
    });
    expect(await failure(c.deleteKeyVersion('cfg', 1))).toMatchObject({
      code: 'ERR_KES_VERSION_PROTECTED',
      message: 'key version 1 cannot be deleted',
    });
    await c.configureKeyVersions('cfg', { minDecryptionVersion: 1, minEncryptionVersion: 0 });
    await c.deleteKeyVersion('cfg', '2');
    expect((await c.listKeyVersions('cfg')).versions.map((v) => v.version)).toEqual(['1', '3']);
    expect(await failure(c.deleteKeyVersion('cfg', 2))).toMatchObject({
      code: 'ERR_KES_VERSION_NOT_FOUND',
      status: 404,
      message: 'key version does not exist',
    });
    expect(await failure(c.listKeyVersions('nothing'))).toMatchObject({ code: 'ERR_KES_KEY_NOT_FOUND' });
    // Numbers are never given out twice: the next rotation is 4, not 2.
    expect((await c.rotateKey('cfg')).version).toBe('4');
  });

  it('a server without key versions: ERR_KES_VERSIONS_DISABLED (404) for every new call', async () => {
    await off.createKey('k');
    const disabled = { code: 'ERR_KES_VERSIONS_DISABLED', status: 404, message: 'key versions are not enabled' };
    expect(await failure(off.rotateKey('k'))).toMatchObject(disabled);
    expect(await failure(off.listKeyVersions('k'))).toMatchObject(disabled);
    expect(await failure(off.deleteKeyVersion('k', 2))).toMatchObject(disabled);
    expect(await failure(off.configureKeyVersions('k', { minDecryptionVersion: 1 }))).toMatchObject(disabled);
    expect(await failure(off.rewrap('k', new Uint8Array(1)))).toMatchObject(disabled);
    expect((await off.encrypt('k', te.encode('x'), undefined, { version: 1 })).version).toBeUndefined();
  });
});
