// `kes migrate` end to end: the BUILT CLI copies keys between real key stores (a temp
// directory, and the OpenBao dev server the global test setup starts), including runs
// that stop half-way (a conflicting key, SIGINT, SIGKILL) and are then resumed.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MasterKey, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { killAll, runKes, runKesOnce } from './helpers/spawn.js';
// Brings the `inject()` keys declared by the global setup into the type check.
import type {} from '../../../test/global-setup.js';

const built = existsSync(new URL('../dist/cli.js', import.meta.url));
const baoAddr = inject('baoAddr');
const baoToken = inject('baoToken');
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-migrate-'));
const stores: KeyStore[] = [];

afterAll(async () => {
  killAll();
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A config file whose `keystore:` section is `keystore` (admin and TLS are required by the format; the TLS files are not opened). */
function config(name: string, keystore: string[]): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    ['admin: {identity: disabled}', 'tls: {key: ./unused.key, cert: ./unused.crt}', 'keystore:', ...keystore.map((l) => `  ${l}`), ''].join('\n'),
  );
  return file;
}

function fsStore(name: string): { file: string; store: KeyStore; path: string } {
  const path = join(dir, name);
  mkdirSync(path, { mode: 0o700 });
  const store = createFsKeyStore({ path });
  stores.push(store);
  return { file: config(name, ['fs:', `  path: ${path}`]), store, path };
}

