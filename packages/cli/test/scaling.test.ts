// docs/scaling.md, proven: several stateless `kes server`s in front of ONE key store (the
// OpenBao dev server that test/global-setup.ts starts). The key store is the shared
// state: a key created through one server is served by the other, concurrent creates of
// one name through both have exactly one winner (K/V v2 check-and-set), and a delete
// through one server reaches the other only when the other's key cache drops the key,
// which `cache.expiry.any` bounds. Each server runs in-process (`runServer`, as `kes
// server --config FILE` does) with its own config file, cache and TLS listener.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { baoAddr, baoSkipReason, mountKv, rand, setUpAppRole, unmount } from '../../keystores/test/vault-harness.js';
import { runServer } from '../src/server/run.js';
import type { RunningServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { call } from './helpers/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-scaling-'));
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
/** `cache.expiry.any` of servers A and B: the bound on how long B may serve a key deleted through A. */
const EXPIRY_ANY_MS = 2_000;
/** How long past the expiry the test waits before it calls the bound broken (a loaded CI machine). */
const SLACK_MS = 15_000;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config file for one server of the group; only the cache differs between them. */
function writeConfig(
  name: string,
  vault: { engine: string; prefix: string; approle: string; roleId: string; secretId: string },
  cache: { any: string; unused: string },
): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    [
      'address: 127.0.0.1:0',
      `admin: {identity: ${admin.identity}}`,
      `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
      `cache: {expiry: {any: ${cache.any}, unused: ${cache.unused}}}`,
      'log: {audit: off}',
      'keystore:',
      '  vault:',
      `    endpoint: ${baoAddr}`,
      `    engine: ${vault.engine}`,
      '    version: v2',
      `    prefix: ${vault.prefix}`,
      '    approle:',
      `      engine: ${vault.approle}`,
      `      id: ${vault.roleId}`,
      `      secret: ${vault.secretId}`,
      '',
    ].join('\n'),
  );
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!baoAddr) console.warn(`[scaling test] skipped: OpenBao is not available: ${baoSkipReason}`);

describe.skipIf(!baoAddr)('several servers against one OpenBao (docs/scaling.md)', () => {
  let engine = '';
  let a: RunningServer;
  let b: RunningServer;
  let c: RunningServer;
  const started: RunningServer[] = [];
  const at = (s: RunningServer) => ({
    generate: (key: string) => call(s.url, 'POST', `/v1/key/generate/${key}`, adminCert, '{}'),
    decrypt: (key: string, ciphertext: string) => call(s.url, 'POST', `/v1/key/decrypt/${key}`, adminCert, JSON.stringify({ ciphertext })),
    create: (key: string) => call(s.url, 'POST', `/v1/key/create/${key}`, adminCert),
    remove: (key: string) => call(s.url, 'DELETE', `/v1/key/delete/${key}`, adminCert),
    list: async (prefix: string) => {
      const r = await call(s.url, 'GET', `/v1/key/list/${prefix}*`, adminCert);
      expect(r.status).toBe(200);
      return (JSON.parse(r.body) as { names: string[] }).names;
    },
  });

  beforeAll(async () => {
    const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.key'), cert.privateKeyPem);
    writeFileSync(join(dir, 'server.cert'), cert.certificatePem);
    engine = await mountKv('v2');
    const role = await setUpAppRole({ ttl: '1h', maxTtl: '2h' });
    const vault = { engine, prefix: `scaling-${rand()}`, approle: role.engine, roleId: role.roleId, secretId: role.secretId };
    const short = { any: `${EXPIRY_ANY_MS / 1000}s`, unused: '1s' };
    for (const [name, cache] of [
      ['a', short],
      ['b', short],
      ['c', { any: '1h', unused: '1h' }],
    ] as const) {
      const t = testContext();
      const s = await runServer({ config: writeConfig(name, vault, cache) }, t.ctx);
      started.push(s);
    }
    [a, b, c] = started as [RunningServer, RunningServer, RunningServer];
    expect(new Set(started.map((s) => s.port)).size).toBe(3);
  });

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    if (engine) await unmount(engine);
  });

  it('a key created through one server is served by the other, with the same key material', async () => {
    expect((await at(a).create('shared')).status).toBe(200);
    const dek = await at(b).generate('shared');
    expect(dek.status).toBe(200);
    const { plaintext, ciphertext } = JSON.parse(dek.body) as { plaintext: string; ciphertext: string };
    // A data key sealed by B opens on A: both hold the one key from the key store.
    const opened = await at(a).decrypt('shared', ciphertext);
    expect(opened.status).toBe(200);
    expect(JSON.parse(opened.body)).toEqual({ plaintext });
    expect(await at(c).list('shared')).toEqual(['shared']);
  });

  it('concurrent creates of one name through different servers: exactly one wins', async () => {
    const names = Array.from({ length: 5 }, (_, i) => `race-${i}`);
    for (const name of names) {
      const replies = await Promise.all([at(a).create(name), at(b).create(name), at(c).create(name)]);
      const codes = replies.map((r) => r.status).sort();
      expect(codes).toEqual([200, 400, 400]);
      for (const r of replies.filter((r) => r.status === 400)) expect(JSON.parse(r.body)).toEqual({ message: 'key already exists' });
    }
  });

  it('a delete through one server stops the other within its cache.expiry.any', async () => {
    expect((await at(a).create('short-lived')).status).toBe(200);
    // B reads the key once: from now on it serves it from its cache.
    expect((await at(b).generate('short-lived')).status).toBe(200);
    expect((await at(a).remove('short-lived')).status).toBe(200);
    const deletedAt = Date.now();
    // The server that deleted it knows at once.
    expect((await at(a).generate('short-lived')).status).toBe(404);
    // B keeps the key in use (every 100 ms), so only the `any` sweep can drop it.
    let last = await at(b).generate('short-lived');
    while (last.status === 200 && Date.now() - deletedAt < EXPIRY_ANY_MS + SLACK_MS) {
      await sleep(100);
      last = await at(b).generate('short-lived');
    }
    const took = Date.now() - deletedAt;
    expect(last.status).toBe(404);
    expect(JSON.parse(last.body)).toEqual({ message: 'key does not exist' });
    expect(took).toBeLessThan(EXPIRY_ANY_MS + SLACK_MS);
    // And it stays gone: the next read went to the key store.
    expect((await at(b).generate('short-lived')).status).toBe(404);
  });

  it('until its cache drops the key, another server keeps serving a deleted key (why the expiry matters)', async () => {
    expect((await at(a).create('stale')).status).toBe(200);
    const first = await at(c).generate('stale');
    expect(first.status).toBe(200);
    expect((await at(a).remove('stale')).status).toBe(200);
    // C (expiry 1h) has the key cached: generate and decrypt still work there ...
    const again = await at(c).generate('stale');
    expect(again.status).toBe(200);
    const { ciphertext } = JSON.parse(first.body) as { ciphertext: string };
    expect((await at(c).decrypt('stale', ciphertext)).status).toBe(200);
    // ... while the listing, which always asks the key store, no longer shows it.
    expect(await at(c).list('stale')).toEqual([]);
    expect((await at(b).generate('stale')).status).toBe(404);
  });
});
