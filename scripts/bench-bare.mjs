// Child process of scripts/bench.mjs: the ceiling. A bare node:https server (mTLS: a
// client certificate is requested, as kes-ts does) that answers every request with a
// reply of the size kes-ts sends for the same route, without any KES logic.
// BENCH_WORKERS=N runs N node:cluster workers sharing the port. Prints {"port"} when ready.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { createSelfSignedCertificate } from '@kes/core';

const workers = Number(process.env.BENCH_WORKERS ?? 1);
const b64 = (n) => randomBytes(n).toString('base64');
// Same shapes and sizes as kes-ts replies (generate: 32-byte key + sealed DEK; decrypt: the key).
const GENERATE = `{"plaintext":"${b64(32)}","ciphertext":"${b64(92)}"}\n`;
const DECRYPT = `{"plaintext":"${b64(32)}"}\n`;

if (cluster.isPrimary && workers > 1) {
  let up = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', (_w, a) => {
    if (++up === workers) process.stdout.write(`${JSON.stringify({ port: a.port })}\n`);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  });
} else {
  // Each worker makes its own certificate; the bench client does not verify it.
  const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const server = https.createServer(
    { cert: cert.certificatePem, key: cert.privateKeyPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        const body = req.url.includes('decrypt') ? DECRYPT : GENERATE;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
    },
  );
  server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
