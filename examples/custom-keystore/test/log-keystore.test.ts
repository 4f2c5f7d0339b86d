import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, listAll } from '@kes/core';
import { createKesHandler } from '@kes/server';
import { expectKesError, runKeyStoreContract } from '../../../packages/keystores/test/contract.js';
import { createLogKeyStore } from '../src/log-keystore.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-log-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `keys-${++n}.log`);

// The same suite every built-in store passes. 2000 keys instead of 10000: each create is an
// append and a flush to disk, one at a time.
runKeyStoreContract('log file (example)', async () => createLogKeyStore({ path: freshPath() }), { listSize: 2000 });

describe('createLogKeyStore', () => {
  it('keeps keys across a restart, deletes included', async () => {
    const path = freshPath();
    const first = createLogKeyStore({ path });
    await first.create('a', new Uint8Array([1, 2, 3]));
    await first.create('b', new Uint8Array([4]));
    await first.delete('a');
    await first.close();

    const second = createLogKeyStore({ path });
    expect(await listAll(second, '')).toEqual(['b']);
    expect(await second.get('b')).toEqual(new Uint8Array([4]));
    await second.close();
  });

  it('ignores a partial last line left by a crash, and appends after it cleanly', async () => {
    const path = freshPath();
    const store = createLogKeyStore({ path });
    await store.create('kept', new Uint8Array([7]));
    await store.close();
    appendFileSync(path, '{"op":"create","name":"torn","val');

    const reopened = createLogKeyStore({ path });
    expect(await listAll(reopened, '')).toEqual(['kept']);
    await reopened.create('after', new Uint8Array([8]));
    await reopened.close();
    expect(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).name),
    ).toEqual(['kept', 'after']);
  });

  it('refuses a second owner of the same file', async () => {
    const path = freshPath();
    const owner = createLogKeyStore({ path });
    await owner.status();
    const other = createLogKeyStore({ path });
    await expectKesError(other.status(), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await owner.close();
    // Once the owner closed, the file is free again.
    await expect(other.status()).resolves.toMatchObject({ latencyMs: expect.any(Number) });
    await other.close();
  });

  it('validates options synchronously', () => {
    expect(() => createLogKeyStore({ path: '' })).toThrow('createLogKeyStore: path must be a non-empty string');
  });

  it('serves a KES handler: keys created through the API are in the log', async () => {
    const path = freshPath();
    const admin = ApiKey.generate().identity;
    const kes = await createKesHandler({ admin, keyStore: createLogKeyStore({ path }) });
    expect((await kes.inject({ method: 'PUT', path: '/v1/key/create/app-key', identity: admin })).status).toBe(200);
    const dek = await kes.inject({ method: 'POST', path: '/v1/key/generate/app-key', identity: admin, body: '{}' });
    expect(dek.status).toBe(200);
    const { plaintext, ciphertext } = dek.json<{ plaintext: string; ciphertext: string }>();
    const back = await kes.inject({ method: 'POST', path: '/v1/key/decrypt/app-key', identity: admin, body: JSON.stringify({ ciphertext }) });
    expect(back.json()).toEqual({ plaintext });
    await kes.close();
    expect(readFileSync(path, 'utf8')).toContain('"name":"app-key"');
  });
});