/** `count` keys `prefix-0000…` with fresh encoded master keys; returns name → value. */
async function fill(store: KeyStore, prefix: string, count: number): Promise<Map<string, Buffer>> {
  const values = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(4, '0')}`;
    const key = MasterKey.generate();
    const value = Buffer.from(key.encode());
    key.destroy();
    await store.create(name, value);
    values.set(name, value);
  }
  return values;
}

/** Every key of `values` is in `store` with exactly these bytes. */
async function expectCopied(store: KeyStore, values: Map<string, Buffer>): Promise<void> {
  for (const [name, value] of values) expect(Buffer.from(await store.get(name))).toEqual(value);
}

async function migrate(args: string[], env: Record<string, string> = {}) {
  const r = await runKesOnce(['migrate', ...args], env);
  return { ...r, json: r.code === 0 && args.includes('--json') ? JSON.parse(r.stdout) : undefined };
}

describe.skipIf(!built)('kes migrate fs → fs (built CLI)', () => {
  let source: ReturnType<typeof fsStore>;
  let target: ReturnType<typeof fsStore>;
  let values: Map<string, Buffer>;

  beforeAll(async () => {
    source = fsStore('source');
    target = fsStore('target');
    values = await fill(source.store, 'app', 20);
    // A key in an older stored format is copied byte for byte, not re-encoded.
    const legacy = Buffer.from(JSON.stringify({ bytes: randomBytes(32).toString('base64') }));
    await source.store.create('legacy-key', legacy);
    values.set('legacy-key', legacy);
  });

  it('copies every key byte for byte and reports it', async () => {
    const r = await migrate(['--from', source.file, '--to', target.file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `Migrating 21 keys from Filesystem: ${source.path} (${source.file}) to Filesystem: ${target.path} (${target.file})\nDone: 21 copied of 21 keys\n`,
    );
    await expectCopied(target.store, values);
  });

  it('a second run skips the identical keys and changes nothing', async () => {
    const r = await migrate(['--from', source.file, '--to', target.file, '--json']);
    expect(r.json).toEqual({ from: source.file, to: target.file, pattern: '*', total: 21, copied: 0, skipped: 21, kept: 0, replaced: 0 });
  });

  it('never overwrites a different key without --force; --merge keeps it, --force replaces it', async () => {
    const other = Buffer.from('{"bytes":"AAAA"}');
    await target.store.delete('app-0005');
    await target.store.create('app-0005', other);
    const refused = await migrate(['--from', source.file, '--to', target.file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "Error: key 'app-0005' already exists in the target with a different value; nothing was overwritten (0 copied, 5 skipped so far). Re-run with --merge to keep the target's keys, or --force to replace them\n",
    );
    expect(Buffer.from(await target.store.get('app-0005'))).toEqual(other);

    const merged = await migrate(['--from', source.file, '--to', target.file, '--merge', '--json']);
    expect(merged.json).toMatchObject({ total: 21, copied: 0, skipped: 20, kept: 1, replaced: 0 });
    expect(Buffer.from(await target.store.get('app-0005'))).toEqual(other);

    const forced = await migrate(['--from', source.file, '--to', target.file, '--force', 'app-000?', '--json']);
    expect(forced.json).toMatchObject({ pattern: 'app-000?', total: 10, copied: 0, skipped: 9, kept: 0, replaced: 1 });
    await expectCopied(target.store, values);
  });

  it('a run stopped by a conflict is resumed: the keys before it are skipped, the rest copied', async () => {
    const resumed = fsStore('resumed');
    // A conflicting key in the middle stops the first run there.
    await resumed.store.create('app-0010', Buffer.from('{"bytes":"AAAA"}'));
    const first = await migrate(['--from', source.file, '--to', resumed.file]);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(
      /^Error: key 'app-0010' already exists in the target with a different value; nothing was overwritten \(10 copied so far\)/,
    );
    expect(await listAll(resumed.store, '')).toHaveLength(11);
    // The operator decides: the target's odd key goes, and the same command is run again.
    await resumed.store.delete('app-0010');
    const second = await migrate(['--from', source.file, '--to', resumed.file, '--json']);
    expect(second.json).toMatchObject({ total: 21, copied: 11, skipped: 10 });
    await expectCopied(resumed.store, values);
  });

  it('a glob pattern selects whole names', async () => {
    const some = fsStore('some');
    const r = await migrate(['--from', source.file, '--to', some.file, 'app-001[0-4]', '--json']);
    expect(r.json).toMatchObject({ total: 5, copied: 5 });
    expect(await listAll(some.store, '')).toEqual(['app-0010', 'app-0011', 'app-0012', 'app-0013', 'app-0014']);
    const none = await migrate(['--from', source.file, '--to', some.file, 'nothing-*']);
    expect(none).toMatchObject({ code: 0, stdout: "No key matches 'nothing-*': nothing to migrate\n" });
  });

  it('usage errors (exit 2) and failures (exit 1)', async () => {
    const usage = async (args: string[]) => {
      const r = await migrate(args);
      expect(r.code).toBe(2);
      return r.stderr.split('\n')[0];
    };
    expect(await usage(['--to', target.file])).toBe('Error: --from FILE is required: the config file of the key store to copy from');
    expect(await usage(['--from', source.file])).toBe('Error: --to FILE is required: the config file of the key store to copy to');
    expect(await usage(['--from', source.file, '--to', target.file, '--force', '--merge'])).toBe(
      'Error: --force and --merge cannot be combined: --merge keeps keys the target already has, --force replaces them',
    );
    expect(await usage(['--from', source.file, '-s', '127.0.0.1:7373', '-e', 'x', '-a', 'k'])).toBe(
      'Error: --server, --enclave, --api-key: migrating to a MinIO KMS server is not supported by kes-ts; migrate to a key store with --to FILE',
    );
    expect(await usage(['--from', source.file, '--to', target.file, 'a*', 'b*'])).toMatch(/^Error: Unknown argument/);

    const memory = config('memory', ['memory: {}']);
    const mem = await migrate(['--from', source.file, '--to', memory]);
    expect(mem.code).toBe(1);
    expect(mem.stderr).toBe(
      `Error: ${memory}: the in-memory key store exists only inside one process, so there is nothing to migrate to: use a persistent key store (fs, vault, aws)\n`,
    );
    const missing = await migrate(['--from', join(dir, 'nope.yml'), '--to', target.file]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`Error: ${join(dir, 'nope.yml')}: cannot read config file: no such file\n`);
  });
});

async function bao(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baoAddr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': baoToken, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!built || !baoAddr)('kes migrate fs → OpenBao (built CLI)', () => {
  const engine = `kv-migrate-${randomBytes(4).toString('hex')}`;
  let source: ReturnType<typeof fsStore>;
  let values: Map<string, Buffer>;

  beforeAll(async () => {
    expect((await bao('POST', `sys/mounts/${engine}`, { type: 'kv', options: { version: '1' } })).status).toBe(204);
    source = fsStore('bao-source');
    values = await fill(source.store, 'key', 600);
  });
  afterAll(async () => {
    await bao('DELETE', `sys/mounts/${engine}`);
  });

  /** A Vault target under its own prefix, and a store to inspect it. */
  function vaultTarget(prefix: string): { file: string; store: KeyStore } {
    const file = config(`vault-${prefix}`, [
      'vault:',
      `  endpoint: ${baoAddr}`,
      `  engine: ${engine}`,
      `  prefix: ${prefix}`,
      '  token: ${BAO_TOKEN}',
    ]);
    const store = createVaultKeyStore({ endpoint: baoAddr, engine, prefix, token: baoToken });
    stores.push(store);
    return { file, store };
  }

  /** Waits until the target holds at least `n` keys (the migration is under way). */
  async function until(store: KeyStore, n: number): Promise<number> {
    for (let i = 0; i < 500; i++) {
      const count = (await listAll(store, '')).length;
      if (count >= n) return count;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the migration did not start');
  }

  it('killed half-way (SIGKILL) and run again: every key arrives, none twice, none torn', async () => {
    const target = vaultTarget('killed');
    const env = { BAO_TOKEN: baoToken };
    const run = runKes(['migrate', '--from', source.file, '--to', target.file], env);
    await until(target.store, 20);
    run.child.kill('SIGKILL');
    await run.exited();
    const before = (await listAll(target.store, '')).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(values.size);

    const again = await migrate(['--from', source.file, '--to', target.file, '--json'], env);
    expect(again.stderr).toBe('');
    // A create in flight at the kill may or may not have landed: either way it is counted once.
    expect(again.json.copied + again.json.skipped).toBe(values.size);
    expect(again.json.skipped).toBeGreaterThanOrEqual(before);
    expect(again.json.replaced + again.json.kept).toBe(0);
    await expectCopied(target.store, values);
  });

  it('interrupted with Ctrl-C (SIGINT): says how far it got, exit 1; the re-run finishes', async () => {
    const target = vaultTarget('interrupted');
    const env = { BAO_TOKEN: baoToken };
    const run = runKes(['migrate', '--from', source.file, '--to', target.file], env);
    await until(target.store, 20);
    run.child.kill('SIGINT');
    expect(await run.exited()).toBe(1);
    expect(run.stderr()).toMatch(
      /^Error: interrupted \(\d+ copied so far\): run the same command again to continue \(keys already copied are skipped\)\n$/,
    );
    const copied = Number(/\((\d+) copied/.exec(run.stderr())?.[1]);
    expect(copied).toBeLessThan(values.size);

    const again = await migrate(['--from', source.file, '--to', target.file, '--json'], env);
    expect(again.json).toMatchObject({ total: values.size, kept: 0, replaced: 0 });
    expect(again.json.copied + again.json.skipped).toBe(values.size);
    await expectCopied(target.store, values);
    // And back: OpenBao → fs with the same command shape.
    const back = fsStore('from-bao');
    const home = await migrate(['--from', target.file, '--to', back.file, '--json'], env);
    expect(home.json).toMatchObject({ total: values.size, copied: values.size });
    await expectCopied(back.store, values);
  });

  it('a Vault that refuses the token stops before copying, naming the store', async () => {
    const target = vaultTarget('denied');
    const r = await migrate(['--from', source.file, '--to', target.file], { BAO_TOKEN: 'not-a-token' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^Error: ${target.file}: keystore\\.vault: key store check failed: Hashicorp Vault: ${baoAddr}: .*HTTP 403`));
    expect(r.stderr).not.toContain('not-a-token');
  });
});
