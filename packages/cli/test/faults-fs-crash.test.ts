// Fault, end to end (issue 13, "Faults"): `kes server` (the BUILT CLI) on the fs key store is
// SIGKILLed while 1,000 imports run concurrently through the API (100 connections, all 1,000
// requests issued at once). After a restart on the same directory:
// - every key whose import was acknowledged (200) is listed, describes, and a ciphertext
//   the server makes with it opens locally with the bytes the client imported: the key
//   stored is complete and is the one that was acknowledged;
// - every other key file in the directory is complete too (the server reads it);
// - no temporary file of a killed create is left in the key directory.
// packages/keystores/test/fs-crash.test.ts covers the store alone (a writer process killed
// mid-write); this runs the whole path: TLS, handler, store, fsync, link.
// `pnpm test:faults` only (KES_FAULTS=1): it needs the build and takes a while.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, MasterKey, createSelfSignedCertificate } from '@kes/core';
import { type FaultClient, faultClient, until } from '../../server/test/helpers/faults.js';
import { killAll, runKes } from './helpers/spawn.js';
import type { KesProcess } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-faults-fs-'));
const keyDir = join(dir, 'keys');
const config = join(dir, 'kes.yml');
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const CREATES = 1_000;
/** The server is killed once this many imports were acknowledged (the rest are in flight or queued). */
const KILL_AFTER = 300;

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<{ kes: KesProcess; url: string }> {
  const kes = runKes(['server', '--config', config]);
  const rec = await kes.waitFor((r) => r.msg === 'server started', 60_000);
  return { kes, url: `https://127.0.0.1:${Number(rec.port)}` };
}

describe.skipIf(!built || !process.env.KES_FAULTS)('SIGKILL of `kes server` (fs store) during 1,000 concurrent creates', () => {
  it('every acknowledged key survives intact, and no temp file is left', async () => {
    const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.key'), cert.privateKeyPem);
    writeFileSync(join(dir, 'server.cert'), cert.certificatePem);
    writeFileSync(
      config,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${admin.identity}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        'log: {audit: off}',
        `keystore: {fs: {path: ${keyDir}}}`,
        '',
      ].join('\n'),
    );

    const first = await start();
    const client: FaultClient = faultClient(first.url, adminCert, 100);
    const bytes = new Map<string, Buffer>();
    const acknowledged: string[] = [];
    const outcomes = { ok: 0, failed: 0 };
    const all = Array.from({ length: CREATES }, async (_, i) => {
      const name = `crash-${i}`;
      const key = randomBytes(32);
      bytes.set(name, key);
      const r = await client.call('PUT', `/v1/key/import/${name}`, JSON.stringify({ key: key.toString('base64'), cipher: 'AES256' }));
      if (r.status === 200) {
        acknowledged.push(name);
        outcomes.ok++;
        if (acknowledged.length === KILL_AFTER) process.kill(first.kes.child.pid!, 'SIGKILL');
      } else {
        outcomes.failed++;
      }
    });
    await Promise.all(all);
    client.close();
    await first.kes.exited();
    expect(first.kes.child.signalCode).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // The kill happened mid-run: some imports never got an answer.
    expect(outcomes.failed).toBeGreaterThan(0);
    const leftBehind = readdirSync(keyDir).filter((f) => f.startsWith('.tmp-')).length;

    const second = await start();
    const c2 = faultClient(second.url, adminCert, 16);
    try {
      // The listing (pages of up to 1,000 names) holds every acknowledged key.
      const listed: string[] = [];
      let continueAt = '';
      do {
        const r = await c2.call('GET', `/v1/key/list/crash-*${continueAt ? `?continue_at=${continueAt}` : ''}`);
        expect(r.status).toBe(200);
        const page = JSON.parse(r.body) as { names: string[]; continue_at: string };
        listed.push(...page.names);
        continueAt = page.continue_at;
      } while (continueAt);
      const present = new Set(listed);
      for (const name of acknowledged) expect(present.has(name), name).toBe(true);

      // Every key on disk, acknowledged or not, is complete: the server parses it, and what
      // it encrypts opens with the bytes the client sent.
      for (const name of listed) {
        expect((await c2.call('GET', `/v1/key/describe/${name}`)).status, name).toBe(200);
        const enc = await c2.call('PUT', `/v1/key/encrypt/${name}`, JSON.stringify({ plaintext: Buffer.from(name).toString('base64') }));
        expect(enc.status, name).toBe(200);
        const ct = Buffer.from((JSON.parse(enc.body) as { ciphertext: string }).ciphertext, 'base64');
        const local = MasterKey.import(bytes.get(name)!, 'AES256');
        expect(Buffer.from(local.decrypt(ct)).toString(), name).toBe(name);
        local.destroy();
      }
      // The restarted store removed the temp files of the killed creates on first use.
      await until(() => readdirSync(keyDir).every((f) => !f.startsWith('.')), 10_000, 'temp files removed');
      expect(readdirSync(keyDir).sort()).toEqual([...listed].sort());
      console.log(
        `[faults-fs-crash] ${JSON.stringify({ requests: CREATES, acknowledged: acknowledged.length, unanswered: outcomes.failed, onDisk: listed.length, tempFilesAfterKill: leftBehind, lost: 0 })}`,
      );
    } finally {
      c2.close();
      second.kes.child.kill('SIGTERM');
      await second.kes.exited();
    }
  }, 300_000);
});
