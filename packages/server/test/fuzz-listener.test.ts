// Property-based fuzzing of the real TLS listener (issue 13, hostile input): the generated
// requests of fuzz-handler.test.ts written as raw bytes over keep-alive TLS connections, plus
// what only a socket can send: broken request lines, bare LF, NUL and CR in the target,
// huge and many headers, lying Content-Length, requests written in fragments, and clients
// that vanish mid-request. Every complete request must get a documented reply (Node's own
// 400/408/431 included), never a 5xx; afterwards a well-behaved client is served.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { requestArb, undocumented } from './helpers/hostile.js';
import type { HostileRequest } from './helpers/hostile.js';
import { RawConnection } from './helpers/raw-http.js';
import type { RawOutcome } from './helpers/raw-http.js';
import { createTestPki, credentials, request } from './helpers/tls-client.js';

/** Generated API requests, and transport-level ones, per run (printed with the timing). */
const API_RUNS = Number(process.env.KES_FUZZ_SOCKET_RUNS ?? 3_000);
const TRANSPORT_RUNS = Math.round(API_RUNS / 3);
const SEED = Number(process.env.KES_FUZZ_SEED ?? 20261202);
/** Parallel clients, each with its own keep-alive connection. */
const WORKERS = 6;

const pki = createTestPki();
const adminKey = ApiKey.generate();
const admin = { ...adminKey.createCertificate(), identity: adminKey.identity };
const limited = createSelfSignedCertificate({ keyType: 'ecdsa-p256' });
const stranger = createSelfSignedCertificate({ keyType: 'ed25519' });
const CERTS = { admin, limited, stranger } as const;
type Caller = keyof typeof CERTS;

let server: KesServer;
let port = 0;
const serverErrors: string[] = [];
const serverErrorCodes: number[] = [];
const figures = { requests: 0, replies: 0, abandoned: 0, disconnects: 0, connections: 0, resumed: 0 };
const sessions = new Map<Caller, Buffer>();
const startedAt = Date.now();

beforeAll(async () => {
  server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    log: { error: 'off', audit: 'off' },
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    policies: {
      app: {
        allow: ['/v1/key/generate/*', '/v1/key/encrypt/*', '/v1/key/decrypt/*', '/v1/key/describe/*'],
        deny: ['/v1/key/generate/secret'],
        identities: [limited.identity],
      },
    },
    keys: [{ name: 'k' }, { name: 'my-key' }, { name: 'secret' }],
  });
  server.handler.on('error', (e) => serverErrors.push((e as { message: string }).message));
  server.handler.on('audit', (e) => {
    const code = (e as { response: { code: number } }).response.code;
    if (code >= 500) serverErrorCodes.push(code);
  });
  port = (await server.listen(0, '127.0.0.1')).port;
});

afterAll(async () => {
  const s = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(
    `fuzz-listener: ${figures.requests} generated requests over ${figures.connections} TLS connections (${figures.resumed} resumed) in ${s} s: ` +
      `${figures.replies} replies checked, ${figures.abandoned} incomplete requests abandoned, ${figures.disconnects} abrupt disconnects; no 5xx`,
  );
  await server?.close({ timeoutMs: 2_000 });
});

/** One request as bytes, and what the client may expect for it. */
interface Wire {
  readonly bytes: Buffer;
  readonly caller: Caller;
  readonly head: boolean;
  /** The server has everything it needs to answer (else: wait briefly, then leave). */
  readonly complete: boolean;
  /** The connection cannot be trusted for another request afterwards. */
  readonly dirty: boolean;
  /** Write in pieces, a few ms apart. */
  readonly fragments: number;
  /** Leave after writing this many bytes, without reading (abrupt disconnect). */
  readonly cutAt: number | undefined;
  readonly label: string;
}

function serialize(r: HostileRequest, caller: Caller): Wire {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: kes\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  let complete = true;
  let dirty = false;
  if (r.lyingLength !== undefined) {
    head += `Content-Length: ${r.lyingLength}\r\n`;
    const n = Number(r.lyingLength.trim());
    complete = !Number.isInteger(n) || n <= body.length;
    dirty = true;
  } else if (r.body !== undefined) {
    head += `Content-Length: ${body.length}\r\n`;
  }
  return {
    bytes: Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]),
    caller,
    head: r.method === 'HEAD',
    complete,
    dirty,
    fragments: 1,
    cutAt: undefined,
    label: `${r.method} ${r.path.slice(0, 200)}`,
  };
}

