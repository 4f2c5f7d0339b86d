import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ERROR_CATALOGUE, isKesError, listAll } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createKeyStore } from '@kes/keystores';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { loadVectors, rejection } from '../../../test/support/index.js';

const root = mkdtempSync(join(tmpdir(), 'kes-fs-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
/** A fresh, not yet existing key directory under the test root. */
const freshDir = (): string => join(root, `d${++dirs}`, 'keys');

const vectors = loadVectors<{
  key_version_parse: { cases: { raw_text: string; should_fail: boolean }[] };
  key_version_encode: { cases: { should_fail: boolean; expected_encoding_text?: string }[] };
  keystore_list_pagination: { cases: { names: string[]; prefix: string; n: number; list: string[]; continue_at: string }[] };
}>();

/** Every path below `dir` (recursive, sorted) with its type and size, to prove nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${relative(dir, p)} ${e.isDirectory() ? 'dir' : 'file'} ${st?.size ?? -1}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

runKeyStoreContract('fs', async () => createFsKeyStore({ path: join(root, 'contract', 'keys') }));

describe('createFsKeyStore', () => {
  it('validates options synchronously', () => {
    for (const bad of [{ path: '' }, { path: 'a\0b' }, {}, undefined]) {
      let error: unknown;
      try {
        createFsKeyStore(bad as never);
      } catch (e) {
        error = e;
      }
      expect(isKesError(error, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toBe('fs key store: options.path must be a non-empty directory path');
    }
  });

  it('kind is fs:<path>, and the directory is created (0700, with parents) only on first use', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    expect(store.kind).toBe(`fs:${dir}`);
    expect(statSync(dir, { throwIfNoEntry: false })).toBeUndefined();
    await store.create('k1', new Uint8Array([1]));
    const st = statSync(dir);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
    await store.close();
  });

  it('stores one file per key: name = key name, content = value bytes, mode 0600, no leftovers', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    const value = new Uint8Array(randomBytes(300));
    value[0] = 0;
    value[1] = 0xff;
    await store.create('my-key', value);
    expect(readdirSync(dir)).toEqual(['my-key']); // the temp file is gone
    const file = join(dir, 'my-key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).equals(Buffer.from(value))).toBe(true);
    await store.delete('my-key');
    expect(readdirSync(dir)).toEqual([]);
    await store.close();
  });

  it('two stores on one directory (two processes) still let exactly one create win', async () => {
    const dir = freshDir();
    const a = createFsKeyStore({ path: dir });
    const b = createFsKeyStore({ path: dir });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).create('shared', new Uint8Array([i]))));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isKesError(r.reason, 'ERR_KES_KEY_EXISTS')).toBe(true);
    expect(await b.get('shared')).toEqual(new Uint8Array([won[0]!]));
    expect(readdirSync(dir)).toEqual(['shared']);
    await a.close();
    await b.close();
  });

  describe('hostile names are rejected before any file system activity', () => {
    const hostile = ['../x', 'a/b', '..', '.', 'a\\b', '%2e%2e', 'a\0b', '\0', 'x'.repeat(81), '', '/etc/passwd', '-a', 'a.b', 'ké'];
    const message = (n: string): string => ERROR_CATALOGUE.ERR_KES_INVALID_KEY_NAME.message(n);

    it.each(hostile.map((n) => [JSON.stringify(n), n] as const))('%s', async (_, name) => {
      // A store whose directory does not exist yet: not even mkdir may happen.
      const base = join(root, `hostile-${++dirs}`);
      mkdirSync(base);
      writeFileSync(join(base, 'x'), 'outside');
      const missing = createFsKeyStore({ path: join(base, 'keys') });
      const before = snapshot(base);
      await expectKesError(missing.create(name, new Uint8Array([1])), 'ERR_KES_INVALID_KEY_NAME', message(name));
      await expectKesError(missing.get(name), 'ERR_KES_INVALID_KEY_NAME', message(name));
      await expectKesError(missing.delete(name), 'ERR_KES_INVALID_KEY_NAME', message(name));
      expect(snapshot(base)).toEqual(before);

      // A store with a directory and a key in it.
      const dir = join(base, 'existing');
      const store = createFsKeyStore({ path: dir });
      await store.create('victim', new Uint8Array([7]));
      const before2 = snapshot(base);
      await expectKesError(store.create(name, new Uint8Array([1])), 'ERR_KES_INVALID_KEY_NAME', message(name));
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME', message(name));
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME', message(name));
      expect(snapshot(base)).toEqual(before2);
      expect(readFileSync(join(base, 'x'), 'utf8')).toBe('outside');
      await missing.close();
      await store.close();
    });
  });

  it('list ignores temp files, foreign files, sub-directories and symlinks; get/delete treat them as absent', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    await store.create('b-key', new Uint8Array([2]));
    await store.create('a-key', new Uint8Array([1]));
    writeFileSync(join(dir, '.tmp-0123456789abcdef'), 'half a key');
    writeFileSync(join(dir, 'notes.txt'), 'foreign');
    writeFileSync(join(dir, '-bad'), 'foreign');
    mkdirSync(join(dir, 'subdir'));
    writeFileSync(join(dir, 'subdir', 'inner'), 'x');
    writeFileSync(join(root, 'outside-secret'), 'outside');
    symlinkSync(join(root, 'outside-secret'), join(dir, 'link'));
    expect(await store.list('')).toEqual({ names: ['a-key', 'b-key'], continueAt: '' });
    for (const name of ['subdir', 'link']) {
      await expectKesError(store.get(name), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      await expectKesError(store.create(name, new Uint8Array([1])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    }
    await expectKesError(store.delete('subdir'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(readFileSync(join(root, 'outside-secret'), 'utf8')).toBe('outside');
    await store.close();
  });

  it('reads values written by upstream KES (protobuf base64 and legacy JSON) byte-exact', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const values = [
      ...vectors.key_version_parse.cases.filter((c) => !c.should_fail).map((c) => c.raw_text),
      ...vectors.key_version_encode.cases.flatMap((c) => (c.expected_encoding_text ? [c.expected_encoding_text] : [])),
    ];
    expect(values.length).toBeGreaterThanOrEqual(4);
    values.forEach((v, i) => writeFileSync(join(dir, `upstream-${i}`), v, { mode: 0o600 }));
    const store = createFsKeyStore({ path: dir });
    expect(await listAll(store, 'upstream-')).toEqual(values.map((_, i) => `upstream-${i}`));
    for (const [i, v] of values.entries()) {
      const got = await store.get(`upstream-${i}`);
      expect(Buffer.from(got).equals(Buffer.from(v, 'utf8'))).toBe(true);
    }
    await store.close();
  });

  it.each(vectors.keystore_list_pagination.cases.map((c, i) => [i, c] as const))('pagination vector case %i', async (_, c) => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    for (const n of c.names) writeFileSync(join(dir, n), 'v');
    const store = createFsKeyStore({ path: dir });
    expect(await store.list(c.prefix, { limit: c.n })).toEqual({ names: c.list, continueAt: c.continue_at });
    await store.close();
  });

  it('pages at 1024 names', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: 2100 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    for (const n of names) writeFileSync(join(dir, n), 'v');
    const store = createFsKeyStore({ path: dir });
    const first = await store.list('k');
    expect(first.names).toEqual(names.slice(0, 1024));
    expect(first.continueAt).toBe('k1024');
    expect(await listAll(store, 'k')).toEqual(names);
    await store.close();
  });

  it('reads at most 1 MiB', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'max'), Buffer.alloc(1 << 20, 0x41));
    writeFileSync(join(dir, 'huge'), Buffer.alloc((1 << 20) + 1, 0x41));
    const store = createFsKeyStore({ path: dir });
    expect((await store.get('max')).byteLength).toBe(1 << 20);
    const error = await rejection(store.get('huge'));
    expect(error).toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE', message: 'key store is unavailable' });
    expect(String((error as Error).cause)).not.toContain('AAAA'); // no value bytes in the cause
    await store.close();
  });

  it('I/O failures are ERR_KES_KEYSTORE_UNAVAILABLE with the cause; status reports ERR_KES_KEYSTORE_UNREACHABLE', async () => {
    const file = join(root, `not-a-dir-${++dirs}`);
    writeFileSync(file, 'x');
    const store = createFsKeyStore({ path: file });
    for (const call of [store.create('k', new Uint8Array([1])), store.list('')]) {
      const error = await rejection(call);
      expect(error).toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE', message: 'key store is unavailable' });
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    await store.close();

    const ok = createFsKeyStore({ path: freshDir() });
    expect((await ok.status()).latencyMs).toBeGreaterThanOrEqual(0);
    await ok.close();
  });
});

describe('key directory permissions', () => {
  /** An existing key directory with `mode`, as upstream KES (0755) or an operator left it. */
  const existingDir = (mode: number): string => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, mode);
    return dir;
  };
  const warningFor = (dir: string, from: string): string =>
    `fs key store: key directory ${dir} had mode ${from} (group/other access); restricted it to 0700`;

  it('creates the directory and its missing parents with mode 0700', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir, onWarning: () => expect.unreachable('no warning for a new directory') });
    await store.list('');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
    await store.close();
  });

  it.skipIf(process.platform === 'win32')('restricts an existing 0755 directory to 0700 on first use, with one warning', async () => {
    const dir = existingDir(0o755);
    const warnings: string[] = [];
    const store = createFsKeyStore({ path: dir, onWarning: (m) => warnings.push(m) });
    await store.create('k1', new Uint8Array([1]));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(warnings).toEqual([warningFor(dir, '0755')]);
    await store.get('k1');
    await store.list('');
    expect(warnings).toHaveLength(1); // checked once per store
    await store.close();
  });

  it.skipIf(process.platform === 'win32')('get and delete restrict it too (without creating a missing directory)', async () => {
    for (const call of ['get', 'delete'] as const) {
      const dir = existingDir(0o775);
      const warnings: string[] = [];
      const store = createFsKeyStore({ path: dir, onWarning: (m) => warnings.push(m) });
      await expectKesError(store[call]('nope'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(warnings).toEqual([warningFor(dir, '0775')]);
      await store.close();
    }
    const missing = freshDir();
    const store = createFsKeyStore({ path: missing });
    await expectKesError(store.get('nope'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    expect(statSync(missing, { throwIfNoEntry: false })).toBeUndefined();
    await store.close();
  });

  it.skipIf(process.platform === 'win32')('onWarning passes through the registry; without it the warning goes to process.emitWarning', async () => {
    const dir = existingDir(0o750);
    const warnings: string[] = [];
    const viaRegistry = await createKeyStore({ type: 'fs', options: { path: dir, onWarning: (m) => warnings.push(m) } });
    await viaRegistry.status();
    expect(warnings).toEqual([warningFor(dir, '0750')]);
    await viaRegistry.close();

    const dir2 = existingDir(0o755);
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const store = createFsKeyStore({ path: dir2 });
      await store.status();
      expect(spy).toHaveBeenCalledWith(warningFor(dir2, '0755'), { code: 'KES_FS_KEYSTORE' });
      await store.close();
    } finally {
      spy.mockRestore();
    }
  });

  it('an already private directory is left alone, silently', async () => {
    const dir = existingDir(0o700);
    const store = createFsKeyStore({ path: dir, onWarning: () => expect.unreachable('no warning for a 0700 directory') });
    await store.create('k1', new Uint8Array([1]));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    await store.close();
  });

  // Only a non-root user can hold a directory it may not chmod; /usr is root's (0755) on Linux and macOS.
  const uid = process.getuid?.();
  const foreign = uid !== undefined && uid !== 0 && statSync('/usr', { throwIfNoEntry: false })?.uid === 0 ? '/usr' : undefined;
  it.skipIf(foreign === undefined)('refuses a directory it cannot restrict (not its owner): every call fails', async () => {
    const dir = foreign as string;
    const before = statSync(dir).mode;
    const store = createFsKeyStore({ path: dir, onWarning: () => expect.unreachable('refused, not warned') });
    const error = await rejection(store.list(''));
    expect(error).toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE', message: 'key store is unavailable' });
    expect(String((error as Error).cause)).toBe(
      `Error: key directory ${dir} has mode ${`0${(before & 0o777).toString(8)}`} (group/other access) and cannot be restricted to 0700: the process does not own it`,
    );
    await expectKesError(store.get('k1'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.status(), 'ERR_KES_KEYSTORE_UNREACHABLE', 'key store is not reachable');
    expect(statSync(dir).mode).toBe(before);
    await store.close();
  });

  it('rejects bad onWarning / caseInsensitive options synchronously', () => {
    expect(() => createFsKeyStore({ path: freshDir(), onWarning: 'log' as never })).toThrow('fs key store: options.onWarning must be a function');
    expect(() => createFsKeyStore({ path: freshDir(), caseInsensitive: 'yes' as never })).toThrow(
      'fs key store: options.caseInsensitive must be a boolean',
    );
  });
});

/** True if `dir` folds case (what the store probes, re-done here so the test does not trust it). */
function foldsCase(dir: string): boolean {
  const probe = join(dir, 'Case-Probe');
  writeFileSync(probe, '');
  try {
    return statSync(join(dir, 'case-probe'), { throwIfNoEntry: false }) !== undefined;
  } finally {
    unlinkSync(probe);
  }
}

describe('case-insensitive key directories', () => {
  /** A store with `app-secret` in it, and the file name list for checks. */
  async function storeWithSecret(caseInsensitive?: boolean) {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir, ...(caseInsensitive === undefined ? {} : { caseInsensitive }) });
    await store.create('app-secret', new Uint8Array([1, 2, 3]));
    return { dir, store };
  }

  it('caseInsensitive forced on: a name differing from a key only by case is refused', async () => {
    const { dir, store } = await storeWithSecret(true);
    await expectKesError(store.create('APP-SECRET', new Uint8Array([9])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    await expectKesError(store.create('App-Secret', new Uint8Array([9])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    await expectKesError(store.get('APP-SECRET'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(store.delete('APP-SECRET'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    // The exact spelling still works, and nothing else was written or removed.
    expect(await store.get('app-secret')).toEqual(new Uint8Array([1, 2, 3]));
    expect(readdirSync(dir)).toEqual(['app-secret']);
    expect(await store.list('')).toEqual({ names: ['app-secret'], continueAt: '' });
    await store.create('other-key', new Uint8Array([4]));
    await store.delete('app-secret');
    expect(readdirSync(dir)).toEqual(['other-key']);
    await store.close();
  });

  it('caseInsensitive forced off: names are exact, as on this (case-sensitive) file system', async () => {
    const { dir, store } = await storeWithSecret(false);
    if (foldsCase(dir)) return; // only meaningful where the file system does not fold case itself
    await store.create('APP-SECRET', new Uint8Array([9]));
    expect(await store.get('APP-SECRET')).toEqual(new Uint8Array([9]));
    expect(readdirSync(dir).sort()).toEqual(['APP-SECRET', 'app-secret']);
    await store.close();
  });

  it('detected on first use: the probe leaves nothing behind, and a folding file system refuses case variants', async () => {
    const { dir, store } = await storeWithSecret();
    await expectKesError(store.get('APP-SECRET'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(readdirSync(dir)).toEqual(['app-secret']); // no probe file left
    if (foldsCase(dir)) {
      // macOS, Windows: the real thing. Without the check, get('APP-SECRET') would read app-secret.
      await expectKesError(store.create('APP-SECRET', new Uint8Array([9])), 'ERR_KES_KEY_EXISTS', 'key already exists');
      await expectKesError(store.delete('APP-SECRET'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      expect(await store.get('app-secret')).toEqual(new Uint8Array([1, 2, 3]));
    } else {
      await store.create('APP-SECRET', new Uint8Array([9]));
      expect(await store.get('APP-SECRET')).toEqual(new Uint8Array([9]));
    }
    await store.close();
  });
});
