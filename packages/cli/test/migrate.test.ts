// `kes migrate` end to end: the BUILT CLI copies keys between real key stores (a temp
// directory, and the OpenBao dev server the global test setup starts), including runs
// that stop half-way (a conflicting key, SIGINT, SIGKILL) and are then resumed; and, from
// src (in-process), the version records of rotated keys: memory → fs, fs → fs, and a
// target that keeps no version records.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '@kes/cli';
import { MasterKey, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { CliFailure } from '../src/internal/failure.js';
import { migrateKeys, newCounts } from '../src/migrate/run.js';
import type { MigrateKeysOptions } from '../src/migrate/run.js';
import { testContext } from './helpers/context.js';
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

/** `kes migrate …` in-process from src (no build needed); `json` is stdout parsed when `--json` was given. */
async function migrateHere(args: string[], env: Record<string, string> = {}) {
  const t = testContext({ env });
  const code = await main(['migrate', ...args], t.ctx);
  return { code, stdout: t.stdout(), stderr: t.stderr(), json: args.includes('--json') && t.stdout() ? JSON.parse(t.stdout()) : undefined };
}

/** Counts of a run with no version records at all. */
const noVersions = { total: 0, copied: 0, skipped: 0, kept: 0, replaced: 0, removed: 0 };

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
    expect(r.json).toEqual({
      from: source.file,
      to: target.file,
      pattern: '*',
      total: 21,
      copied: 0,
      skipped: 21,
      kept: 0,
      replaced: 0,
      failed: 0,
      versions: noVersions,
    });
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

/**
 * A rotated key as the server stores it: version 1 under its name, and opaque version
 * records `2`…`latest` plus a settings record `c1` (the values are bytes to the stores).
 */
async function rotated(store: KeyStore, name: string, latest: number): Promise<Map<string, Buffer>> {
  const key = MasterKey.generate();
  await store.create(name, key.encode());
  key.destroy();
  const records = new Map<string, Buffer>();
  for (let v = 2; v <= latest; v++) records.set(String(v), Buffer.from(JSON.stringify({ version: v, bytes: randomBytes(32).toString('base64') })));
  records.set('c1', Buffer.from('{"min_decryption_version":"1","min_encryption_version":"0"}'));
  for (const [id, value] of records) await store.versions?.create(name, id, value);
  return records;
}

/** The version records of `name` in `store`, id → bytes. */
async function recordsOf(store: KeyStore, name: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const id of (await store.versions?.list(name)) ?? []) out.set(id, Buffer.from((await store.versions?.get(name, id)) ?? []));
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const sorted = (m: Map<string, Buffer>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

/** The same store without `versions`: a key store that cannot keep version records. */
function withoutVersions(store: KeyStore): KeyStore {
  return {
    kind: `${store.kind} (no versions)`,
    create: (n, v, o) => store.create(n, v, o),
    get: (n, o) => store.get(n, o),
    delete: (n, o) => store.delete(n, o),
    list: (p, o) => store.list(p, o),
    status: (o) => store.status(o),
    close: () => store.close(),
  };
}

describe('kes migrate copies the version records of rotated keys (from src)', () => {
  /** Runs migrateKeys over every key of `source`; returns the counts and the per-key failure lines. */
  async function copyAll(source: KeyStore, target: KeyStore, mode: Pick<MigrateKeysOptions, 'merge' | 'force'> = {}) {
    const counts = newCounts();
    const failures: string[] = [];
    const names = await listAll(source, '');
    counts.total = names.length;
    await migrateKeys(source, target, names, counts, { signal: new AbortController().signal, ...mode, onFailure: (m) => failures.push(m) });
    return { counts, failures };
  }

  it('memory → fs: every record byte for byte after its key; a second run skips them all', async () => {
    const source = createMemoryKeyStore();
    stores.push(source);
    const records = await rotated(source, 'rot', 3);
    await source.create('plain', MasterKey.generate().encode());
    const target = fsStore('versions-mem-target');
    const first = await copyAll(source, target.store);
    expect(first).toEqual({
      counts: { total: 2, copied: 2, skipped: 0, kept: 0, replaced: 0, failed: 0, versions: { ...noVersions, total: 3, copied: 3 } },
      failures: [],
    });
    expect(await recordsOf(target.store, 'rot')).toEqual(sorted(records));
    expect(await recordsOf(target.store, 'plain')).toEqual(new Map());
    expect(Buffer.from(await target.store.get('rot'))).toEqual(Buffer.from(await source.get('rot')));
    // The records stay out of the key listing (upstream KES reads that directory).
    expect(await listAll(target.store, '')).toEqual(['plain', 'rot']);

    const again = await copyAll(source, target.store);
    expect(again.counts).toMatchObject({ copied: 0, skipped: 2, versions: { ...noVersions, total: 3, skipped: 3 } });
  });

  it('a record that differs in the target: stop by default, kept with --merge, replaced with --force', async () => {
    const source = createMemoryKeyStore();
    stores.push(source);
    const records = await rotated(source, 'rot', 3);
    const target = fsStore('versions-conflict');
    await target.store.create('rot', await source.get('rot'));
    const other = Buffer.from('{"other":true}');
    await target.store.versions?.create('rot', '3', other);

    let stop: unknown;
    try {
      await copyAll(source, target.store);
    } catch (e) {
      stop = e;
    }
    expect(stop).toBeInstanceOf(CliFailure);
    expect((stop as Error).message).toBe(
      "version record '3' of key 'rot' already exists in the target with a different value; nothing was overwritten (0 copied, 1 skipped so far). Re-run with --merge to keep the target's records, or --force to replace them",
    );
    // Versions are copied in order, so the one before the conflict is there, the settings record not yet.
    expect([...(await recordsOf(target.store, 'rot')).keys()]).toEqual(['2', '3']);

    const merged = await copyAll(source, target.store, { merge: true });
    expect(merged.counts.versions).toEqual({ ...noVersions, total: 3, copied: 1, skipped: 1, kept: 1 });
    expect((await recordsOf(target.store, 'rot')).get('3')).toEqual(other);

    const forced = await copyAll(source, target.store, { force: true });
    expect(forced.counts.versions).toEqual({ ...noVersions, total: 3, skipped: 2, replaced: 1 });
    expect(await recordsOf(target.store, 'rot')).toEqual(sorted(records));
  });

  it('--force replacing a key gives it exactly the source’s records; --merge keeping one leaves the target’s alone', async () => {
    const source = createMemoryKeyStore();
    stores.push(source);
    const records = await rotated(source, 'rot', 2);
    const make = async (name: string) => {
      const t = fsStore(name);
      // A different key of the same name, rotated further in the target.
      await rotated(t.store, 'rot', 4);
      return t;
    };
    const kept = await make('versions-merge');
    const before = await recordsOf(kept.store, 'rot');
    const merged = await copyAll(source, kept.store, { merge: true });
    expect(merged.counts).toMatchObject({ kept: 1, versions: { ...noVersions, total: 2, kept: 2 } });
    expect(await recordsOf(kept.store, 'rot')).toEqual(before);

    const replaced = await make('versions-force');
    const forced = await copyAll(source, replaced.store, { force: true });
    // Version 2 differs (replaced), the settings record `c1` is the same (skipped), versions 3 and 4 were the old key's (removed).
    expect(forced.counts).toMatchObject({ replaced: 1, versions: { ...noVersions, total: 2, replaced: 1, skipped: 1, removed: 2 } });
    expect(Buffer.from(await replaced.store.get('rot'))).toEqual(Buffer.from(await source.get('rot')));
    expect(await recordsOf(replaced.store, 'rot')).toEqual(sorted(records));
  });

  it('a target without version records: a rotated key fails (reported, counted, not copied), the others are copied', async () => {
    const source = createMemoryKeyStore();
    stores.push(source);
    await rotated(source, 'rot', 3);
    await source.create('plain', MasterKey.generate().encode());
    const target = fsStore('versions-none');
    const { counts, failures } = await copyAll(source, withoutVersions(target.store));
    expect(counts).toEqual({ total: 2, copied: 1, skipped: 0, kept: 0, replaced: 0, failed: 1, versions: { ...noVersions, total: 3 } });
    expect(failures).toEqual([
      "key 'rot' was not copied: it was rotated (3 version records) and the target key store keeps no version records, so data encrypted with its later versions could not be decrypted there",
    ]);
    expect(await listAll(target.store, '')).toEqual(['plain']);
  });

  it('fs → fs with the CLI: counts, summary and JSON include the version records', async () => {
    const source = fsStore('versions-fs-source');
    const records = await rotated(source.store, 'rot-a', 3);
    await rotated(source.store, 'rot-b', 2);
    await source.store.create('plain', MasterKey.generate().encode());
    const target = fsStore('versions-fs-target');

    const r = await migrateHere(['--from', source.file, '--to', target.file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toBe('Done: 3 copied of 3 keys; version records: 5 copied of 5');
    expect(await recordsOf(target.store, 'rot-a')).toEqual(sorted(records));

    const again = await migrateHere(['--from', source.file, '--to', target.file, 'rot-*', '--json']);
    expect(again.json).toEqual({
      from: source.file,
      to: target.file,
      pattern: 'rot-*',
      total: 2,
      copied: 0,
      skipped: 2,
      kept: 0,
      replaced: 0,
      failed: 0,
      versions: { ...noVersions, total: 5, skipped: 5 },
    });
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

describe.skipIf(!baoAddr)('kes migrate: rotated keys and a Vault target without version records (from src)', () => {
  const engine = `kv-noversions-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    expect((await bao('POST', `sys/mounts/${engine}`, { type: 'kv', options: { version: '1' } })).status).toBe(204);
  });
  afterAll(async () => {
    await bao('DELETE', `sys/mounts/${engine}`);
  });

  it('the rotated key is reported and not copied, the others are; exit 1 after the summary', async () => {
    const source = fsStore('to-bao-root');
    await rotated(source.store, 'rot', 2);
    await source.store.create('plain', MasterKey.generate().encode());
    // Keys at the engine root: no safe place for version records (upstream lists the root), so the store has none.
    const file = config('vault-root', ['vault:', `  endpoint: ${baoAddr}`, `  engine: ${engine}`, '  token: ${BAO_TOKEN}']);
    const env = { BAO_TOKEN: baoToken };
    const failed =
      "Error: key 'rot' was not copied: it was rotated (2 version records) and the target key store keeps no version records, so data encrypted with its later versions could not be decrypted there\n" +
      "Error: 1 rotated key was not copied (see above): migrate it to a key store that keeps version records (see 'Key versions' in docs/keystores)\n";

    const text = await migrateHere(['--from', source.file, '--to', file], env);
    expect(text.code).toBe(1);
    expect(text.stderr).toBe(failed);
    expect(text.stdout.split('\n')[1]).toBe('Done: 1 copied, 1 failed of 2 keys; version records: 0 copied of 2');

    const json = await migrateHere(['--from', source.file, '--to', file, '--json'], env);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe(failed);
    expect(json.json).toMatchObject({ total: 2, copied: 0, skipped: 1, failed: 1, versions: { ...noVersions, total: 2 } });
    const target = createVaultKeyStore({ endpoint: baoAddr, engine, token: baoToken });
    stores.push(target);
    expect(target.versions).toBeUndefined();
    expect(await listAll(target, '')).toEqual(['plain']);
  });
});