/** Request lines and headers that only a raw socket can send. */
const TRANSPORT_TRICKS: readonly string[] = [
  'GET /v1/status HTTP/1.0\r\n\r\n',
  'GET /v1/status HTTP/2.0\r\nHost: kes\r\n\r\n',
  'GET /v1/status HTTP/9.9\r\nHost: kes\r\n\r\n',
  'GET /v1/status\r\nHost: kes\r\n\r\n',
  'GET  /v1/status HTTP/1.1\r\nHost: kes\r\n\r\n',
  'GET /v1/status HTTP/1.1\nHost: kes\n\n',
  'GET /v1/status HTTP/1.1\r\nHost kes\r\n\r\n',
  'GET /v1/status HTTP/1.1\r\nHost : kes\r\n\r\n',
  'GET /v1/status HTTP/1.1\r\nHost: kes\r\n folded\r\n\r\n',
  'GET /v1/key/describe/k\u0000 HTTP/1.1\r\nHost: kes\r\n\r\n',
  'GET /v1/key/describe/k HTTP/1.1\r\nHost: kes\r\nX-Nul: a\u0000b\r\n\r\n',
  'GET /v1/key/describe/a\rb HTTP/1.1\r\nHost: kes\r\n\r\n',
  'DELETE /v1/key/delete/k\r\nX: y HTTP/1.1\r\nHost: kes\r\n\r\n',
  'GET /v1/key/describe/k HTTP/1.1\r\nHost: kes\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  'PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nContent-Length: 20\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"pl\r\n0\r\n\r\n',
  'PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: kes\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: kes\r\n\r\n',
  'CONNECT kes:443 HTTP/1.1\r\nHost: kes\r\n\r\n',
  'GET https://kes.example/v1/key/list/ HTTP/1.1\r\nHost: other\r\n\r\n',
  'GET //evil.example/v1/status HTTP/1.1\r\nHost: kes\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  `GET /v1/key/describe/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: kes\r\n\r\n`,
  `GET /v1/status HTTP/1.1\r\nHost: kes\r\nX-Huge: ${'h'.repeat(20_000)}\r\n\r\n`,
  `GET /v1/status HTTP/1.1\r\nHost: kes\r\n${Array.from({ length: 3_000 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}\r\n`,
  `GET /v1/status HTTP/1.1\r\nHost: kes\r\n${Array.from({ length: 300 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}\r\n`,
];

const transportArb: fc.Arbitrary<Wire> = fc
  .record({
    text: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...TRANSPORT_TRICKS) },
      // Junk: printable or binary, terminated like a request or not.
      { weight: 1, arbitrary: fc.tuple(fc.string({ unit: 'binary', maxLength: 80 }), fc.boolean()).map(([j, end]) => (end ? `${j}\r\n\r\n` : j)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1')) },
    ),
    caller: fc.constantFrom<Caller>('admin', 'limited', 'stranger'),
    fragments: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 6 }) }),
    cut: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
  })
  .map(({ text, caller, fragments, cut }) => {
    const bytes = Buffer.from(text, 'latin1');
    return {
      bytes,
      caller,
      head: false,
      // Ends with an empty line: Node's parser can answer (or refuse) it.
      complete: text.includes('\r\n\r\n') || text.includes('\n\n'),
      dirty: true,
      fragments,
      cutAt: cut === undefined ? undefined : cut % (bytes.length + 1),
      label: JSON.stringify(text.slice(0, 120)),
    };
  });

