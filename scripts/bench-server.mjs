// Child process of scripts/bench.mjs: a kes-ts server with an in-memory key store
// on 127.0.0.1, port 0. Prints one JSON line {port, apiKey} when ready.
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';

const admin = ApiKey.generate();
const tlsCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const server = await createKesServer({
  admin: admin.identity,
  keyStore: createMemoryKeyStore(),
  tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem, http2: process.env.KES_BENCH_H2 === '1' },
  log: { error: 'off', audit: 'off' },
});
const { port } = await server.listen(0, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ port, apiKey: admin.toString() })}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
