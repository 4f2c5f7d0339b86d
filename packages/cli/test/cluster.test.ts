// End-to-end: `kes server --workers 2` (the BUILT CLI, needs `pnpm build`) is one server:
// load spread over both workers, aggregated status and metrics, one audit stream for all,
// reloads on every worker, a killed worker replaced, SIGTERM draining all.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { call, killAll, runKes, runKesOnce } from './helpers/spawn.js';
import type { KesProcess } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-cluster-'));
const serverKey = join(dir, 'server.key');
const serverCert = join(dir, 'server.cert');
const config = join(dir, 'kes.yml');
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const app = ApiKey.generate();
const appCert = app.createCertificate();

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(allow: string, extra = ''): void {
  writeFileSync(
    config,
    [
      'address: 127.0.0.1:0',
      `admin: {identity: ${admin.identity}}`,
      `tls: {key: ${serverKey}, cert: ${serverCert}}`,
      extra,
      'policy:',
      '  app:',
      `    allow: [${allow}]`,
      `    identities: [${app.identity}]`,
      `keystore: {fs: {path: ${join(dir, 'keys')}}}`,
      '',
    ].join('\n'),
  );
}

interface Status {
  workers: { pid: number; requests: number }[];
  mem_heap_used: number;
}

/** Records (JSON log lines) matching `pred`, so far. */
function records(kes: KesProcess, pred: (r: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  return `${kes.stdout()}\n${kes.stderr()}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter(pred);
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!built)('kes server --workers 2 (built CLI)', () => {
  let kes: KesProcess;
  let url = '';
  const status = async (): Promise<Status> => JSON.parse((await call(url, 'GET', '/v1/status', adminCert)).body) as Status;
  /** `n` requests, each on a fresh connection (node:cluster hands connections out round-robin). */
  const many = async (n: number, method: string, path: (i: number) => string, who = adminCert): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await call(url, method, path(i), who, method === 'PUT' ? '{}' : undefined)).status);
    return out;
  };

  beforeAll(async () => {
    const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(serverKey, cert.privateKeyPem);
    writeFileSync(serverCert, cert.certificatePem);
    writeConfig('/v1/key/describe/*');
    kes = runKes(['server', '--config', config, '--workers', '2']);
    const rec = await kes.waitFor((r) => r.msg === 'server started');
    expect(rec.workers).toBe(2);
    url = `https://127.0.0.1:${Number(rec.port)}`;
  });

  it('spreads requests over both workers; status, metrics and the audit stream cover all of them', async () => {
    const pids = records(kes, (r) => r.msg === 'worker started').map((r) => r.pid);
    expect(new Set(pids).size).toBe(2);
    // Each worker runs with the young-generation cap (docs/performance.md).
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=4');
    expect((await call(url, 'POST', '/v1/key/create/k1', adminCert)).status).toBe(200);

    // One audit subscriber, on whichever worker answers it.
    const lines: string[] = [];
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(new URL('/v1/log/audit', url), {
        cert: adminCert.certificatePem,
        key: adminCert.privateKeyPem,
        rejectUnauthorized: false,
        agent: false,
      });
      req.on('response', resolve).on('error', reject).end();
    });
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
    });
    // The other worker learns of the subscriber through the primary.
    await new Promise((r) => setTimeout(r, 300));

    const codes = await many(20, 'PUT', () => '/v1/key/generate/k1');
    expect(codes).toEqual(Array(20).fill(200));

    await until(() => lines.filter((l) => l.includes('/v1/key/generate/k1')).length === 20);
    stream.destroy();

    const s = await status();
    expect(s.workers.map((w) => w.pid).sort()).toEqual([...pids].sort());
    for (const w of s.workers) expect(w.requests).toBeGreaterThan(0);
    expect(s.workers.reduce((n, w) => n + w.requests, 0)).toBe(21);

    const metrics = (await call(url, 'GET', '/v1/metrics', adminCert)).body;
    expect(metrics).toContain('kes_http_request_success{code="200"} 21\n');
    expect(metrics).toMatch(/^kes_system_num_cpu \d+$/m);
    expect(metrics).toContain('kes_http_response_time_count 21\n');
  });

  it('SIGHUP reloads every worker; a broken file is rejected once and the old config keeps serving', async () => {
    expect(await many(4, 'POST', (i) => `/v1/key/create/app-${i}`, appCert)).toEqual([403, 403, 403, 403]);
    writeConfig('/v1/key/create/app-*');
    kes.child.kill('SIGHUP');
    const done = await kes.waitFor((r) => r.msg === 'configuration reloaded');
    expect(done.workers).toBe(2);
    expect(await many(6, 'POST', (i) => `/v1/key/create/app-${i}`, appCert)).toEqual(Array(6).fill(200));

    writeConfig('/v1/key/create/app-*', 'cache: {expiry: {any: soon}}');
    kes.child.kill('SIGHUP');
    const failed = await kes.waitFor((r) => r.msg === 'reload failed, keeping the current configuration');
    expect(failed.problems).toEqual([`${config}:4: cache.expiry.any: 'soon' is not a duration (use e.g. 30s, 5m, 1h30m)`]);
    await new Promise((r) => setTimeout(r, 200));
    expect(records(kes, (r) => r.msg === 'reload failed, keeping the current configuration')).toHaveLength(1);
    expect(await many(4, 'POST', (i) => `/v1/key/create/app-b${i}`, appCert)).toEqual(Array(4).fill(200));
    writeConfig('/v1/key/create/app-*');
  });

  it('replaces a killed worker and keeps serving', async () => {
    const [victim, survivor] = (await status()).workers.map((w) => w.pid);
    process.kill(Number(victim), 'SIGKILL');
    const exited = await kes.waitFor((r) => r.msg === 'worker exited; starting a replacement');
    expect(exited).toMatchObject({ pid: victim, signal: 'SIGKILL' });
    await until(() => records(kes, (r) => r.msg === 'worker started').length === 3);
    expect(await many(6, 'PUT', () => '/v1/key/generate/k1')).toEqual(Array(6).fill(200));
    const pids = (await status()).workers.map((w) => w.pid);
    expect(pids).toHaveLength(2);
    expect(pids).toContain(survivor);
    expect(pids).not.toContain(victim);
  });

  it('SIGTERM drains every worker and exits 0', async () => {
    kes.child.kill('SIGTERM');
    expect(await kes.exited()).toBe(0);
    expect(records(kes, (r) => r.msg === 'server stopped')).toHaveLength(1);
  });

  it('checks --workers and workers: (and refuses several workers on the in-memory store)', async () => {
    const zero = await runKesOnce(['server', '--config', config, '--workers', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--workers must be an integer from 1 to 256 (1 = a single process)');
    const dev = await runKesOnce(['server', '--dev', '--workers', '2']);
    expect(dev.code).toBe(2);
    expect(dev.stderr.split('\n')[0]).toBe(
      'Error: --workers 2: the in-memory key store cannot be shared between worker processes (each would hold different keys): use 1 or a persistent key store',
    );
    writeConfig('/v1/key/create/app-*', 'workers: two');
    const bad = await runKesOnce(['server', '--config', config]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`Error: ${config}:4: workers: 'two' must be an integer from 1 to 256 (1 = a single process)\n`);
  });

  it('workers: 1 in the config runs one process (no workers list in /v1/status)', async () => {
    writeConfig('/v1/key/create/app-*', 'workers: 1');
    const one = runKes(['server', '--config', config]);
    const rec = await one.waitFor((r) => r.msg === 'server started');
    expect(rec.workers).toBeUndefined();
    const body = JSON.parse((await call(`https://127.0.0.1:${Number(rec.port)}`, 'GET', '/v1/status', adminCert)).body) as Record<string, unknown>;
    expect(body.workers).toBeUndefined();
    one.child.kill('SIGTERM');
    expect(await one.exited()).toBe(0);
  });
});
