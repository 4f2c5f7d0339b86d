// An app's key flows, tested against the in-process KES handler: fast (no TLS, no port),
// yet authentication, policies and errors behave as on a real server.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestKes } from '../src/kes-fixture.js';
import type { TestKes } from '../src/kes-fixture.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('key flows of my-app, in process', () => {
  let kes: TestKes;
  beforeEach(async () => {
    kes = await createTestKes();
  });
  afterEach(() => kes.close());

  it('creates its key, gets a data key and decrypts it again', async () => {
    const app = kes.as(kes.app);
    expect((await app('PUT', '/v1/key/create/app-key')).status).toBe(200);

    const context = b64('bucket/object-1');
    const dek = await app('POST', '/v1/key/generate/app-key', { context });
    expect(dek.status).toBe(200);
    const { plaintext, ciphertext } = dek.json<{ plaintext: string; ciphertext: string }>();
    expect(Buffer.from(plaintext, 'base64')).toHaveLength(32);

    const back = await app('POST', '/v1/key/decrypt/app-key', { ciphertext, context });
    expect(back.status).toBe(200);
    expect(back.json()).toEqual({ plaintext });
  });

  it('a ciphertext only decrypts with the context it was made with', async () => {
    const app = kes.as(kes.app);
    await app('PUT', '/v1/key/create/app-key');
    const { ciphertext } = (await app('POST', '/v1/key/generate/app-key', { context: b64('object-1') })).json<{ ciphertext: string }>();

    const wrong = await app('POST', '/v1/key/decrypt/app-key', { ciphertext, context: b64('object-2') });
    expect(wrong.status).toBe(400);
    expect(wrong.text()).toBe('{"message":"decryption failed: ciphertext is not authentic"\n}');
  });

  it('creating a key twice fails; a missing key is 404', async () => {
    const app = kes.as(kes.app);
    await app('PUT', '/v1/key/create/app-key');
    const again = await app('PUT', '/v1/key/create/app-key');
    expect([again.status, again.text()]).toEqual([400, '{"message":"key already exists"\n}']);
    const missing = await app('POST', '/v1/key/generate/app-nothing', {});
    expect([missing.status, missing.text()]).toEqual([404, '{"message":"key does not exist"\n}']);
  });

  it('the policy stops the app outside its keys and routes; the admin may', async () => {
    const app = kes.as(kes.app);
    await app('PUT', '/v1/key/create/app-key');
    const denied = await app('DELETE', '/v1/key/delete/app-key');
    expect([denied.status, denied.text()]).toEqual([403, '{"message":"not authorized: insufficient permissions"\n}']);
    expect((await app('PUT', '/v1/key/create/other-key')).status).toBe(403);

    expect((await kes.as(kes.admin)('DELETE', '/v1/key/delete/app-key')).status).toBe(200);
  });

  it('a caller without a certificate is turned away before any policy', async () => {
    const nobody = await kes.as(undefined)('GET', '/v1/key/list/');
    expect([nobody.status, nobody.text()]).toEqual([400, '{"message":"tls: client certificate is required"\n}']);
  });

  it('HMACs are stable per key, and listing shows only what the prefix matches', async () => {
    const app = kes.as(kes.app);
    await app('PUT', '/v1/key/create/app-a');
    await app('PUT', '/v1/key/create/app-b');
    const mac = async () => (await app('PUT', '/v1/key/hmac/app-a', { message: b64('user-42') })).json<{ hmac: string }>().hmac;
    const sum = await mac();
    expect(sum).toMatch(/^[A-Za-z0-9+/]{43}=$/); // 32 bytes
    expect(await mac()).toBe(sum);

    const list = await app('GET', '/v1/key/list/app-*');
    expect(list.json()).toMatchObject({ names: ['app-a', 'app-b'] });
  });

  it('every request is audited with its identity and status', async () => {
    const app = kes.as(kes.app);
    await app('PUT', '/v1/key/create/app-key');
    await app('DELETE', '/v1/key/delete/app-key');
    expect(kes.audit).toEqual([
      { path: '/v1/key/create/app-key', identity: kes.app, status: 200 },
      { path: '/v1/key/delete/app-key', identity: kes.app, status: 403 },
    ]);
  });
});