async function exchange(conn: RawConnection, w: Wire): Promise<RawOutcome> {
  conn.reused = conn.used;
  conn.used = true;
  if (w.fragments === 1) conn.write(w.bytes);
  else {
    const step = Math.ceil(w.bytes.length / w.fragments);
    for (let i = 0; i < w.bytes.length; i += step) {
      conn.write(w.bytes.subarray(i, i + step));
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  return conn.read(w.head, w.complete ? 10_000 : 300);
}

/** Sends the wires over WORKERS parallel keep-alive connections; returns the failures. */
async function runOverSockets(wires: readonly Wire[]): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    const conns = new Map<Caller, RawConnection>();
    const connFor = async (caller: Caller): Promise<RawConnection> => {
      const c = conns.get(caller);
      if (c?.alive) return c;
      const cert = CERTS[caller];
      // TLS session resumption keeps the many reconnects cheap (and exercises identification on resumed sessions).
      const session = sessions.get(caller);
      const fresh = await RawConnection.open(port, {
        ca: pki.ca.certificatePem,
        cert: cert.certificatePem,
        key: cert.privateKeyPem,
        ...(session !== undefined ? { session } : {}),
      });
      fresh.socket.on('session', (s: Buffer) => sessions.set(caller, s));
      figures.connections++;
      if (fresh.socket.isSessionReused()) figures.resumed++;
      conns.set(caller, fresh);
      return fresh;
    };
    while (next < wires.length && failures.length < 5) {
      const w = wires[next++] as Wire;
      figures.requests++;
      let conn = await connFor(w.caller);
      if (w.cutAt !== undefined) {
        conn.write(w.bytes.subarray(0, w.cutAt));
        conn.destroy();
        figures.disconnects++;
        continue;
      }
      let out = await exchange(conn, w);
      if (out.kind === 'closed' && out.text === '' && conn.reused) {
        // The server may close a keep-alive connection after a reply (e.g. one that left the
        // body unread) while the next request is on its way; a client retries on a new one.
        conn = await connFor(w.caller);
        out = await exchange(conn, w);
      }
      if (out.kind === 'reply') {
        figures.replies++;
        const why = undocumented({ status: out.status, contentType: out.headers['content-type'], body: out.body }, { head: w.head, transport: true });
        if (why !== undefined) failures.push(`${w.label} as ${w.caller}: ${why}`);
        if (w.dirty || out.headers.connection === 'close' || out.headers['content-type'] === 'application/x-ndjson') conn.destroy();
      } else if (out.kind === 'timeout' && w.complete) {
        failures.push(`${w.label} as ${w.caller}: no reply within 10 s`);
        conn.destroy();
      } else if (out.kind === 'closed' && w.complete && !w.dirty) {
        failures.push(`${w.label} as ${w.caller}: connection closed without a reply`);
      } else {
        if (!w.complete) figures.abandoned++;
        conn.destroy();
      }
    }
    for (const c of conns.values()) c.destroy();
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return failures;
}

let probes = 0;

/**
 * A well-behaved client, over fresh connections: a new key (the fuzzing admin may have
 * deleted the others), a round trip with the limited identity, and no internal error logged.
 */
async function stillServes(): Promise<void> {
  const name = `probe-${++probes}`;
  expect((await request(server.url, credentials(pki, admin), { method: 'PUT', path: `/v1/key/create/${name}` })).status).toBe(200);
  const creds = credentials(pki, limited);
  const enc = await request(server.url, creds, { method: 'PUT', path: `/v1/key/encrypt/${name}`, body: '{"plaintext":"aGVsbG8="}' });
  expect(enc.status).toBe(200);
  const dec = await request(server.url, creds, { method: 'PUT', path: `/v1/key/decrypt/${name}`, body: enc.text() });
  expect(dec.json()).toEqual({ plaintext: 'aGVsbG8=' });
  expect(serverErrorCodes).toEqual([]);
  expect(serverErrors.filter((m) => !m.includes('request timed out'))).toEqual([]);
}

describe('real TLS listener under generated hostile requests', () => {
  it('answers every generated API request with a documented reply, over keep-alive connections', { timeout: 180_000 }, async () => {
    const callers = fc.constantFrom<Caller>('admin', 'limited', 'stranger');
    const wires = fc.sample(
      fc.tuple(requestArb({ ascii: true }), callers).map(([r, c]) => serialize(r, c)),
      { numRuns: API_RUNS, seed: SEED },
    );
    expect(await runOverSockets(wires)).toEqual([]);
    await stillServes();
  });

  it('answers or refuses broken request lines, huge and many headers, fragments and vanishing clients', { timeout: 180_000 }, async () => {
    const wires = fc.sample(transportArb, { numRuns: TRANSPORT_RUNS, seed: SEED + 1 });
    expect(await runOverSockets(wires)).toEqual([]);
    await stillServes();
  });
});
