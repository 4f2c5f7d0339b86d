import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createKeyStore, createMemoryKeyStore, keyStoreTypes, registerKeyStore } from '@kes/keystores';
import { bundleKeyStores } from './fixtures/bundle.js';
import { rejection } from '../../../test/support/index.js';

// Module-loading spies: the factories below run only when the registry imports
// the backend module, so they show which backend modules were loaded.
const loaded = vi.hoisted(() => ({ vault: 0, aws: 0 }));
const fakeStore = (kind: string): KeyStore => Object.assign(createMemoryKeyStore(), { kind });
vi.mock('../src/vault.js', () => {
  loaded.vault++;
  return { createVaultKeyStore: vi.fn((options: unknown) => ({ ...fakeStore('vault'), options })) };
});
vi.mock('../src/aws.js', () => {
  loaded.aws++;
  return { createAwsKeyStore: vi.fn((options: unknown) => ({ ...fakeStore('aws'), options })) };
});

const work = mkdtempSync(join(tmpdir(), 'kes-registry-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('key-store registry', () => {
  it('memory and fs resolve without loading the vault or aws modules', async () => {
    const memory = await createKeyStore({ type: 'memory' });
    expect(memory.kind).toBe('memory');
    await memory.create('k', new Uint8Array([1]));
    expect(await memory.get('k')).toEqual(new Uint8Array([1]));
    await memory.close();

    const path = join(work, 'fs-keys');
    const fs = await createKeyStore({ type: 'fs', options: { path } });
    expect(fs.kind).toBe(`fs:${path}`);
    await fs.create('k', new Uint8Array([2]));
    expect(readdirSync(path)).toEqual(['k']);
    await fs.close();

    expect(loaded).toEqual({ vault: 0, aws: 0 });
  });

  it('vault and aws resolve to their factories with the given options, loading only that module', async () => {
    const vaultOptions = { endpoint: 'http://127.0.0.1:8200' };
    const vault = await createKeyStore({ type: 'vault', options: vaultOptions });
    expect(vault.kind).toBe('vault');
    expect((vault as unknown as { options: unknown }).options).toBe(vaultOptions);
    expect(loaded).toEqual({ vault: 1, aws: 0 });

    const awsOptions = { region: 'us-east-1' };
    const aws = await createKeyStore({ type: 'aws', options: awsOptions });
    expect(aws.kind).toBe('aws');
    expect((aws as unknown as { options: unknown }).options).toBe(awsOptions);
    expect(loaded).toEqual({ vault: 1, aws: 1 });
  });

  it('passes factory errors through', async () => {
    const error = await rejection(createKeyStore({ type: 'fs', options: { path: '' } }));
    expect(isKesError(error, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toBe('fs key store: options.path must be a non-empty directory path');
  });

  it('an unknown type fails with ERR_KES_INVALID_ARGUMENT naming the known types', async () => {
    for (const config of [{ type: 'etcd' }, { type: 'toString' }, { type: '__proto__' }]) {
      const error = await rejection(createKeyStore(config));
      expect(isKesError(error, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toBe(`unknown key store type '${config.type}' (known: ${keyStoreTypes().join(', ')})`);
    }
    const error = await rejection(createKeyStore(undefined as never));
    expect((error as Error).message).toMatch(/^unknown key store type 'undefined' \(known: memory, fs, vault, aws/);
  });

  it('third parties register their own types', async () => {
    expect(keyStoreTypes()).toEqual(['memory', 'fs', 'vault', 'aws', 'gcp', 'azure', 'gemalto', 'fortanix', 'entrust']);
    const seen: unknown[] = [];
    registerKeyStore('test-store', async (options: { tag: string }) => {
      seen.push(options);
      return Object.assign(createMemoryKeyStore(), { kind: `test:${options.tag}` });
    });
    expect(keyStoreTypes()).toEqual(['memory', 'fs', 'vault', 'aws', 'gcp', 'azure', 'gemalto', 'fortanix', 'entrust', 'test-store']);
    const store = await createKeyStore({ type: 'test-store', options: { tag: 'x' } });
    expect(store.kind).toBe('test:x');
    expect(seen).toEqual([{ tag: 'x' }]);

    const cases: [string, string][] = [
      ['test-store', "key store type 'test-store' is already registered"],
      ['fs', "key store type 'fs' is already registered"],
      ['Bad Type', 'key store type must match [a-z][a-z0-9._-]* (at most 64 characters)'],
      ['', 'key store type must match [a-z][a-z0-9._-]* (at most 64 characters)'],
    ];
    for (const [type, message] of cases) {
      let error: unknown;
      try {
        registerKeyStore(type, () => createMemoryKeyStore());
      } catch (e) {
        error = e;
      }
      expect(isKesError(error, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toBe(message);
    }
  });

  it('importing @kes/keystores or @kes/keystores/fs and using fs does not load @aws-sdk/*', async () => {
    // The bundle lives outside the repository, where @aws-sdk/* cannot be resolved:
    // any (static or dynamic) load of it on the fs path would make the child fail.
    const bundleDir = join(work, 'bundle');
    await bundleKeyStores(bundleDir, ['index', 'fs']);
    const script = join(bundleDir, 'child.mjs');
    writeFileSync(
      script,
      `
      import { createFsKeyStore } from './fs.js';
      import { createKeyStore } from './index.js';
      const dir = process.argv[2];
      const a = createFsKeyStore({ path: dir + '/a' });
      await a.create('k', new Uint8Array([1]));
      const b = await createKeyStore({ type: 'fs', options: { path: dir + '/b' } });
      await b.create('k', new Uint8Array([2]));
      await b.get('k');
      await b.list('');
      await b.status();
      const m = await createKeyStore({ type: 'memory' });
      await m.create('k', new Uint8Array([3]));
      // Control: the SDK really is unreachable from here.
      let sdk = 'loaded';
      try { await import('@aws-sdk/client-secrets-manager'); } catch (e) { sdk = e.code; }
      console.log(JSON.stringify({ ok: true, sdk }));
      `,
    );
    const r = spawnSync(process.execPath, [script, work], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, sdk: 'ERR_MODULE_NOT_FOUND' });
    expect(readFileSync(join(work, 'b', 'k'))).toEqual(Buffer.from([2]));
  }, 60_000);
});
