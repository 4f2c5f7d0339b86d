import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ERROR_CATALOGUE, isKesError, listAll } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createKeyStore } from '@kes/keystores';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
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
runVersionRecordContract('fs', async () => createFsKeyStore({ path: join(root, 'vcontract', 'keys') }));
runVersionRecordContract('fs, explicit versionsPath', async () =>
  createFsKeyStore({ path: join(root, 'vcontract2', 'keys'), versionsPath: join(root, 'vcontract2', 'records', 'deep') }),
);

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

describe('version records (versions)', () => {
  const invalid = (options: object): string => {
    try {
      createFsKeyStore(options as never);
    } catch (e) {
      expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('default to the sibling <path>.versions, resolved like path; location names it', () => {
    expect(createFsKeyStore({ path: '/var/lib/kes/keys' }).versions?.location).toBe('fs:/var/lib/kes/keys.versions');
    expect(createFsKeyStore({ path: '/var/lib/kes/keys/' }).versions?.location).toBe('fs:/var/lib/kes/keys.versions');
    expect(createFsKeyStore({ path: 'rel/keys' }).versions?.location).toBe(`fs:${join(process.cwd(), 'rel', 'keys')}.versions`);
    expect(createFsKeyStore({ path: '/k', versionsPath: 'rel/v' }).versions?.location).toBe(`fs:${join(process.cwd(), 'rel', 'v')}`);
  });

  it('refuses a versionsPath inside the key directory or containing it, synchronously', () => {
    const outside = 'fs key store: options.versionsPath must be outside the key directory (options.path)';
    const contains = 'fs key store: options.versionsPath must not contain the key directory (options.path)';
    expect(invalid({ path: '/kes/keys', versionsPath: '/kes/keys' })).toBe(outside);
    expect(invalid({ path: '/kes/keys', versionsPath: '/kes/keys/' })).toBe(outside);
    expect(invalid({ path: '/kes/keys', versionsPath: '/kes/keys/v' })).toBe(outside);
    expect(invalid({ path: '/kes/keys', versionsPath: '/kes/keys/../keys/v' })).toBe(outside);
    expect(invalid({ path: '/kes/keys', versionsPath: '/kes' })).toBe(contains);
    expect(invalid({ path: '/kes/keys', versionsPath: '/' })).toBe(contains);
    for (const bad of ['', 'a\0b', 7]) {
      expect(invalid({ path: '/kes/keys', versionsPath: bad })).toBe('fs key store: options.versionsPath must be a non-empty directory path');
    }
    // Siblings that merely share a prefix are fine.
    expect(createFsKeyStore({ path: '/kes/keys', versionsPath: '/kes/keys2' }).versions?.location).toBe('fs:/kes/keys2');
    expect(createFsKeyStore({ path: '/kes/keys', versionsPath: '/kes/..keys' }).versions?.location).toBe('fs:/kes/..keys');
  });

  it('writes <versionsPath>/<name>/<id> (0700 dirs, 0600 files) and nothing inside the key directory', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    const versions = store.versions!;
    await store.create('k', new Uint8Array([1]));
    const before = snapshot(dir);
    expect(statSync(`${dir}.versions`, { throwIfNoEntry: false })).toBeUndefined(); // created lazily
    expect(await versions.list('k')).toEqual([]);
    await expectKesError(versions.get('k', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.delete('k', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(statSync(`${dir}.versions`, { throwIfNoEntry: false })).toBeUndefined(); // reads never create it

    const value = new Uint8Array(randomBytes(200));
    await versions.create('k', '2', value);
    await versions.create('k', 'c1', new Uint8Array([9]));
    const vdir = `${dir}.versions`;
    expect(statSync(vdir).mode & 0o777).toBe(0o700);
    expect(statSync(join(vdir, 'k')).mode & 0o777).toBe(0o700);
    expect(statSync(join(vdir, 'k', '2')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(vdir, 'k', '2')).equals(Buffer.from(value))).toBe(true);
    expect(readdirSync(vdir)).toEqual(['k']); // no temp file left behind
    expect(readdirSync(join(vdir, 'k')).sort()).toEqual(['2', 'c1']);
    expect(snapshot(dir)).toEqual(before); // the key directory is untouched
    expect(await store.list('')).toEqual({ names: ['k'], continueAt: '' });

    await versions.delete('k', '2');
    expect(readdirSync(join(vdir, 'k'))).toEqual(['c1']);
    await versions.delete('k', 'c1');
    expect(readdirSync(vdir)).toEqual([]); // the empty name directory is removed
    expect(snapshot(dir)).toEqual(before);
    await store.close();
  });

  it('a deployment that never rotates gets no versions directory', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    await store.create('k', new Uint8Array([1]));
    await store.get('k');
    await store.list('');
    await store.delete('k');
    await store.status();
    expect(readdirSync(join(dir, '..'))).toEqual(['keys']);
    await store.close();
  });

  it('ignores temp files, sub-directories, symlinks and foreign files; refuses a symlinked name directory', async () => {
    const dir = freshDir();
    const vdir = join(dir, '..', 'v');
    const store = createFsKeyStore({ path: dir, versionsPath: vdir });
    const versions = store.versions!;
    await versions.create('k', '2', new Uint8Array([2]));
    writeFileSync(join(vdir, 'k', '.tmp-1-abc'), 'half');
    writeFileSync(join(vdir, 'k', 'Upper'), 'x');
    mkdirSync(join(vdir, 'k', '3'));
    symlinkSync(join(vdir, 'k', '2'), join(vdir, 'k', '4'));
    expect(await versions.list('k')).toEqual(['2']);
    await expectKesError(versions.get('k', '3'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.get('k', '4'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.delete('k', '3'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.create('k', '3', new Uint8Array([1])), 'ERR_KES_KEY_EXISTS', 'key already exists');

    // A name directory that is a symlink to somewhere else is not followed.
    const elsewhere = join(root, `elsewhere-${++dirs}`);
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, '2'), 'outside');
    symlinkSync(elsewhere, join(vdir, 'evil'));
    await expectKesError(versions.get('evil', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(await versions.list('evil')).toEqual([]);
    await expectKesError(versions.delete('evil', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.create('evil', '3', new Uint8Array([1])), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    expect(readdirSync(elsewhere)).toEqual(['2']);
    await store.close();
  });

  it.skipIf(process.platform === 'win32')('restricts an existing versions directory to 0700, with a warning', async () => {
    const dir = freshDir();
    const vdir = join(dir, '..', 'open-versions');
    mkdirSync(vdir, { recursive: true });
    chmodSync(vdir, 0o755);
    const warnings: string[] = [];
    const store = createFsKeyStore({ path: dir, versionsPath: vdir, onWarning: (m) => warnings.push(m) });
    expect(await store.versions!.list('k')).toEqual([]);
    expect(statSync(vdir).mode & 0o777).toBe(0o700);
    expect(warnings).toEqual([`fs key store: version record directory ${vdir} had mode 0755 (group/other access); restricted it to 0700`]);
    await store.close();
  });

  it('a concurrent delete emptying the name directory does not break a create', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir });
    const versions = store.versions!;
    for (let round = 0; round < 30; round++) {
      await versions.create('k', '2', new Uint8Array([1]));
      await Promise.all([versions.delete('k', '2'), versions.create('k', '3', new Uint8Array([round]))]);
      expect([...(await versions.get('k', '3'))]).toEqual([round]);
      await versions.delete('k', '3');
    }
    expect(readdirSync(`${dir}.versions`)).toEqual([]);
    await store.close();
  });

  it('a file in the way of the versions directory is a failing store, not a missing record', async () => {
    const dir = freshDir();
    const vfile = join(root, `vfile-${++dirs}`);
    writeFileSync(vfile, 'x');
    const store = createFsKeyStore({ path: dir, versionsPath: vfile });
    await expectKesError(store.versions!.create('k', '2', new Uint8Array([1])), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.versions!.get('k', '2'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(store.versions!.list('k'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await store.close();
    await expectKesError(store.versions!.get('k', '2'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });

  it('caseInsensitive forced on: records of a name differing only by case stay apart', async () => {
    const dir = freshDir();
    const store = createFsKeyStore({ path: dir, caseInsensitive: true });
    const versions = store.versions!;
    await versions.create('app-secret', '2', new Uint8Array([1]));
    await expectKesError(versions.create('APP-SECRET', '3', new Uint8Array([9])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    await expectKesError(versions.get('APP-SECRET', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    await expectKesError(versions.delete('APP-SECRET', '2'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    expect(await versions.list('APP-SECRET')).toEqual([]);
    expect(await versions.list('app-secret')).toEqual(['2']);
    await store.close();
  });
});
