// The scale scenarios of `pnpm bench` (called by scripts/bench.mjs; runs alone too:
// `node scripts/bench-scale.mjs`). Each starts a fresh server process
// (scripts/bench-scale-server.mjs, built @kes/server, key-store calls counted) and drives it
// from this process over mTLS with 64 keep-alive connections:
//   cold-cache storm  10,000 keys never read before, each asked for 3 times in random order
//                     under load: key-store reads must equal the number of keys, not requests
//                     (fs, and Vault K/V v2 on OpenBao when an address is given)
//   listing           100,000 keys in the fs store, listed as 10 prefixes of 10,000 names:
//                     the replies stream, peak RSS above idle must stay under 100 MiB
//   cached keys       the same 100,000 keys described once each: RSS with all of them in
//                     the cache must stay under 200 MiB (one process = one worker)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiKey, MasterKey, createSelfSignedCertificate } from '@kes/core';
import { createKeyStore } from '@kes/keystores';

/** The young-generation cap `kes server` gives its workers (WORKER_SEMI_SPACE_MB in packages/cli/src/server/workers.ts). */
const WORKER_SEMI_SPACE_MB = 4;

const root = fileURLToPath(new URL('..', import.meta.url));
const CONNECTIONS = 64;

/** Runs every scale scenario; returns the rows and a Markdown table. */
export async function runScale({ work, vault }) {
  mkdirSync(work, { recursive: true });
  const admin = ApiKey.generate();
  const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(`${work}/server.key`, cert.privateKeyPem);
  writeFileSync(`${work}/server.cert`, cert.certificatePem);
  const clientCert = admin.createCertificate();
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: CONNECTIONS,
    cert: clientCert.certificatePem,
    key: clientCert.privateKeyPem,
    rejectUnauthorized: false,
  });
  const rows = [];

  const start = async (env) => {
    // V8 flags as a `kes server` worker gets them (packages/cli/src/server/workers.ts).
    const child = spawn(process.execPath, ['--expose-gc', `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`, `${root}scripts/bench-scale-server.mjs`], {
      env: { ...process.env, SCALE_ADMIN: admin.identity, SCALE_CERT: `${work}/server.cert`, SCALE_KEY: `${work}/server.key`, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value);
    const { port } = await next();
    return {
      port,
      stats: async () => {
        child.stdin.write('stats\n');
        return next();
      },
      stop: async () => {
        child.stdin.end();
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      },
    };
  };

  const call = (port, method, path, body) =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  /** `paths.length` requests, CONNECTIONS in flight; returns seconds, errors. */
  const drive = async (port, method, paths, body) => {
    let i = 0;
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (i < paths.length) {
          const p = paths[i++];
          const r = await call(port, method, p, body).catch(() => ({ status: 0 }));
          if (r.status !== 200) errors++;
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, errors };
  };

  const shuffled = (names, times) => {
    const out = [];
    for (let t = 0; t < times; t++) out.push(...names);
    for (let j = out.length - 1; j > 0; j--) {
      const k = Math.floor(Math.random() * (j + 1));
      [out[j], out[k]] = [out[k], out[j]];
    }
    return out;
  };

  // ---- cold-cache storm: fs, then Vault --------------------------------------------
  const stormKeys = Array.from({ length: 10_000 }, (_, i) => `storm-${String(i).padStart(5, '0')}`);
  const stores = [['fs', { SCALE_STORE: 'fs', SCALE_DIR: `${work}/storm-keys` }]];
  if (vault) stores.push(['OpenBao K/V v2', { SCALE_STORE: 'vault', SCALE_VAULT_ADDR: vault.addr, SCALE_VAULT_TOKEN: vault.token }]);
  for (const [label, env] of stores) {
    const t0 = performance.now();
    if (env.SCALE_STORE === 'fs') {
      mkdirSync(env.SCALE_DIR, { recursive: true });
      for (const name of stormKeys) writeFileSync(`${env.SCALE_DIR}/${name}`, MasterKey.generate().encode(), { mode: 0o600 });
    } else {
      const store = await createKeyStore({
        type: 'vault',
        options: { endpoint: vault.addr, engine: 'secret', version: 'v2', token: vault.token, tls: { insecureSkipVerify: true } },
      });
      let j = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (j < stormKeys.length) await store.create(stormKeys[j++], MasterKey.generate().encode());
        }),
      );
      await store.close();
    }
    const populate = (performance.now() - t0) / 1000;
    const server = await start(env);
    const before = await server.stats();
    const paths = shuffled(stormKeys, 3).map((n) => `/v1/key/generate/${n}`);
    const run = await drive(server.port, 'PUT', paths, '{}');
    const after = await server.stats();
    await server.stop();
    rows.push({
      scenario: `cold-cache storm (${label})`,
      detail: `${stormKeys.length} keys, ${paths.length} generate requests, ${CONNECTIONS} connections`,
      requests: paths.length,
      errors: run.errors,
      rps: paths.length / run.seconds,
      storeReads: after.get - before.get,
      target: `key-store reads = ${stormKeys.length}`,
      met: after.get - before.get === stormKeys.length && run.errors === 0,
      note: `populated in ${populate.toFixed(1)} s; RSS ${after.rssMiB.toFixed(0)} MiB after`,
    });
  }

  // ---- 100,000 keys: listing, then all of them cached ------------------------------
  const dir = `${work}/many-keys`;
  mkdirSync(dir, { recursive: true });
  const value = MasterKey.generate().encode();
  const many = Array.from({ length: 100_000 }, (_, i) => `k-${String(i).padStart(5, '0')}`);
  for (const name of many) writeFileSync(`${dir}/${name}`, value, { mode: 0o600 });
  // Each in a fresh process: RSS seldom shrinks, so one scenario would inflate the next.
  let server = await start({ SCALE_STORE: 'fs', SCALE_DIR: dir });
  await call(server.port, 'GET', '/v1/status');
  const idle = await server.stats();
  let listed = 0;
  const l0 = performance.now();
  for (let d = 0; d < 10; d++) {
    const r = await call(server.port, 'GET', `/v1/key/list/k-${d}`);
    listed += JSON.parse(r.body.toString()).names.length;
  }
  const listSeconds = (performance.now() - l0) / 1000;
  const afterList = await server.stats();
  await server.stop();
  rows.push({
    scenario: 'listing 100,000 keys (fs)',
    detail: '10 prefixes × 10,000 names, one reply each',
    requests: 10,
    errors: listed === many.length ? 0 : 1,
    rps: 10 / listSeconds,
    peakAboveIdleMiB: afterList.peakRssMiB - idle.rssMiB,
    target: 'peak RSS < idle + 100 MiB',
    met: listed === many.length && afterList.peakRssMiB - idle.rssMiB < 100,
    note: `${listed} names in ${listSeconds.toFixed(1)} s; idle RSS ${idle.rssMiB.toFixed(0)} MiB, peak ${afterList.peakRssMiB.toFixed(0)} MiB`,
  });

  server = await start({ SCALE_STORE: 'fs', SCALE_DIR: dir });
  await call(server.port, 'GET', '/v1/status');
  const idle2 = await server.stats();
  const run = await drive(
    server.port,
    'GET',
    many.map((n) => `/v1/key/describe/${n}`),
  );
  const cached = await server.stats();
  // What the process holds once V8 and the allocator have settled (no load for 10 s).
  await new Promise((r) => setTimeout(r, 10_000));
  const settled = await server.stats();
  await server.stop();
  rows.push({
    scenario: 'RSS with 100,000 keys cached (fs, 1 worker)',
    detail: `each key described once, ${CONNECTIONS} connections`,
    requests: many.length,
    errors: run.errors,
    rps: many.length / run.seconds,
    rssMiB: cached.rssMiB,
    target: 'RSS < 200 MiB per worker',
    met: cached.rssMiB < 200 && run.errors === 0,
    note: `idle ${idle2.rssMiB.toFixed(0)} MiB; ${cached.get - idle2.get} key-store reads; heap ${cached.heapMiB.toFixed(0)} MiB after GC (V8 holds ${cached.heapTotalMiB.toFixed(0)} MiB); RSS ${settled.rssMiB.toFixed(0)} MiB after 10 s idle`,
  });
  agent.destroy();

  const f = (x, d = 0) => (x === undefined ? '' : Number(x).toFixed(d));
  const md = [
    '| scale scenario | load | req/s | errors | key-store reads | RSS / peak above idle MiB | target | met | notes |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.detail} | ${f(r.rps)} | ${r.errors} | ${f(r.storeReads)} | ${f(r.rssMiB ?? r.peakAboveIdleMiB)} | ${r.target} | ${r.met ? 'yes' : '**no**'} | ${r.note} |`,
    ),
  ].join('\n');
  return { rows, md };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const work = `${root}.cache/bench/scale-${process.pid}-${randomBytes(3).toString('hex')}`;
  const vault = process.env.KES_BENCH_VAULT_ADDR ? { addr: process.env.KES_BENCH_VAULT_ADDR, token: process.env.KES_BENCH_VAULT_TOKEN } : undefined;
  const { md } = await runScale({ work, vault });
  console.log(md);
  process.exit(0);
}
