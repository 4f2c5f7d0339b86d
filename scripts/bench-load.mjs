// Child process of scripts/bench.mjs: the load generator for ONE cell (server × scenario
// × connections). Reads its job as JSON from argv[2]: { port, tls: {cert,key}|undefined,
// headers, method, path, body, connections, seconds, warmupMs, fresh, h2 }. Warms up,
// prints "measuring", keeps `connections` requests in flight for `seconds`, prints one
// JSON line { requests, errors, p50, p99, p999 } (ms). Keep-alive unless `fresh` (one
// TLS handshake per request); HTTP/2 (one session, multiplexed) with `h2`.
// With `client: "ab"` the load comes from Apache ab (C, one thread): it takes far less CPU
// per request than this Node client, which shares the cores with the servers. ab reports
// whole percentiles only, so p99.9 is left out in that mode. (The Go client,
// scripts/bench-load-go, reads the same job and is started by bench.mjs directly.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';

const job = JSON.parse(process.argv[2]);
if (job.client === 'ab') runAb();
const tls = { ...(job.tls ?? {}), rejectUnauthorized: false };
const headers = { ...(job.headers ?? {}), ...(job.body ? { 'content-length': Buffer.byteLength(job.body) } : {}) };

let send;
let closeClient = () => {};
if (job.h2) {
  const session = http2.connect(`https://127.0.0.1:${job.port}`, tls);
  closeClient = () => session.close();
  send = () =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':method': job.method, ':path': job.path, ...(job.headers ?? {}) });
      let status = 0;
      req.on('response', (h) => (status = h[':status']));
      req.on('data', () => {});
      req.on('end', () => resolve(status));
      req.on('error', reject);
      req.end(job.body);
    });
} else {
  const agent = job.fresh ? false : new https.Agent({ ...tls, keepAlive: true, maxSockets: job.connections });
  closeClient = () => agent && agent.destroy();
  send = () =>
    new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: job.port, method: job.method, path: job.path, agent, headers, ...tls }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', () => resolve(0));
      req.end(job.body);
    });
}

async function drive(until, record) {
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        const status = await send();
        record?.(status, performance.now() - t);
      }
    }),
  );
}

// Warm-up (JIT, TLS sessions, key cache): not measured.
await drive(performance.now() + job.warmupMs);
process.stdout.write('measuring\n');
const lat = [];
let errors = 0;
const start = performance.now();
await drive(start + job.seconds * 1000, (status, ms) => {
  if (status !== 200) errors++;
  lat.push(ms);
});
const elapsed = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0;
process.stdout.write(`${JSON.stringify({ requests: lat.length, elapsed, errors, p50: pct(50), p99: pct(99), p999: pct(99.9) })}\n`);
closeClient();
process.exit(0);

/** The ab arguments of the job (files for the client certificate and the body go in `dir`), without `-t`. */
function abArgs(dir) {
  const args = ['-q', '-c', String(job.connections), '-n', '100000000', '-s', '30', '-e', `${dir}/pct.csv`];
  if (!job.fresh) args.push('-k');
  if (job.tls?.cert) {
    writeFileSync(`${dir}/client.pem`, `${job.tls.cert}\n${job.tls.key}\n`, { mode: 0o600 });
    args.push('-E', `${dir}/client.pem`);
  }
  for (const [k, v] of Object.entries(job.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (job.body !== undefined) {
    writeFileSync(`${dir}/body`, job.body);
    args.push(job.method === 'PUT' ? '-u' : '-p', `${dir}/body`, '-T', 'application/json');
  }
  args.push(`https://127.0.0.1:${job.port}${job.path}`);
  return args;
}

/** One ab run of `seconds` (whole seconds): its counts and whole percentiles (no p99.9). */
function ab(dir, args, seconds) {
  const r = spawnSync('ab', ['-t', String(seconds), ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const num = (label) => Number(new RegExp(`${label}:\\s+([\\d.]+)`).exec(r.stdout)?.[1] ?? 0);
  if (r.status !== 0 && num('Complete requests') === 0) throw new Error(`ab failed: ${r.stderr || r.stdout}`);
  const pct = new Map(
    readFileSync(`${dir}/pct.csv`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map(Number)),
  );
  return {
    requests: num('Complete requests'),
    elapsed: num('Time taken for tests'),
    errors: num('Failed requests') + num('Non-2xx responses'),
    p50: pct.get(50) ?? 0,
    p99: pct.get(99) ?? 0,
  };
}

function runAb() {
  const dir = mkdtempSync(`${tmpdir()}/kes-bench-ab-`);
  try {
    const args = abArgs(dir);
    ab(dir, args, Math.max(1, Math.round(job.warmupMs / 1000))); // warm-up: JIT, TLS sessions, key cache
    process.stdout.write('measuring\n');
    process.stdout.write(`${JSON.stringify(ab(dir, args, Math.max(1, Math.round(job.seconds))))}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
