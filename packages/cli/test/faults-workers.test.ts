// Fault, end to end (issue 13, "Faults"): `kes server --workers 2` (the BUILT CLI, fs store)
// under load from 16 keep-alive clients (create, generate, decrypt); one worker is SIGKILLed.
// - the primary replaces it (log records `worker exited; starting a replacement`, then a
//   third `worker started`), and `/v1/status` lists two live workers again;
// - requests in flight on the killed worker may fail, but only as a torn connection (no
//   HTTP status), at most one per client, and only around the kill; every other request
//   succeeds, and every HTTP answer is a 200;
// - no key is lost: keys created before, during (acknowledged) and after the kill are all
//   listed and usable.
// packages/cli/test/cluster.test.ts checks the replacement without load.
// `pnpm test:faults` only (KES_FAULTS=1).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { type CallResult, faultClient, sleep, until } from '../../server/test/helpers/faults.js';
import { killAll, runKes } from './helpers/spawn.js';
import type { KesProcess } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-faults-workers-'));
const config = join(dir, 'kes.yml');
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const CLIENTS = 16;

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function records(kes: KesProcess, msg: string): Record<string, unknown>[] {
  return `${kes.stdout()}\n${kes.stderr()}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === msg);
}

describe.skipIf(!built || !process.env.KES_FAULTS)('kes server --workers 2: a worker killed under load', () => {
  it('is replaced; only requests in flight on it fail; no key is lost', async () => {
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
        `keystore: {fs: {path: ${join(dir, 'keys')}}}`,
        '',
      ].join('\n'),
    );
    const kes = runKes(['server', '--config', config, '--workers', '2']);
    const rec = await kes.waitFor((r) => r.msg === 'server started', 60_000);
    const url = `https://127.0.0.1:${Number(rec.port)}`;
    const client = faultClient(url, adminCert, CLIENTS);
    const status = async (): Promise<{ workers: { pid: number }[] }> =>
      JSON.parse((await client.call('GET', '/v1/status', undefined, { fresh: true })).body);

    try {
      const before = Array.from({ length: 50 }, (_, i) => `before-${i}`);
      for (const k of before) expect((await client.call('PUT', `/v1/key/create/${k}`)).status).toBe(200);

      let stop = false;
      const acknowledged: string[] = [];
      const results: { at: number; what: string; r: CallResult }[] = [];
      const loops = Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; !stop; i++) {
          const name = `during-${c}-${i}`;
          const created = await client.call('PUT', `/v1/key/create/${name}`);
          results.push({ at: performance.now(), what: `create ${name}`, r: created });
          if (created.status === 200) acknowledged.push(name);
          const gen = await client.call('PUT', `/v1/key/generate/${before[i % before.length]}`, '{}');
          results.push({ at: performance.now(), what: 'generate', r: gen });
          if (gen.status === 200) {
            const { ciphertext } = JSON.parse(gen.body) as { ciphertext: string };
            const dec = await client.call('PUT', `/v1/key/decrypt/${before[i % before.length]}`, JSON.stringify({ ciphertext }));
            results.push({ at: performance.now(), what: 'decrypt', r: dec });
          }
        }
      });

      await sleep(2_000);
      const [victim, survivor] = (await status()).workers.map((w) => w.pid);
      const killedAt = performance.now();
      process.kill(Number(victim), 'SIGKILL');
      const exited = await kes.waitFor((r) => r.msg === 'worker exited; starting a replacement', 30_000);
      expect(exited).toMatchObject({ pid: victim, signal: 'SIGKILL' });
      await until(() => records(kes, 'worker started').length === 3, 30_000, 'replacement worker');
      const replacedMs = performance.now() - killedAt;
      // Keep the load on the two workers for a while after the replacement.
      await sleep(3_000);
      stop = true;
      await Promise.all(loops);

      const pids = (await status()).workers.map((w) => w.pid);
      expect(pids).toHaveLength(2);
      expect(pids).toContain(survivor);
      expect(pids).not.toContain(victim);

      const failed = results.filter((e) => e.r.status !== 200);
      // Every HTTP answer was a 200: a failure is a connection the dead worker took down.
      for (const f of failed) expect(f.r.status, `${f.what}: ${f.r.body}`).toBe(0);
      expect(failed.length).toBeLessThanOrEqual(CLIENTS);
      for (const f of failed) expect(f.at).toBeGreaterThanOrEqual(killedAt);

      const after = Array.from({ length: 20 }, (_, i) => `after-${i}`);
      for (const k of after) expect((await client.call('PUT', `/v1/key/create/${k}`)).status).toBe(200);

      const listed = new Set<string>();
      let continueAt = '';
      do {
        const r = await client.call('GET', `/v1/key/list/*${continueAt ? `?continue_at=${continueAt}` : ''}`);
        expect(r.status).toBe(200);
        const page = JSON.parse(r.body) as { names: string[]; continue_at: string };
        for (const n of page.names) listed.add(n);
        continueAt = page.continue_at;
      } while (continueAt);
      const expected = [...before, ...acknowledged, ...after];
      const lost = expected.filter((k) => !listed.has(k));
      expect(lost).toEqual([]);
      for (const k of [...acknowledged.slice(-20), ...after]) expect((await client.call('GET', `/v1/key/describe/${k}`)).status).toBe(200);
      console.log(
        `[faults-workers] ${JSON.stringify({ requests: results.length, failedInFlight: failed.length, keysChecked: expected.length, lost: lost.length, replacedMs: Math.round(replacedMs) })}`,
      );
    } finally {
      client.close();
      kes.child.kill('SIGTERM');
      await kes.exited();
    }
  }, 300_000);
});
