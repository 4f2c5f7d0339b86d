// A vanished or replaced key directory is a failing store, never "key does not exist" (review finding).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKesError } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';

let base = '';
afterEach(() => {
  if (base) rmSync(base, { recursive: true, force: true });
  base = '';
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isKesError(e) ? e.code : String(e);
  }
}

describe('fs key store without its directory', () => {
  it('get and delete report the store as unavailable when the directory is gone or is a file', async () => {
    base = mkdtempSync(join(tmpdir(), 'kes-fs-missing-'));
    const dir = join(base, 'keys');
    const store = createFsKeyStore({ path: dir });
    await store.create('k1', new TextEncoder().encode('value'));
    expect(await codeOf(store.get('nope'))).toBe('ERR_KES_KEY_NOT_FOUND'); // directory present: a plain miss
    rmSync(dir, { recursive: true });
    expect(await codeOf(store.get('k1'))).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(await codeOf(store.delete('k1'))).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    writeFileSync(dir, 'not a directory');
    expect(await codeOf(store.get('k1'))).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(await codeOf(store.delete('k1'))).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
    await store.close();
  });
});
