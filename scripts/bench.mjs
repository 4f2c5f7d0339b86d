// `pnpm bench`: throughput, latency, server CPU and memory of the hot API routes over real
// mTLS, against the servers users would compare kes-ts with. Requires `pnpm build` first.
//
// Every server and the load generator (scripts/bench-load.mjs, one process per cell) are
// separate processes on 127.0.0.1. Servers, all started once:
//   bare-1 / bare-N  the ceiling: bare node:https with a reply of the same size (scripts/bench-bare.mjs), 1 process / N cluster workers
//   kes-1 / kes-N    the built `kes server --workers 1|N`, fs key store, audit and error logs off
//   openbao          OpenBao Transit (datakey/plaintext, decrypt; TLS + token) from .cache/venv, if installed
// For each repeat, scenario and connection count the servers take turns (alternated), each
// cell runs for a bounded time after a warm-up. Prints a Markdown table of medians and writes
// .cache/bench/latest.{json,md}.
//
// Options (env): KES_BENCH_SECONDS (2), KES_BENCH_REPEATS (3), KES_BENCH_WORKERS (N,
// default os.availableParallelism()), KES_BENCH_ONLY=<substring of scenario or server>,
// KES_BENCH_CONNECTIONS (e.g. "16"), KES_BENCH_H2=1 (HTTP/2 client; kes-ts with tls.http2),
// KES_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" (node flags of the kes-ts servers),
// KES_BENCH_SCALE=0 (skip the scale scenarios of scripts/bench-scale.mjs),
// KES_BENCH_CLIENT=ab|go|node (load generator: Apache ab when it is on the PATH (HTTP/1.1
// only), else Go's net/http client of scripts/bench-load-go when Go is installed, else the
// Node client of bench-load.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { runScale } from './bench-scale.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.env.KES_BENCH_SECONDS ?? 2);
const repeats = Number(process.env.KES_BENCH_REPEATS ?? 3);
const N = Number(process.env.KES_BENCH_WORKERS ?? os.availableParallelism());
const only = process.env.KES_BENCH_ONLY;
const h2 = process.env.KES_BENCH_H2 === '1';
const connectionSet = (process.env.KES_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const goBinary = `${root}.cache/bench/bench-load-go`;
const requestedLoader = process.env.KES_BENCH_CLIENT;
if (requestedLoader === 'ab' && h2) throw new Error('KES_BENCH_CLIENT=ab cannot speak HTTP/2: use go or node');
if (requestedLoader === 'go' && !buildGoLoader()) throw new Error('KES_BENCH_CLIENT=go: could not build scripts/bench-load-go (is Go installed?)');
// ab takes the least CPU per request, so the servers keep most of the machine; Go's client
// (what MinIO uses) is the choice for HTTP/2; the Node client is the fallback.
const loader = requestedLoader ?? (!h2 && hasAb() ? 'ab' : buildGoLoader() ? 'go' : 'node');
const nodeArgs = (process.env.KES_BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
const outDir = `${root}.cache/bench`;
const work = `${outDir}/run-${process.pid}`;
mkdirSync(work, { recursive: true });
const children = [];

/** Builds the Go load generator (standard library only, no download) once per run; false without Go. */
function buildGoLoader() {
  try {
    execFileSync('go', ['build', '-o', goBinary, '.'], {
      cwd: `${root}scripts/bench-load-go`,
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

function hasAb() {
  try {
    execFileSync('ab', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function lines(child) {
  return createInterface({ input: child.stdout });
}

async function firstJsonLine(child, pred = () => true, timeoutMs = 30_000) {
  const rl = lines(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  for await (const l of rl) {
    if (!l.startsWith('{')) continue;
    const rec = JSON.parse(l);
    if (pred(rec)) {
      clearTimeout(timer);
      return rec;
    }
  }
  throw new Error('server exited before it was ready');
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- /proc: CPU seconds and RSS of a server and its cluster workers -------------------
const TICK = 100; // USER_HZ on Linux
function family(pid) {
  const out = [pid];
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(...family(Number(c)));
  } catch {}
  return out;
}
/** [user, system] CPU seconds of the process and its workers. */
function cpuSeconds(pid) {
  let user = 0;
  let sys = 0;
  for (const p of family(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      user += Number(f[11]) / TICK;
      sys += Number(f[12]) / TICK;
    } catch {}
  }
  return [user, sys];
}
function rssMiB(pid) {
  let kb = 0;
  for (const p of family(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}

// ---- servers ------------------------------------------------------------------------
const admin = ApiKey.generate();
const client = admin.createCertificate();
const clientTls = { cert: client.certificatePem, key: client.privateKeyPem };
const context = Buffer.from('{"MinIO admin API":"ServerInfoHandler"}').toString('base64'); // 32 bytes, as MinIO sends
const plaintext1k = Buffer.alloc(1024, 7).toString('base64');

function request(port, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, agent: false, rejectUnauthorized: false, ...clientTls }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function must(port, method, path, body, headers) {
  const r = await request(port, method, path, body, headers);
  if (r.status < 200 || r.status > 204) throw new Error(`${method} ${path} → ${r.status} ${r.body}`);
  return r.body ? JSON.parse(r.body) : undefined;
}

async function startBare(workers) {
  const child = spawn(process.execPath, [`${root}scripts/bench-bare.mjs`], {
    cwd: `${root}packages/cli`,
    env: { ...process.env, BENCH_WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const { port } = await firstJsonLine(child);
  const routes = {
    generate: ['PUT', '/v1/key/generate/bench-key', JSON.stringify({ context })],
    decrypt: ['PUT', '/v1/key/decrypt/bench-key', '{"ciphertext":"x"}'],
  };
  return { name: `bare-${workers}`, pid: child.pid, port, tls: clientTls, headers: {}, routes, child };
}

async function startKes(workers) {
  const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const dir = `${work}/kes-${workers}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/server.key`, cert.privateKeyPem);
  writeFileSync(`${dir}/server.cert`, cert.certificatePem);
  writeFileSync(
    `${dir}/kes.yml`,
    [
      'address: 127.0.0.1:0',
      `workers: ${workers}`,
      `admin: {identity: ${admin.identity}}`,
      `tls: {key: ${dir}/server.key, cert: ${dir}/server.cert${h2 ? ', http2: true' : ''}}`,
      'log: {error: off, audit: off}',
      `keystore: {fs: {path: ${dir}/keys}}`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [...nodeArgs, `${root}packages/cli/bin/kes.js`, 'server', '--config', `${dir}/kes.yml`, '--json'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const { port } = await firstJsonLine(child, (r) => r.msg === 'server started');
  await must(port, 'POST', '/v1/key/create/bench-key');
  const { ciphertext } = await must(port, 'PUT', '/v1/key/encrypt/bench-key', JSON.stringify({ plaintext: plaintext1k, context }));
  const dek = await must(port, 'PUT', '/v1/key/generate/bench-key', JSON.stringify({ context }));
  const routes = {
    generate: ['PUT', '/v1/key/generate/bench-key', JSON.stringify({ context })],
    decrypt: ['PUT', '/v1/key/decrypt/bench-key', JSON.stringify({ ciphertext: dek.ciphertext, context })],
    'encrypt 1 KiB': ['PUT', '/v1/key/encrypt/bench-key', JSON.stringify({ plaintext: plaintext1k, context })],
    'decrypt 1 KiB': ['PUT', '/v1/key/decrypt/bench-key', JSON.stringify({ ciphertext, context })],
    hmac: ['PUT', '/v1/key/hmac/bench-key', JSON.stringify({ message: plaintext1k })],
    describe: ['GET', '/v1/key/describe/bench-key', undefined],
    status: ['GET', '/v1/status', undefined],
  };
  return { name: `kes-${workers}`, pid: child.pid, port, tls: clientTls, headers: {}, routes, child };
}

async function startOpenBao() {
  const bao = `${root}.cache/venv/bin/bao`;
  if (!existsSync(bao)) return undefined;
  const port = await freePort();
  const token = `root-${randomBytes(12).toString('hex')}`;
  const child = spawn(
    bao,
    [
      'server',
      '-dev',
      '-dev-tls',
      `-dev-tls-cert-dir=${work}`,
      `-dev-root-token-id=${token}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      '-dev-no-store-token',
    ],
    { env: { PATH: process.env.PATH, HOME: work }, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  children.push(child);
  const headers = { 'X-Vault-Token': token };
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await request(port, 'GET', '/v1/sys/health')).status === 200) break;
    } catch {}
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
  await must(port, 'POST', '/v1/sys/mounts/transit', JSON.stringify({ type: 'transit' }), headers);
  await must(port, 'POST', '/v1/transit/keys/bench-key', '{}', headers);
  const dek = await must(port, 'POST', '/v1/transit/datakey/plaintext/bench-key', '{}', headers);
  const routes = {
    generate: ['POST', '/v1/transit/datakey/plaintext/bench-key', '{}'],
    decrypt: ['POST', '/v1/transit/decrypt/bench-key', JSON.stringify({ ciphertext: dek.data.ciphertext })],
  };
  const version = execFileSync(bao, ['version'], { encoding: 'utf8' }).trim();
  return { name: 'openbao', version, pid: child.pid, port, tls: undefined, headers, routes, child };
}

// ---- one cell -----------------------------------------------------------------------
async function cell(server, scenario, connections, fresh) {
  const [method, path, body] = server.routes[scenario];
  const job = {
    port: server.port,
    tls: server.tls,
    headers: server.headers,
    method,
    path,
    body,
    connections,
    seconds,
    warmupMs: 500,
    fresh,
    h2: h2 && server.name.startsWith('kes'),
    client: loader,
  };
  // Every client reads the job and prints "measuring", then one JSON line of results.
  const child =
    loader === 'go'
      ? spawn(goBinary, [JSON.stringify(job)], { env: { ...process.env, GOMAXPROCS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [`${root}scripts/bench-load.mjs`, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let cpu0 = [0, 0];
  let result;
  for await (const l of lines(child)) {
    if (l === 'measuring') cpu0 = cpuSeconds(server.pid);
    else if (l.startsWith('{')) result = JSON.parse(l);
  }
  const [user1, sys1] = cpuSeconds(server.pid);
  const user = user1 - cpu0[0];
  const cpu = user + sys1 - cpu0[1];
  return {
    rps: result.requests / result.elapsed,
    p50: result.p50,
    p99: result.p99,
    p999: result.p999,
    cpuPer1k: result.requests > 0 ? (cpu / result.requests) * 1000 : 0,
    userPer1k: result.requests > 0 ? (user / result.requests) * 1000 : 0,
    rssMiB: rssMiB(server.pid),
    errors: result.errors,
  };
}

// ---- the run ------------------------------------------------------------------------
const t0 = Date.now();
const servers = [await startBare(1), await startBare(N), await startKes(1), await startKes(N)];
const bao = await startOpenBao().catch(() => undefined);
if (bao) servers.push(bao);
const pick = (s) => !only || s.includes(only);
const plan = [];
for (const scenario of ['generate', 'decrypt']) for (const c of connectionSet) plan.push([scenario, c, false]);
for (const scenario of ['encrypt 1 KiB', 'hmac', 'describe', 'status']) if (connectionSet.includes(16)) plan.push([scenario, 16, false]);
if (connectionSet.includes(16)) plan.push(['generate', 16, true]);

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
console.log(
  `kes-ts bench: ${h2 ? 'HTTP/2' : 'HTTP/1.1'}, load from ${{ go: "Go's net/http client", ab: 'Apache ab', node: 'the Node client' }[loader]}, ${seconds}s per cell, ${repeats} repeats, N = ${N} workers`,
);
console.log(`machine: ${machine}${bao ? `; ${bao.version}` : '; OpenBao not installed (run the key-store tests once to install it)'}\n`);

const runs = {}; // key → [result...]
for (let r = 0; r < repeats; r++) {
  for (const [scenario, connections, fresh] of plan) {
    // Alternate the order of the servers between repeats.
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      if (!s.routes[scenario] || !(pick(scenario) || pick(s.name))) continue;
      const key = `${scenario}|${connections}|${fresh ? 'fresh' : 'keep-alive'}|${s.name}`;
      (runs[key] ??= []).push(await cell(s, scenario, connections, fresh));
    }
  }
}
// Scale scenarios (cold-cache storm, 100,000 keys listed and cached): scripts/bench-scale.mjs.
const scale =
  process.env.KES_BENCH_SCALE === '0'
    ? undefined
    : await runScale({
        work: `${work}/scale`,
        vault: bao ? { addr: `https://127.0.0.1:${bao.port}`, token: bao.headers['X-Vault-Token'] } : undefined,
      });
for (const c of children) c.kill('SIGTERM');

const median = (xs) => {
  if (xs.some((x) => x === undefined)) return undefined; // ab gives no p99.9
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = [];
for (const [key, rs] of Object.entries(runs)) {
  const [scenario, connections, mode, server] = key.split('|');
  const m = Object.fromEntries(['rps', 'p50', 'p99', 'p999', 'cpuPer1k', 'userPer1k', 'rssMiB'].map((f) => [f, median(rs.map((x) => x[f]))]));
  rows.push({
    scenario,
    connections: Number(connections),
    mode,
    server,
    runs: rs.map((x) => Math.round(x.rps)),
    errors: rs.reduce((n, x) => n + x.errors, 0),
    ...m,
  });
}
const find = (r, server) =>
  rows.find((x) => x.scenario === r.scenario && x.connections === r.connections && x.mode === r.mode && x.server === server);
for (const r of rows) {
  const ceiling = r.server === 'kes-1' ? find(r, 'bare-1') : r.server === `kes-${N}` ? find(r, `bare-${N}`) : undefined;
  if (ceiling) {
    r.vsCeiling = r.rps / ceiling.rps;
    r.p99VsCeiling = r.p99 / ceiling.p99;
  }
  const bao = find(r, 'openbao');
  if (bao && r.server.startsWith('kes')) r.vsOpenBao = r.rps / bao.rps;
  const one = find(r, 'kes-1');
  if (r.server === `kes-${N}` && one) r.vsOneWorker = r.rps / one.rps;
}
const f = (x, d = 0) => (x === undefined ? '' : x.toFixed(d));
const md = [
  `| scenario | conns | mode | server | req/s (median) | runs | p50 ms | p99 ms | p99.9 ms | CPU s/1k req | of it user | RSS MiB | × ceiling | p99 × ceiling | × OpenBao | × kes-1 |`,
  '| --- | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.connections} | ${r.mode} | ${r.server} | ${f(r.rps)} | ${r.runs.join(' / ')} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.p999, 2)} | ${f(r.cpuPer1k, 3)} | ${f(r.userPer1k, 3)} | ${f(r.rssMiB)} | ${f(r.vsCeiling, 2)} | ${f(r.p99VsCeiling, 2)} | ${f(r.vsOpenBao, 2)} | ${f(r.vsOneWorker, 2)} |`,
  ),
].join('\n');
console.log(md);
if (scale) console.log(`\n${scale.md}`);
console.log(`\n${Math.round((Date.now() - t0) / 1000)} s in all`);
mkdirSync(outDir, { recursive: true });
const meta = { date: new Date().toISOString(), machine, openbao: bao?.version, seconds, repeats, workers: N, h2, loader };
writeFileSync(`${outDir}/latest.json`, `${JSON.stringify({ ...meta, rows, scale: scale?.rows }, null, 2)}\n`);
writeFileSync(
  `${outDir}/latest.md`,
  `# kes-ts bench ${meta.date}\n\n${machine}${bao ? `; ${bao.version}` : ''}\n\n${md}\n${scale ? `\n${scale.md}\n` : ''}`,
);
console.log(`written: ${outDir}/latest.json, latest.md`);
process.exit(0);
