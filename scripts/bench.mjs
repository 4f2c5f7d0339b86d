// `pnpm bench`: throughput and latency of the hot API routes over real mTLS.
// The server runs in a child process (so client and server do not share an event
// loop); this process drives a fixed number of concurrent keep-alive requests for a
// fixed time per scenario and prints ops/s with p50/p99 latency.
// Options (env): KES_BENCH_SECONDS (default 5), KES_BENCH_CONCURRENCY (default 32),
// KES_BENCH_H2=1 to serve and drive HTTP/2, KES_BENCH_ONLY=<substring> to run only
// matching scenarios, KES_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" to pass
// node flags to the server child (profiling). Requires `pnpm build` first.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '@kes/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.env.KES_BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.KES_BENCH_CONCURRENCY ?? 32);
const useH2 = process.env.KES_BENCH_H2 === '1';
const only = process.env.KES_BENCH_ONLY;
const nodeArgs = (process.env.KES_BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');

const child = spawn(process.execPath, [...nodeArgs, `${root}scripts/bench-server.mjs`], {
  cwd: `${root}packages/cli`,
  env: { ...process.env },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [line] = await once(createInterface({ input: child.stdout }), 'line');
const { port, apiKey } = JSON.parse(line);
const client = ApiKey.parse(apiKey).createCertificate();
const tls = { cert: client.certificatePem, key: client.privateKeyPem, rejectUnauthorized: false };

let send;
let closeClient = () => {};
if (useH2) {
  const session = http2.connect(`https://127.0.0.1:${port}`, tls);
  closeClient = () => session.close();
  send = (method, path, body) =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':method': method, ':path': path, 'content-type': 'application/json' });
      const chunks = [];
      let status = 0;
      req.on('response', (h) => (status = h[':status']));
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.end(body);
    });
} else {
  const agent = new https.Agent({ ...tls, keepAlive: true, maxSockets: concurrency });
  closeClient = () => agent.destroy();
  send = (method, path, body) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

async function must(method, path, body) {
  const r = await send(method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path} → ${r.status} ${r.body}`);
  return r.body.length ? JSON.parse(r.body) : undefined;
}

await must('PUT', '/v1/key/create/bench-key');
const context = Buffer.from('{"MinIO admin API":"ServerInfoHandler"}').toString('base64');
const plaintext1k = Buffer.alloc(1024, 7).toString('base64');
const { ciphertext } = await must('PUT', '/v1/key/encrypt/bench-key', JSON.stringify({ plaintext: plaintext1k, context }));
const dek = await must('PUT', '/v1/key/generate/bench-key', JSON.stringify({ context }));

const scenarios = [
  ['generate (DEK, with context)', 'PUT', '/v1/key/generate/bench-key', JSON.stringify({ context })],
  ['decrypt DEK (MinIO unseal)', 'PUT', '/v1/key/decrypt/bench-key', JSON.stringify({ ciphertext: dek.ciphertext, context })],
  ['encrypt 1 KiB', 'PUT', '/v1/key/encrypt/bench-key', JSON.stringify({ plaintext: plaintext1k, context })],
  ['decrypt 1 KiB', 'PUT', '/v1/key/decrypt/bench-key', JSON.stringify({ ciphertext, context })],
  ['hmac', 'PUT', '/v1/key/hmac/bench-key', JSON.stringify({ message: plaintext1k })],
  ['key describe', 'GET', '/v1/key/describe/bench-key', undefined],
  ['status', 'GET', '/v1/status', undefined],
];

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

console.log(`kes-ts bench: ${useH2 ? 'HTTP/2' : 'HTTP/1.1 keep-alive'}, ${concurrency} concurrent, ${seconds}s per scenario`);
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}\n`);
console.log('| scenario | ops/s | p50 ms | p99 ms | errors |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, method, path, body] of scenarios) {
  if (only && !name.includes(only)) continue;
  // Warm-up (JIT, TLS sessions, key cache): 1 s of the same load, not measured.
  const warm = performance.now() + Math.min(1000, seconds * 200);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      do await send(method, path, body);
      while (performance.now() < warm);
    }),
  );
  const lat = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const r = await send(method, path, body);
        if (r.status !== 200) errors++;
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  console.log(`| ${name} | ${Math.round(lat.length / seconds)} | ${pct(lat, 50).toFixed(2)} | ${pct(lat, 99).toFixed(2)} | ${errors} |`);
}
closeClient();
child.kill('SIGTERM');
await once(child, 'exit');
