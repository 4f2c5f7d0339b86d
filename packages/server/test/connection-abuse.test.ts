// Connection abuse (issue 13, hostile input): 5,000 abusive connections held at once by a
// child process (idle after the handshake, trickling headers, trickling a body, half-open
// handshakes, pipelining requests and never reading the responses), while a well-behaved
// client keeps using the server. Its p99 latency must stay within 2x its normal p99 (or 5 ms
// above it, for scheduler noise at sub-millisecond latencies), measured in the same test
// before and after the abuse, and the server's memory must stay bounded and
// come back down once the abusers are gone. Figures are printed (see docs/reliability.md).
//
// The limits are raised (headers/handshake 60 s, route timeout of encrypt 120 s) so that all
// 5,000 connections stay open during the measurement; with the defaults (5 s, 15 s) the server
// closes them sooner, which e2e-connection-limits.test.ts tests.
import { execFileSync, fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { RawConnection } from './helpers/raw-http.js';
import { createAgent, createTestPki, credentials, request } from './helpers/tls-client.js';

const COUNTS = { idle: 1_500, trickleHeaders: 1_000, trickleBody: 500, halfOpen: 1_000, noRead: 1_000 };
const TOTAL = Object.values(COUNTS).reduce((a, b) => a + b, 0);
/**
 * Absolute slack of the latency bound. On a quiet machine the normal p99 is under a
 * millisecond, and other test files running on the same two cores move single rounds by a
 * few ms (seen: rounds of 0.5 and 3.2 ms under the same load), which "2x" alone turns into
 * failures. Starvation by the abusers shows as tens or hundreds of ms, far beyond this.
 */
const NOISE_MS = 5;
/** Latency samples: ROUNDS rounds of REQUESTS sequential requests; the figure is the median of the rounds' p99. */
const ROUNDS = 7;
const REQUESTS = 100;

const pki = createTestPki();
const adminKey = ApiKey.generate();
const admin = { ...adminKey.createCertificate(), identity: adminKey.identity };
const user = createSelfSignedCertificate({ keyType: 'ecdsa-p256' });
const abuser = createSelfSignedCertificate({ keyType: 'ed25519' });

let server: KesServer;

beforeAll(async () => {
  server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    log: { error: 'off', audit: 'off' },
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    limits: { headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 },
    api: { '/v1/key/encrypt/': { timeoutMs: 120_000 } },
    policies: {
      user: { allow: ['/v1/key/encrypt/*', '/v1/key/decrypt/*'], identities: [user.identity] },
      abuser: { allow: ['/v1/key/encrypt/*', '/v1/api'], identities: [abuser.identity] },
    },
    keys: [{ name: 'k' }],
  });
  await server.listen(0, '127.0.0.1');
});

afterAll(() => server.close({ timeoutMs: 2_000 }));

/** A collectable heap: `gc()` without --expose-gc on the command line. */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function memory(): { rss: number; heap: number } {
  collect();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** Median over ROUNDS of the p99 of REQUESTS sequential encrypt requests on one keep-alive connection. */
async function p99(): Promise<{ p99: number; rounds: number[] }> {
  const creds = credentials(pki, user);
  const agent = createAgent(creds);
  const rounds: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = performance.now();
        const res = await request(server.url, creds, { method: 'PUT', path: '/v1/key/encrypt/k', body: '{"plaintext":"aGVsbG8="}', agent });
        times.push(performance.now() - t);
        expect(res.status).toBe(200);
      }
      times.sort((a, b) => a - b);
      rounds.push(times[Math.ceil(0.99 * times.length) - 1] as number);
    }
  } finally {
    agent.destroy();
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  return { p99: sorted[Math.floor(sorted.length / 2)] as number, rounds };
}

function send(child: ChildProcess, msg: object): void {
  child.send(msg);
}

function next<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`abuser: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: { type: string; message?: string }): void => {
      if (m.type === 'progress' && process.env.KES_ABUSE_VERBOSE) console.log('abuser', m);
      if (m.type === 'error') reject(new Error(`abuser: ${m.message}`));
      if (m.type !== type) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
  });
}

describe('connection abuse', () => {
  it(`${TOTAL} idle, trickling, half-open and never-reading connections: a well-behaved client within 2x its p99, memory bounded`, {
    timeout: 280_000,
  }, async () => {
    // Both ends of each abusive connection live in this machine's processes: the server here, the clients in the child.
    const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    if (limit < TOTAL + 1_000)
      throw new Error(`ulimit -n is ${limit}: this test needs at least ${TOTAL + 1_000} open files (raise it, e.g. ulimit -n 20000)`);

    await p99(); // warm-up (JIT, key cache, TLS session)
    const before = await p99();
    const memBefore = memory();

    const child = fork(new URL('./helpers/abuser.mjs', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      send(child, {
        type: 'start',
        port: Number(new URL(server.url).port),
        ca: pki.ca.certificatePem,
        cert: abuser.certificatePem,
        key: abuser.privateKeyPem,
        counts: COUNTS,
      });
      const ready = await next<{ open: Record<string, number>; failed: number; resumed: number; ms: number }>(child, 'ready', 200_000);
      const opened = Object.values(ready.open).reduce((a, b) => a + b, 0);
      const during = await p99();
      // A new client is accepted too (a fresh TLS handshake while the abusers hold their connections).
      const fresh = await request(server.url, credentials(pki, user), { method: 'PUT', path: '/v1/key/encrypt/k', body: '{"plaintext":"aGVsbG8="}' });
      expect(fresh.status).toBe(200);
      const memDuring = memory();

      send(child, { type: 'stop' });
      const stopped = await next<{ closedByServer: Record<string, number> }>(child, 'stopped', 30_000);
      await new Promise((r) => setTimeout(r, 1_000)); // let the server see every close
      const after = await p99();
      const memAfter = memory();

      const normal = Math.max(before.p99, after.p99);
      const round = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join('/');
      console.log(
        `connection-abuse: ${opened} of ${TOTAL} abusive connections open (${JSON.stringify(ready.open)}, ${ready.failed} failed to open, ` +
          `${ready.resumed} TLS sessions resumed, opened in ${(ready.ms / 1000).toFixed(1)} s; closed by the server during the test: ${JSON.stringify(stopped.closedByServer)})\n` +
          `  well-behaved p99 (median of ${ROUNDS} rounds of ${REQUESTS}): before ${before.p99.toFixed(1)} ms [${round(before.rounds)}], ` +
          `under abuse ${during.p99.toFixed(1)} ms [${round(during.rounds)}], after ${after.p99.toFixed(1)} ms [${round(after.rounds)}]; ` +
          `bound max(2 x ${normal.toFixed(1)}, ${normal.toFixed(1)} + ${NOISE_MS}) ms\n` +
          `  server RSS ${mib(memBefore.rss)} -> ${mib(memDuring.rss)} -> ${mib(memAfter.rss)} MiB, ` +
          `heap ${mib(memBefore.heap)} -> ${mib(memDuring.heap)} -> ${mib(memAfter.heap)} MiB (before -> under abuse -> after)`,
      );
      expect(opened).toBeGreaterThanOrEqual(TOTAL * 0.98);
      expect(during.p99).toBeLessThanOrEqual(Math.max(2 * normal, normal + NOISE_MS));
      // Bounded: under 128 KiB of RSS per abusive connection (mostly OpenSSL's buffers outside the
      // JS heap), no growth once they are gone (glibc keeps freed pages, so RSS does not fall back),
      // and the JS heap returns to within 16 MiB.
      expect(memDuring.rss - memBefore.rss).toBeLessThan(TOTAL * 128 * 1024);
      expect(memAfter.rss).toBeLessThanOrEqual(memDuring.rss + 16 * 2 ** 20);
      expect(memAfter.heap - memBefore.heap).toBeLessThan(16 * 2 ** 20);
    } finally {
      child.kill();
    }
  });

  it.each([false, true])(
    'a log stream pipelined behind another whose client leaves is not kept in flight (close() does not wait for it; http2: %s)',
    async (http2) => {
      const s = await createKesServer({
        admin: admin.identity,
        keyStore: createMemoryKeyStore(),
        log: { error: 'off', audit: 'off' },
        tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, http2 },
      });
      await s.listen(0, '127.0.0.1');
      const finished: string[] = [];
      s.handler.on('audit', (e) => finished.push((e as { request: { path: string } }).request.path));
      const conn = await RawConnection.open(Number(new URL(s.url).port), {
        ca: pki.ca.certificatePem,
        cert: admin.certificatePem,
        key: admin.privateKeyPem,
      });
      conn.write('GET /v1/log/error HTTP/1.1\r\nHost: kes\r\n\r\nGET /v1/log/audit HTTP/1.1\r\nHost: kes\r\n\r\n');
      const first = await conn.read(false, 5_000);
      expect(first.kind === 'reply' && first.status).toBe(200);
      conn.destroy();
      // Both requests end (and are audited) once the client is gone. Before the fix the second,
      // queued stream never got 'close': it stayed in flight until shutdown, and close() then
      // waited its full timeout for it.
      await expect.poll(() => [...finished].sort(), { timeout: 3_000 }).toEqual(['/v1/log/audit', '/v1/log/error']);
      const t = Date.now();
      await s.close({ timeoutMs: 5_000 });
      expect(Date.now() - t).toBeLessThan(2_500);
    },
  );
});
